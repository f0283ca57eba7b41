//go:build linux

package epoll

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
)

// Set is an epoll instance and a wake pipe. Sockets are registered under a token, never
// their descriptor: a closed descriptor's number can be given to a new socket before a
// stale event for the old one is handled. Token 0 is the wake pipe's.
type Set struct {
	ep   *os.File // owns the epoll descriptor
	rc   syscall.RawConn
	fd   int
	wake [2]int
	// deadline is the one set on ep: the node's loop waits many times under one deadline,
	// and setting it again would re-arm a runtime timer each time.
	deadline time.Time
}

// New creates a Set. Its Wait must be called from one goroutine at a time.
func New() (*Set, error) {
	fd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll: create: %w", err)
	}
	s := &Set{fd: fd}
	if err := syscall.Pipe2(s.wake[:], syscall.O_CLOEXEC|syscall.O_NONBLOCK); err != nil {
		_ = syscall.Close(fd)
		return nil, fmt.Errorf("epoll: wake pipe: %w", err)
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN} // token 0
	if err := syscall.EpollCtl(fd, syscall.EPOLL_CTL_ADD, s.wake[0], &ev); err != nil {
		closeFDs(fd, s.wake[0], s.wake[1])
		return nil, fmt.Errorf("epoll: add wake pipe: %w", err)
	}
	if err := syscall.SetNonblock(fd, true); err != nil {
		closeFDs(fd, s.wake[0], s.wake[1])
		return nil, fmt.Errorf("epoll: %w", err)
	}
	s.ep = os.NewFile(uintptr(fd), "epoll")
	if s.rc, err = s.ep.SyscallConn(); err != nil {
		_ = s.ep.Close()
		closeFDs(s.wake[0], s.wake[1])
		return nil, fmt.Errorf("epoll: %w", err)
	}
	return s, nil
}

// Add registers a socket for events under tok (> 0).
func (s *Set) Add(raw syscall.RawConn, events uint32, tok uint64) error {
	return s.ctl(raw, syscall.EPOLL_CTL_ADD, events, tok)
}

// Modify re-registers a socket, e.g. to re-arm a one-shot one.
func (s *Set) Modify(raw syscall.RawConn, events uint32, tok uint64) error {
	return s.ctl(raw, syscall.EPOLL_CTL_MOD, events, tok)
}

func (s *Set) ctl(raw syscall.RawConn, op int, events uint32, tok uint64) error {
	if tok == 0 {
		return errors.New("epoll: token 0 is the wake pipe's")
	}
	ev := syscall.EpollEvent{Events: events}
	ev.Fd, ev.Pad = int32(uint32(tok)), int32(uint32(tok>>32))
	var ctlErr error
	err := raw.Control(func(fd uintptr) { ctlErr = syscall.EpollCtl(s.fd, op, int(fd), &ev) })
	return errors.Join(err, ctlErr)
}

// Remove takes a socket out of the set; before closing it, so that no event for its
// descriptor's number can name a later socket.
func (s *Set) Remove(raw syscall.RawConn) {
	_ = raw.Control(func(fd uintptr) { _ = syscall.EpollCtl(s.fd, syscall.EPOLL_CTL_DEL, int(fd), nil) })
}

// Wake makes the current or next Wait return. Not after Close.
func (s *Set) Wake() { _, _ = syscall.Write(s.wake[1], []byte{1}) }

// Wait fills events with the ready sockets (Token names each) and returns how many. It
// parks in the Go runtime's netpoller, not in epoll_wait: blocking in epoll_wait kept a
// processor in a system call until sysmon took it back, and under load that starved the
// rest of the node of processors (ADR 0008). It returns when a socket is ready, on Wake
// (perhaps with n = 0) or at deadline (os.ErrDeadlineExceeded; zero: none).
func (s *Set) Wait(events []syscall.EpollEvent, deadline time.Time) (n int, err error) {
	if !deadline.Equal(s.deadline) {
		if err := s.ep.SetReadDeadline(deadline); err != nil {
			return 0, fmt.Errorf("epoll: %w", err)
		}
		s.deadline = deadline
	}
	var werr error
	err = s.rc.Read(func(fd uintptr) bool {
		n, werr = syscall.EpollWait(int(fd), events, 0)
		if errors.Is(werr, syscall.EINTR) {
			n, werr = 0, nil
		}
		return n != 0 || werr != nil // none ready: park until the epoll fd is readable
	})
	if err == nil {
		err = werr
	}
	if err != nil {
		return 0, err
	}
	k := 0
	for i := range n {
		if Token(&events[i]) == 0 {
			var drain [64]byte
			_, _ = syscall.Read(s.wake[0], drain[:])
			continue
		}
		events[k] = events[i]
		k++
	}
	return k, nil
}

// Token is the token an event's socket was registered under.
func Token(ev *syscall.EpollEvent) uint64 {
	return uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
}

// Close closes the set and its pipe. The sockets still registered are not closed.
func (s *Set) Close() error {
	closeFDs(s.wake[0], s.wake[1])
	return s.ep.Close()
}

func closeFDs(fds ...int) {
	for _, fd := range fds {
		_ = syscall.Close(fd)
	}
}
