package stompclient

import (
	"encoding/binary"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/gobwas/ws"

	"github.com/parley-chat/parley/stomp"
)

// readLoop reads the socket until the connection ends, unless a Poller does. WebSocket data
// frames (text, binary and continuations alike) are fed to one Decoder as a byte stream, so
// STOMP frames may be split across or batched within WebSocket messages.
func (c *Client) readLoop() {
	defer c.wg.Done()
	var err error
	for err == nil {
		if _, err = c.br.Peek(1); err != nil { // waits for bytes without asking for more than sent
			break
		}
		p, _ := c.br.Peek(c.br.Buffered())
		err = c.consume(p, time.Now())
		_, _ = c.br.Discard(len(p))
	}
	c.finish(err)
}

func (c *Client) dispatch(f *stomp.Frame, now time.Time) {
	switch f.Command {
	case stomp.CmdMessage:
		c.mu.Lock()
		s := c.subs[f.Value(stomp.HdrSubscription)]
		c.mu.Unlock()
		if s != nil {
			s.deliver(f, now)
		}
	case stomp.CmdReceipt:
		c.answer(f)
	case stomp.CmdError:
		c.mu.Lock()
		c.lastError = f
		c.mu.Unlock()
		select {
		case <-c.ready:
		default: // refused CONNECT: Dial returns this error whether or not the server closes
			c.fail(&ServerError{Frame: f})
			return
		}
		if c.answer(f) {
			return
		}
		if c.opts.OnError != nil {
			c.opts.OnError(f)
			return
		}
		select {
		case c.errs <- f:
		default:
		}
	case stomp.CmdConnected:
		select {
		case <-c.ready:
		default:
			c.connected = f
			close(c.ready)
		}
	}
}

// answer hands f to the request waiting for its receipt-id, reporting whether one was.
func (c *Client) answer(f *stomp.Frame) bool {
	id, ok := f.Get(stomp.HdrReceiptID)
	if !ok {
		return false
	}
	c.mu.Lock()
	w, ok := c.pending[id]
	delete(c.pending, id)
	c.mu.Unlock()
	if !ok {
		return false
	}
	if w.done != nil {
		var err error
		if f.Command == stomp.CmdError {
			err = &ServerError{Frame: f}
		}
		w.done(f, err)
		return true
	}
	w.ch <- f // buffered, one answer per receipt
	return true
}

// fail closes the connection for cause; the read goroutine then finishes with it.
func (c *Client) fail(cause error) {
	c.mu.Lock()
	if c.cause == nil {
		c.cause = cause
	}
	c.mu.Unlock()
	c.quitOnce.Do(func() { close(c.quit) })
	c.shutConn()
}

// finish runs once on the read goroutine when the connection has ended.
func (c *Client) finish(readErr error) {
	c.mu.Lock()
	switch {
	case c.cause != nil:
		c.err = c.cause
	case c.closing.Load():
		c.err = ErrClosed
	case c.lastError != nil:
		c.err = &ServerError{Frame: c.lastError}
	default:
		c.err = fmt.Errorf("stomp: connection lost: %w", readErr)
	}
	subs, pending, err := c.subs, c.pending, c.err
	c.subs, c.pending = nil, nil
	c.mu.Unlock()
	c.quitOnce.Do(func() { close(c.quit) })
	_ = c.conn.Close()
	close(c.closed)
	for _, s := range subs {
		s.close()
	}
	for _, w := range pending { // the channel waiters see closed
		if w.done != nil {
			w.done(nil, err)
		}
	}
}

// writeFrame encodes f behind room for a WebSocket header and writes it as one masked message.
func (c *Client) writeFrame(f *stomp.Frame) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	buf := stomp.AppendFrame(c.wbuf[:ws.MaxHeaderSize], f)
	op := ws.OpText
	if !utf8.Valid(buf[ws.MaxHeaderSize:]) {
		op = ws.OpBinary // a text message must be UTF-8; a body may be anything
	}
	err := c.writeMessage(op, buf)
	if cap(buf) <= 64<<10 {
		c.wbuf = buf[:0]
	}
	return err
}

// writeControl writes a small message: a control frame, or a heart-beat EOL.
func (c *Client) writeControl(op ws.OpCode, payload []byte) error {
	var arr [ws.MaxHeaderSize + ws.MaxControlFramePayloadSize]byte
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.writeMessage(op, append(arr[:ws.MaxHeaderSize], payload...))
}

// writeMessage writes buf[ws.MaxHeaderSize:] as a masked client frame, building the header in
// the room reserved before it so that the frame goes out in one write. Callers hold wmu.
func (c *Client) writeMessage(op ws.OpCode, buf []byte) error {
	select {
	case <-c.quit:
		if op != ws.OpClose || c.Err() != nil {
			return c.closedErr()
		}
	default:
	}
	payload := buf[ws.MaxHeaderSize:]
	n := len(payload)
	hlen := 6
	switch {
	case n > 0xffff:
		hlen = 14
	case n >= 126:
		hlen = 8
	}
	h := buf[ws.MaxHeaderSize-hlen : ws.MaxHeaderSize]
	h[0] = 0x80 | byte(op) // FIN
	switch hlen {
	case 6:
		h[1] = 0x80 | byte(n)
	case 8:
		h[1] = 0x80 | 126
		binary.BigEndian.PutUint16(h[2:], uint16(n))
	default:
		h[1] = 0x80 | 127
		binary.BigEndian.PutUint64(h[2:], uint64(n))
	}
	mask := ws.NewMask()
	copy(h[hlen-4:], mask[:])
	ws.Cipher(payload, mask, 0)

	_ = c.conn.SetWriteDeadline(time.Now().Add(c.opts.WriteTimeout))
	if _, err := c.conn.Write(buf[ws.MaxHeaderSize-hlen:]); err != nil {
		c.fail(fmt.Errorf("stomp: write: %w", err))
		return c.closedErr()
	}
	c.lastWrite.Store(time.Now().UnixNano())
	return nil
}

// heartbeats sends an EOL when the client has written nothing for half its interval and drops
// a server silent for twice its own (SPEC: "a silent peer is dropped after 2× its interval").
func (c *Client) heartbeats(send, recv time.Duration) {
	defer c.wg.Done()
	tick := time.Duration(1<<63 - 1)
	if send > 0 {
		tick = send / 2
	}
	if recv > 0 {
		tick = min(tick, recv/2)
	}
	t := time.NewTicker(max(tick, time.Millisecond))
	defer t.Stop()
	eol := []byte{'\n'}
	for {
		select {
		case <-c.quit:
			return
		case now := <-t.C:
			if send > 0 && now.Sub(time.Unix(0, c.lastWrite.Load())) >= send/2 {
				if c.writeControl(ws.OpText, eol) != nil {
					return
				}
			}
			if recv > 0 && now.Sub(time.Unix(0, c.lastRead.Load())) > 2*recv {
				c.fail(ErrHeartbeatTimeout)
				return
			}
		}
	}
}
