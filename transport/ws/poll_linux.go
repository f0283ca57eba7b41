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

	"github.com/parley-chat/parley/internal/epoll"
)

// poller reads established sessions' sockets from a few epoll loops instead of a goroutine
// per socket. A parked goroutine costs its stack (8 KiB once CONNECT's authentication and
// database calls have grown it) and its read buffer; an idle socket here costs neither:
// a loop reads into its own buffer and the socket keeps only a partial frame header, if
// any. Each socket belongs to one loop and is registered edge-triggered: a readiness event
// comes when bytes arrive, the loop reads once, and nothing has to re-arm the socket after
// a read that left it empty (a one-shot registration cost an epoll_ctl per read: 6.5 % of
// the node's CPU in the hot-channel benchmark). A read that filled the buffer, and the end
// of a saturated session's drain, re-register it (EPOLL_CTL_MOD), which reports it again if
// bytes are still waiting; while a saturated session drains on its goroutine the loop
// ignores the socket's events, so the client fills its TCP window, not our memory.
// stompclient's Poller shares internal/epoll.Set but not this loop: its policy differs (ADR 0029).
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
	set     *epoll.Set // while running
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

// start creates the epoll set and starts the goroutine; l.mu held.
func (l *pollLoop) start() error {
	set, err := epoll.New()
	if err != nil {
		return fmt.Errorf("ws: poller: %w", err)
	}
	l.set, l.running = set, true
	go l.run(set)
	return nil
}

// arm re-registers c, which makes epoll report it again if it is readable now; errors
// mean the socket is closed already.
func (l *pollLoop) arm(c *socket) { _ = l.ctl(c, syscall.EPOLL_CTL_MOD) }

func (l *pollLoop) ctl(c *socket, op int) error {
	const events = syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLET&0xffffffff // EPOLLET is negative in package syscall
	if op == syscall.EPOLL_CTL_ADD {
		return l.set.Add(c.ps.raw, events, c.ps.token)
	}
	return l.set.Modify(c.ps.raw, events, c.ps.token)
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
	l.set.Remove(c.ps.raw)
	l.stopIfEmptyLocked()
}

func (l *pollLoop) stopIfEmptyLocked() {
	if len(l.socks) == 0 && l.running {
		l.set.Wake()
	}
}

// sweepEvery is how often a loop looks for clients silent beyond their heart-beat timeout.
const sweepEvery = time.Second

// run reads the sockets the set reports ready, and sweeps for silent clients every
// sweepEvery, until the loop has no socket left.
func (l *pollLoop) run(set *epoll.Set) {
	events := make([]syscall.EpollEvent, 128)
	buf := make([]byte, pollReadBuffer)
	lastSweep := time.Now()
	for {
		n, err := set.Wait(events, lastSweep.Add(sweepEvery))
		if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			panic(fmt.Sprintf("ws: epoll wait: %v", err)) // EBADF/EINVAL: a bug here
		}
		for i := range n {
			l.mu.Lock()
			c := l.socks[epoll.Token(&events[i])]
			l.mu.Unlock()
			if c != nil {
				c.readable(buf, events[i].Events&(syscall.EPOLLRDHUP|syscall.EPOLLHUP|syscall.EPOLLERR) != 0)
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
			_ = set.Close()
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
