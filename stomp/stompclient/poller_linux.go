//go:build linux

package stompclient

import (
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/parley-chat/parley/internal/epoll"
)

// Poller reads many Clients' sockets from a few epoll loops instead of a goroutine per
// Client (ClientOptions.Poller). A load generator holding 10,000 connections otherwise pays,
// for every message, a goroutine wake-up, a read that finds the data and a read that finds
// none before the goroutine parks again; a loop pays one read per ready socket, and its
// process has 10,000 fewer stacks for the garbage collector to scan. Sockets are
// level-triggered and each belongs to one loop, so one goroutine reads it at a time. The node's
// poller (transport/ws) shares internal/epoll.Set but not this loop: its policy differs (ADR 0029).
type Poller struct {
	loops []*pollLoop
	next  atomic.Uint32
	once  sync.Once
}

// ErrPollerClosed ends the Clients still attached when their Poller is closed.
var ErrPollerClosed = errors.New("stomp: poller closed")

// pollReadBuffer is each loop's read buffer: one read takes at most this much of a socket.
const pollReadBuffer = 32 << 10

// NewPoller starts n loops; n ≤ 0 means one per GOMAXPROCS.
func NewPoller(n int) (*Poller, error) {
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	p := &Poller{}
	for range n {
		l, err := newPollLoop()
		if err != nil {
			_ = p.Close()
			return nil, err
		}
		p.loops = append(p.loops, l)
	}
	return p, nil
}

// Close stops the loops and waits for them; Clients still attached end with ErrPollerClosed.
// It is idempotent.
func (p *Poller) Close() error {
	p.once.Do(func() {
		for _, l := range p.loops {
			l.mu.Lock()
			l.closing = true
			l.mu.Unlock()
			l.set.Wake()
		}
		for _, l := range p.loops {
			<-l.done
		}
	})
	return nil
}

// polled is a Client's place in a Poller.
type polled struct {
	loop *pollLoop
	tok  uint64
	raw  syscall.RawConn
}

// attach hands c's socket to one of the loops; c.wg counts it until the loop finishes c.
func (p *Poller) attach(c *Client) error {
	sc, ok := c.conn.(syscall.Conn)
	if !ok {
		return fmt.Errorf("stomp: poller: %T has no file descriptor", c.conn)
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return fmt.Errorf("stomp: poller: %w", err)
	}
	l := p.loops[int(p.next.Add(1))%len(p.loops)]
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closing {
		return ErrPollerClosed
	}
	l.nextTok++
	pd := &polled{loop: l, tok: l.nextTok, raw: raw}
	if err := l.set.Add(raw, syscall.EPOLLIN|syscall.EPOLLRDHUP, pd.tok); err != nil {
		return fmt.Errorf("stomp: poller: %w", err)
	}
	c.polled = pd
	c.wg.Add(1)
	l.clients[pd.tok] = c
	return nil
}

// shutdown ends the connection without closing the socket: it stays in its loop's epoll set,
// turns readable (end of stream), and the loop finishes the Client and closes it. Closing it
// here instead would drop it from the set silently, and nothing would ever finish the Client.
func (pd *polled) shutdown() {
	_ = pd.raw.Control(func(fd uintptr) { _ = syscall.Shutdown(int(fd), syscall.SHUT_RDWR) })
}

// pollLoop is one epoll set and the goroutine that waits on it.
type pollLoop struct {
	set     *epoll.Set
	done    chan struct{}
	mu      sync.Mutex
	clients map[uint64]*Client
	nextTok uint64
	closing bool
}

func newPollLoop() (*pollLoop, error) {
	set, err := epoll.New()
	if err != nil {
		return nil, fmt.Errorf("stomp: poller: %w", err)
	}
	l := &pollLoop{set: set, done: make(chan struct{}), clients: make(map[uint64]*Client)}
	go l.run()
	return l, nil
}

// run reads the sockets the set reports ready until the Poller closes.
func (l *pollLoop) run() {
	defer close(l.done)
	events := make([]syscall.EpollEvent, 128)
	buf := make([]byte, pollReadBuffer)
	for {
		n, err := l.set.Wait(events, time.Time{})
		if err != nil {
			panic(fmt.Sprintf("stomp: epoll wait: %v", err)) // EBADF/EINVAL: a bug here
		}
		for i := range n {
			l.mu.Lock()
			c := l.clients[epoll.Token(&events[i])]
			l.mu.Unlock()
			if c != nil {
				c.pollRead(buf)
			}
		}
		l.mu.Lock()
		closing := l.closing
		l.mu.Unlock()
		if closing {
			l.finishAll()
			_ = l.set.Close()
			return
		}
	}
}

// finishAll ends the Clients still attached when the Poller closes.
func (l *pollLoop) finishAll() {
	l.mu.Lock()
	left := make([]*Client, 0, len(l.clients))
	for _, c := range l.clients {
		left = append(left, c)
	}
	l.mu.Unlock()
	for _, c := range left {
		c.fail(ErrPollerClosed)
		c.pollFinish(ErrPollerClosed)
	}
}

// pollRead reads what c's socket has and parses it; on the end of the stream or any error
// the loop finishes c.
func (c *Client) pollRead(buf []byte) {
	var n int
	var rerr error
	err := c.polled.raw.Read(func(fd uintptr) bool {
		n, rerr = syscall.Read(int(fd), buf)
		return true // never wait: the loop was told the socket is readable
	})
	now := time.Now()
	if err == nil {
		err = rerr
	}
	switch {
	case errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EINTR):
		return
	case err == nil && n == 0:
		err = io.EOF
	case err == nil:
		err = c.consume(buf[:n], now)
	}
	if err != nil {
		c.pollFinish(err)
	}
}

// pollFinish takes c out of its loop, then closes and finishes it: after EPOLL_CTL_DEL, so
// that a new socket given the same fd number is not read as c's.
func (c *Client) pollFinish(err error) {
	pd := c.polled
	l := pd.loop
	l.mu.Lock()
	if l.clients[pd.tok] != c {
		l.mu.Unlock()
		return
	}
	delete(l.clients, pd.tok)
	l.set.Remove(pd.raw)
	l.mu.Unlock()
	c.finish(err)
	c.wg.Done()
}

// attached counts the Clients the loops hold (tests).
func (p *Poller) attached() int {
	n := 0
	for _, l := range p.loops {
		l.mu.Lock()
		n += len(l.clients)
		l.mu.Unlock()
	}
	return n
}
