package ws

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gobwas/ws"

	"github.com/parley-chat/parley/stomp"
)

// pollState is what an established socket keeps between readiness events: the WebSocket
// frame being read, nothing else. Read buffers belong to the poll loops and STOMP decoders
// to a pool, so a socket that is idle between frames holds neither.
type pollState struct {
	raw   syscall.RawConn
	loop  atomic.Pointer[pollLoop]
	token uint64 // the poll loop's key for this socket

	hdr     [ws.MaxHeaderSize]byte // a header split across reads
	hdrN    uint8
	inFrame bool
	op      ws.OpCode
	left    int64 // payload bytes of the current frame still to come
	mask    [4]byte
	moff    int    // position in the mask
	ctrl    []byte // a control frame's payload, gathered

	lastRead  atomic.Int64 // unix nanos
	draining  atomic.Bool  // frames wait for the session on a goroutine; the loop ignores the socket
	closeOnce sync.Once
}

// errClosing: the client's close frame was read; the reply and the session's close follow.
var errClosing = errors.New("websocket closing")

// startPolling hands an established session's socket to the poller and reports whether it
// did; when it did not (not a TCP socket, no poller), the caller keeps reading on its
// goroutine. Bytes that arrived behind CONNECT are handled first, here, where waiting on the
// session is allowed.
func (c *socket) startPolling() bool {
	tc, ok := c.conn.(*net.TCPConn)
	if !ok || c.h.poll == nil {
		return false
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return false
	}
	c.ps.raw = raw
	if n := c.br.Buffered(); n > 0 {
		p, _ := c.br.Peek(n)
		rest := bytes.Clone(p)
		_, _ = c.br.Discard(n)
		if _, _, err := c.consume(rest, true); err != nil {
			c.pollFailed(err)
			return true
		}
	}
	c.releaseReader()
	c.releaseDecoder()
	_ = c.conn.SetReadDeadline(time.Time{})
	c.ps.lastRead.Store(time.Now().UnixNano())
	c.wire.owner.Store(c)
	if err := c.h.poll.attach(c); err != nil {
		c.wire.owner.Store(nil)
		c.h.log.Warn("poller refused a socket: reading it on a goroutine", "err", err)
		c.br = c.h.newReader(c.conn)
		return false
	}
	return true
}

// readable is called by the socket's poll loop when bytes have arrived, or the peer has
// hung up (hup). Edge-triggered: a read that leaves bytes behind must have the socket
// reported again (see poller).
func (c *socket) readable(buf []byte, hup bool) {
	if c.ps.draining.Load() {
		return // drainBlocked re-registers the socket when the session has caught up
	}
	for {
		n, err := readRaw(c, buf)
		switch {
		case n > 0:
			c.ps.lastRead.Store(time.Now().UnixNano())
			rest, blocked, err := c.consume(buf[:n], false)
			if err != nil {
				c.pollFailed(err)
				return
			}
			if blocked != nil {
				c.ps.draining.Store(true)
				go c.drainBlocked(blocked, bytes.Clone(rest))
				return
			}
			c.releaseDecoder()
			switch {
			case n == len(buf):
				c.rearm() // more may wait: report it again, after the loop's other sockets
				return
			case !hup:
				return // the socket is empty: the next bytes raise the next event
			}
			// The peer hung up after these bytes: read on to the end of the stream.
		case isAgain(err):
			return
		default:
			c.pollFailed(io.EOF)
			return
		}
	}
}

func (c *socket) rearm() {
	if l := c.ps.loop.Load(); l != nil {
		l.arm(c)
	}
}

// drainBlocked waits for the session to take the frames it could not take at once, then
// has the socket reported again. Its loop ignores it meanwhile, so a client that sends
// faster than its session handles fills its TCP window, not our memory.
func (c *socket) drainBlocked(f *stomp.Frame, rest []byte) {
	c.sess.Handle(f)
	if _, err := c.dispatch(true); err != nil {
		c.pollFailed(err)
		return
	}
	if _, _, err := c.consume(rest, true); err != nil {
		c.pollFailed(err)
		return
	}
	c.releaseDecoder()
	c.ps.lastRead.Store(time.Now().UnixNano())
	c.ps.draining.Store(false)
	c.rearm()
}

// consume reads WebSocket frames from p (which it unmasks in place) and hands the STOMP
// frames they carry to the session. Unless block, it stops at the first frame the session
// cannot take without waiting and returns that frame and the bytes after it.
func (c *socket) consume(p []byte, block bool) (rest []byte, blocked *stomp.Frame, err error) {
	ps := &c.ps
	for len(p) > 0 {
		if !ps.inFrame {
			n, err := c.readHeader(p)
			if err != nil {
				return nil, nil, err
			}
			p = p[n:]
			if !ps.inFrame {
				return nil, nil, nil // the header goes on in the next read
			}
			if ps.left > 0 {
				continue
			}
			ps.inFrame = false
			if ps.op.IsControl() {
				if err := c.pollControl(ps.op, nil); err != nil {
					return nil, nil, err
				}
			}
			continue
		}
		k := int(min(ps.left, int64(len(p))))
		chunk := p[:k]
		p = p[k:]
		ws.Cipher(chunk, ps.mask, ps.moff)
		ps.moff += k
		ps.left -= int64(k)
		if ps.left == 0 {
			ps.inFrame = false
		}
		if ps.op.IsControl() {
			ps.ctrl = append(ps.ctrl, chunk...)
			if ps.left == 0 {
				ctrl := ps.ctrl
				ps.ctrl = nil
				if err := c.pollControl(ps.op, ctrl); err != nil {
					return nil, nil, err
				}
			}
			continue
		}
		c.decoder().Feed(chunk)
		f, err := c.dispatch(block)
		if err != nil || f != nil {
			return p, f, err
		}
	}
	return nil, nil, nil
}

