//go:build !linux

package ws

import (
	"errors"
	"net"
	"syscall"
)

// Off Linux there is no non-blocking write path: every write waits (socket.go).
type writevCall struct{}

func rawConnOf(net.Conn) syscall.RawConn { return nil }

func (*writevCall) write(syscall.RawConn, [][]byte) (int, error) { return 0, errors.ErrUnsupported }

func (*writevCall) pooled() bool { return true }
