//go:build linux

package ws

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// poller reads established sessions' sockets from a few epoll loops instead of a goroutine
// per socket. A parked goroutine costs its stack (8 KiB once CONNECT's authentication and
// database calls have grown it) and its read buffer; an idle socket here costs neither:
// a loop reads into its own buffer and the socket keeps only a partial frame header, if
// any. Each socket is armed one-shot, so one loop handles it at a time and a socket whose
// session is saturated is simply not re-armed until it has caught up.
type poller struct {
	loops []*pollLoop
	next  atomic.Uint32
}

func newPoller() *poller {
	p := &poller{loops: make([]*pollLoop, runtime.GOMAXPROCS(0))}
	for i := range p.loops {
		p.loops[i] = &pollLoop{socks: make(map[uint64]*socket)}
	}
	return p
}

// pollReadBuffer is each loop's read buffer: one read takes at most this much of a socket.
const pollReadBuffer = 32 << 10

// pollLoop is one epoll instance and the goroutine that waits on it. The goroutine runs only
// while the loop has sockets (so a Handler with no sessions leaves nothing running); a pipe
// wakes it when the last one leaves.
type pollLoop struct {
	mu      sync.Mutex
	socks   map[uint64]*socket
	nextTok uint64
	running bool
	epfd    int
	wake    [2]int // pipe: token 0 in the epoll set
}

// attach registers c, already holding its session, with one of the loops.
func (p *poller) attach(c *socket) error {
	l := p.loops[int(p.next.Add(1))%len(p.loops)]
	return l.attach(c)
}

func (l *pollLoop) attach(c *socket) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.running {
		if err := l.start(); err != nil {
			return err
		}
	}
	l.nextTok++
	tok := l.nextTok
	c.ps.token = tok
	c.ps.loop.Store(l)
	l.socks[tok] = c
	if err := l.ctl(c, syscall.EPOLL_CTL_ADD); err != nil {
		delete(l.socks, tok)
		c.ps.loop.Store(nil)
		l.stopIfEmptyLocked()
		return err
	}
	return nil
}

// start creates the epoll instance and its wake pipe and starts the goroutine; l.mu held.
func (l *pollLoop) start() error {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return fmt.Errorf("ws: epoll: %w", err)
	}
	var wake [2]int
	if err := syscall.Pipe2(wake[:], syscall.O_CLOEXEC|syscall.O_NONBLOCK); err != nil {
		_ = syscall.Close(epfd)
		return fmt.Errorf("ws: poller pipe: %w", err)
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN}
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, wake[0], &ev); err != nil {
		closeAll(epfd, wake[0], wake[1])
		return fmt.Errorf("ws: epoll: %w", err)
	}
	l.epfd, l.wake, l.running = epfd, wake, true
	go l.run(epfd, wake)
	return nil
}

// arm (re-)enables one readiness event for c; errors mean the socket is closed already.
func (l *pollLoop) arm(c *socket) { _ = l.ctl(c, syscall.EPOLL_CTL_MOD) }

func (l *pollLoop) ctl(c *socket, op int) error {
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT}
	setToken(&ev, c.ps.token)
	var ctlErr error
	err := c.ps.raw.Control(func(fd uintptr) { ctlErr = syscall.EpollCtl(l.epfd, op, int(fd), &ev) })
	return errors.Join(err, ctlErr)
}

// detach forgets c; its socket is about to be closed (or is closed: the kernel has then
// dropped it from the epoll set already).
func (l *pollLoop) detach(c *socket) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.socks[c.ps.token] != c {
		return
	}
	delete(l.socks, c.ps.token)
	_ = c.ps.raw.Control(func(fd uintptr) { _ = syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_DEL, int(fd), nil) })
	l.stopIfEmptyLocked()
}

func (l *pollLoop) stopIfEmptyLocked() {
	if len(l.socks) == 0 && l.running {
		_, _ = syscall.Write(l.wake[1], []byte{1})
	}
}