// dispatch hands every whole frame the decoder holds to the session. Unless block, it stops
// at the first one the session cannot take at once and returns it.
func (c *socket) dispatch(block bool) (*stomp.Frame, error) {
	if c.dec == nil {
		return nil, nil
	}
	for {
		f, err := c.dec.Next()
		if err != nil || f == nil {
			return nil, err
		}
		if block {
			c.sess.Handle(f)
		} else if !c.sess.TryHandle(f) {
			return f, nil
		}
	}
}

// readHeader takes header bytes from p until the header is whole (ps.inFrame) or p is used
// up, and checks the header as the goroutine reader does.
func (c *socket) readHeader(p []byte) (int, error) {
	ps := &c.ps
	used := 0
	need := 2
	if ps.hdrN >= 2 {
		need = headerSize(ps.hdr[1])
	}
	for int(ps.hdrN) < need {
		if used == len(p) {
			return used, nil
		}
		ps.hdr[ps.hdrN] = p[used]
		ps.hdrN++
		used++
		if ps.hdrN == 2 {
			need = headerSize(ps.hdr[1])
		}
	}
	b := ps.hdr[:ps.hdrN]
	ps.hdrN = 0
	h := ws.Header{Fin: b[0]&0x80 != 0, Rsv: b[0] >> 4 & 0x7, OpCode: ws.OpCode(b[0] & 0x0f), Masked: b[1]&0x80 != 0}
	i := 2
	switch l := b[1] & 0x7f; l {
	case 126:
		h.Length, i = int64(binary.BigEndian.Uint16(b[2:])), 4
	case 127:
		h.Length, i = int64(binary.BigEndian.Uint64(b[2:])), 10
		if h.Length < 0 {
			return used, errProtocol
		}
	default:
		h.Length = int64(l)
	}
	if h.Masked {
		copy(h.Mask[:], b[i:])
	}
	if err := checkClientHeader(h, c.state, c.h.cfg.MaxFrameBytes); err != nil {
		return used, err
	}
	if !h.OpCode.IsControl() {
		if h.Fin {
			c.state = c.state.Clear(ws.StateFragmented)
		} else {
			c.state = c.state.Set(ws.StateFragmented)
		}
	}
	ps.inFrame, ps.op, ps.left, ps.mask, ps.moff = true, h.OpCode, h.Length, h.Mask, 0
	return used, nil
}

// headerSize is a client frame header's length, known from its second byte.
func headerSize(b1 byte) int {
	n := 2
	switch b1 & 0x7f {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	if b1&0x80 != 0 {
		n += 4
	}
	return n
}

// pollControl answers a ping or a close. Their writes may wait on the socket, which a poll
// loop must not, so they go out from a goroutine of their own.
func (c *socket) pollControl(op ws.OpCode, p []byte) error {
	switch op {
	case ws.OpPing:
		go func() { _ = c.wire.control(ws.OpPong, p) }()
	case ws.OpClose:
		echo := closeEcho(p)
		go func() {
			_ = c.wire.control(ws.OpClose, echo)
			c.sess.Close()
		}()
		return errClosing
	}
	return nil
}

// pollFailed ends reading as the goroutine reader does when its loop returns: ERROR first
// when the stream cannot be resynchronised, then the session is closed.
func (c *socket) pollFailed(err error) {
	switch {
	case errors.Is(err, errClosing):
	case isUnrecoverable(err):
		c.sess.Fail(clientError(err))
		time.AfterFunc(c.h.cfg.HandshakeTimeout, c.sess.Close)
	default:
		c.sess.Close()
	}
}

// closeHook runs when the wire is closed, by either side: the poll loop forgets the socket
// and the session is closed (off this call stack, which may be the session's own close).
func (c *socket) closeHook() {
	c.ps.closeOnce.Do(func() {
		if l := c.ps.loop.Load(); l != nil {
			l.detach(c)
		}
		go c.sess.Close()
	})
}

// silent reports a session whose client has sent nothing for twice its heart-beat interval
// (the poll loops sweep for them; a timer each would cost every socket its memory).
func (c *socket) silent(now int64) bool {
	return c.timeout > 0 && !c.ps.draining.Load() && now-c.ps.lastRead.Load() >= int64(c.timeout)
}
