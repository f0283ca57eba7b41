//go:build !linux

package stompclient

import "errors"

// Poller is Linux only; elsewhere every Client keeps its read goroutine.
type Poller struct{}

// ErrPollerClosed ends the Clients still attached when their Poller is closed.
var ErrPollerClosed = errors.New("stomp: poller closed")

// NewPoller returns a Poller that Dial ignores off Linux.
func NewPoller(int) (*Poller, error) { return &Poller{}, nil }

// Close does nothing off Linux.
func (p *Poller) Close() error { return nil }

type polled struct{}

func (p *Poller) attach(*Client) error { return errors.ErrUnsupported }

func (pd *polled) shutdown() {}

func (p *Poller) attached() int { return 0 }
