package ws

import (
	"net"
	"syscall"
	"unsafe"
)

// rawConnOf returns conn's descriptor for the non-blocking write path, or nil when conn
// has none (TLS terminated in process, net.Pipe in tests): those sockets always block.
func rawConnOf(conn net.Conn) syscall.RawConn {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return nil
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return raw
}

type iovec = syscall.Iovec

// maxIovecs is Linux's IOV_MAX: a longer write is cut there and the rest kept as pending.
const maxIovecs = 1024

// writevCall makes one writev(2) on a non-blocking descriptor. RawConn.Write takes a
// closure, and one capturing the call's results escaped to the heap at every write: two
// allocations per write, 8 % of a busy node's garbage (ADR 0013).
// A writevCall lives in the pooled wireScratch with its method value bound once.
type writevCall struct {
	iov   []iovec
	n     uintptr
	errno syscall.Errno
	fn    func(fd uintptr) bool // c.writev
}

// write makes one writev(2) of bufs and returns what the socket took; a full socket buffer
// is 0 bytes, not an error. It never waits.
func (c *writevCall) write(raw syscall.RawConn, bufs [][]byte) (int, error) {
	c.iov = c.iov[:0]
	for _, b := range bufs {
		if len(b) == 0 {
			continue
		}
		if len(c.iov) == maxIovecs {
			break
		}
		v := syscall.Iovec{Base: &b[0]}
		v.SetLen(len(b))
		c.iov = append(c.iov, v)
	}
	if len(c.iov) == 0 {
		return 0, nil
	}
	if c.fn == nil {
		c.fn = c.writev
	}
	err := raw.Write(c.fn)
	clear(c.iov) // the iovecs point into the caller's buffers; a pooled scratch must not pin them
	switch {
	case err != nil:
		return 0, err
	case c.errno == syscall.EAGAIN:
		return 0, nil
	case c.errno != 0:
		return 0, c.errno
	}
	return int(c.n), nil
}

func (c *writevCall) writev(fd uintptr) bool {
	for {
		c.n, _, c.errno = syscall.Syscall(syscall.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&c.iov[0])), uintptr(len(c.iov)))
		if c.errno != syscall.EINTR {
			return true // done, even on EAGAIN: the caller keeps the rest instead of waiting
		}
	}
}

// pooled reports whether the call's iovec array is small enough to keep.
func (c *writevCall) pooled() bool { return cap(c.iov) <= maxIovecs }
