//go:build !linux

package ws

import (
	"errors"
	"net"
	"syscall"
)

// Off Linux there is no non-blocking write path: every write waits (socket.go).
type iovec struct{}

func rawConnOf(net.Conn) syscall.RawConn { return nil }

func writevNow(syscall.RawConn, []iovec, [][]byte) (int, []iovec, error) {
	return 0, nil, errors.ErrUnsupported
}
