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

// writevNow makes one writev(2) of bufs on the non-blocking descriptor and returns what
// the socket took; a full socket buffer is 0 bytes, not an error. It never waits.
func writevNow(raw syscall.RawConn, iov []iovec, bufs [][]byte) (int, []iovec, error) {
	iov = iov[:0]
	for _, b := range bufs {
		if len(b) == 0 {
			continue
		}
		if len(iov) == maxIovecs {
			break
		}
		v := syscall.Iovec{Base: &b[0]}
		v.SetLen(len(b))
		iov = append(iov, v)
	}
	if len(iov) == 0 {
		return 0, iov, nil
	}
	var n uintptr
	var errno syscall.Errno
	err := raw.Write(func(fd uintptr) bool {
		for {
			n, _, errno = syscall.Syscall(syscall.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&iov[0])), uintptr(len(iov)))
			if errno != syscall.EINTR {
				return true // done, even on EAGAIN: the caller keeps the rest instead of waiting
			}
		}
	})
	clear(iov) // the iovecs point into the caller's buffers; a pooled scratch must not pin them
	switch {
	case err != nil:
		return 0, iov, err
	case errno == syscall.EAGAIN:
		return 0, iov, nil
	case errno != 0:
		return 0, iov, errno
	}
	return int(n), iov, nil
}
