//go:build !linux

package ws

import "errors"

// Off Linux every session keeps its read goroutine: there is no poller.
type poller struct{}

type pollLoop struct{}

func newPoller() *poller { return nil }

func (p *poller) attach(*socket) error { return errors.New("ws: no poller on this platform") }

func (l *pollLoop) arm(*socket)    {}
func (l *pollLoop) detach(*socket) {}

func readRaw(*socket, []byte) (int, error) { return 0, errors.ErrUnsupported }

func isAgain(error) bool { return false }