// sweepEvery is how often a loop looks for clients silent beyond their heart-beat timeout.
const sweepEvery = time.Second

// run waits for readiness in the Go runtime's netpoller, not in epoll_wait: the epoll fd
// is itself pollable, so the goroutine parks like any reader and holds no P (processor)
// while idle. Blocking in epoll_wait instead kept a P in a system call until sysmon took it
// back, every time; under load (10,000 sessions, docs/BENCHMARKS.md) that starved the rest
// of the node of processors: pool hand-offs waited seconds while the CPU sat two-thirds idle.
func (l *pollLoop) run(epfd int, wake [2]int) {
	if err := syscall.SetNonblock(epfd, true); err != nil {
		panic(fmt.Sprintf("ws: epoll fd: %v", err))
	}
	ep := os.NewFile(uintptr(epfd), "epoll") // owns epfd from here: closed through ep
	rc, err := ep.SyscallConn()
	if err != nil {
		panic(fmt.Sprintf("ws: epoll fd: %v", err))
	}
	events := make([]syscall.EpollEvent, 128)
	buf := make([]byte, pollReadBuffer)
	lastSweep := time.Now()
	for {
		_ = ep.SetReadDeadline(lastSweep.Add(sweepEvery))
		n := 0
		err := rc.Read(func(fd uintptr) bool {
			var werr error
			n, werr = syscall.EpollWait(int(fd), events, 0)
			if werr != nil && !errors.Is(werr, syscall.EINTR) {
				panic(fmt.Sprintf("ws: epoll_wait: %v", werr)) // EBADF/EINVAL: a bug here
			}
			return n > 0 // none ready: park until the epoll fd is readable
		})
		if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			panic(fmt.Sprintf("ws: epoll wait: %v", err))
		}
		for i := range max(n, 0) {
			tok := token(&events[i])
			if tok == 0 {
				var drain [64]byte
				_, _ = syscall.Read(wake[0], drain[:])
				continue
			}
			l.mu.Lock()
			c := l.socks[tok]
			l.mu.Unlock()
			if c != nil {
				c.readable(buf)
			}
		}
		if now := time.Now(); now.Sub(lastSweep) >= sweepEvery {
			lastSweep = now
			l.sweep(now.UnixNano())
		}
		l.mu.Lock()
		if len(l.socks) == 0 {
			l.running = false
			l.mu.Unlock()
			_ = ep.Close()
			closeAll(wake[0], wake[1])
			return
		}
		l.mu.Unlock()
	}
}

// sweep closes the sessions whose clients have gone silent.
func (l *pollLoop) sweep(now int64) {
	var silent []*socket
	l.mu.Lock()
	for _, c := range l.socks {
		if c.silent(now) {
			silent = append(silent, c)
		}
	}
	l.mu.Unlock()
	for _, c := range silent {
		c.sess.Close() // its wire's close detaches it
	}
}

// The epoll event's 8 data bytes carry the socket's token, never its fd: a closed fd's
// number can be reused by a new socket before a stale event for the old one is handled.
func setToken(ev *syscall.EpollEvent, tok uint64) {
	ev.Fd, ev.Pad = int32(uint32(tok)), int32(uint32(tok>>32))
}

func token(ev *syscall.EpollEvent) uint64 {
	return uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
}

func closeAll(fds ...int) {
	for _, fd := range fds {
		_ = syscall.Close(fd)
	}
}

// readRaw reads what the socket has, without waiting: EAGAIN comes back as an error.
func readRaw(c *socket, buf []byte) (int, error) {
	var n int
	var rerr error
	err := c.ps.raw.Read(func(fd uintptr) bool {
		n, rerr = syscall.Read(int(fd), buf)
		return true
	})
	if err != nil {
		return 0, err
	}
	if rerr != nil {
		n = 0
	}
	return n, rerr
}

func isAgain(err error) bool { return errors.Is(err, syscall.EAGAIN) }
