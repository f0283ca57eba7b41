package ws

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/gobwas/ws"

	"github.com/parley-chat/parley/actors"
	"github.com/parley-chat/parley/transport/api"
	"github.com/parley-chat/parley/transport/stomp"
)

// socket is one WebSocket connection's read side.
type socket struct {
	h       *Handler
	conn    net.Conn
	br      *bufio.Reader
	wire    *wire
	dec     *stomp.Decoder
	state   ws.State
	hdr     [ws.MaxHeaderSize - 2]byte
	sess    *actors.Session
	backlog []*stomp.Frame
	timeout time.Duration // read deadline per WebSocket frame; 0: none
}

var errTooLarge = fmt.Errorf("%w: frame larger than the limit", api.ErrTooLarge)

func (c *socket) serve(requestToken string) {
	c.state = ws.StateServerSide
	c.timeout = c.h.cfg.ConnectTimeout
	connect, err := c.readConnect()
	if err != nil {
		if !isClosed(err) {
			c.refuse(err)
		}
		_ = c.wire.Close()
		return
	}
	info, expires, err := c.h.connect(connect, requestToken)
	if err == nil {
		c.sess, err = c.open(info, expires)
	}
	if err != nil {
		c.h.log.Debug("connect refused", "remote", c.conn.RemoteAddr(), "err", err)
		c.refuse(err)
		return
	}
	defer c.sess.Close()
	for _, f := range c.backlog { // frames that came with CONNECT
		c.sess.Handle(f)
	}
	c.backlog = nil
	c.timeout = c.sess.ReadTimeout()
	if c.timeout == 0 {
		_ = c.conn.SetReadDeadline(time.Time{})
	}
	handle := func(f *stomp.Frame) { c.sess.Handle(f) }
	for {
		err := c.readMessage(handle)
		if err == nil {
			continue
		}
		if errors.Is(err, stomp.ErrMalformed) || errors.Is(err, stomp.ErrFrameTooLarge) ||
			errors.Is(err, stomp.ErrHeadersTooLarge) || errors.Is(err, stomp.ErrTooManyHeaders) ||
			errors.Is(err, errTooLarge) || errors.Is(err, errProtocol) {
			// The stream cannot be resynchronised: ERROR, then close once it is written.
			c.sess.Fail(clientError(err))
			select {
			case <-c.sess.Done():
			case <-time.After(c.h.cfg.HandshakeTimeout):
			}
		}
		return
	}
}

// clientError maps a decoding failure to what the ERROR frame says.
func clientError(err error) error {
	switch {
	case errors.Is(err, stomp.ErrFrameTooLarge), errors.Is(err, errTooLarge),
		errors.Is(err, stomp.ErrHeadersTooLarge), errors.Is(err, stomp.ErrTooManyHeaders):
		return fmt.Errorf("%w: %w", api.ErrTooLarge, err)
	default:
		return fmt.Errorf("%w: %w", actors.ErrProtocol, err)
	}
}

// readConnect reads until the first STOMP frame, within ConnectTimeout. Frames that came
// after it in the same WebSocket message wait in backlog.
func (c *socket) readConnect() (*stomp.Frame, error) {
	var frames []*stomp.Frame
	collect := func(f *stomp.Frame) {
		if len(frames) < 16 {
			frames = append(frames, f)
		}
	}
	for len(frames) == 0 {
		if err := c.readMessage(collect); err != nil {
			return nil, clientErrorOrIO(err)
		}
	}
	c.backlog = frames[1:]
	return frames[0], nil
}

func clientErrorOrIO(err error) error {
	if isClosed(err) {
		return err
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("%w: no CONNECT within the connect timeout", actors.ErrProtocol)
	}
	return clientError(err)
}

var errProtocol = errors.New("websocket protocol violation")

// readMessage reads one WebSocket frame and feeds its payload to the decoder, calling fn
// for each whole STOMP frame.
func (c *socket) readMessage(fn func(*stomp.Frame)) error {
	if c.timeout > 0 {
		_ = c.conn.SetReadDeadline(time.Now().Add(c.timeout))
	}
	h, err := ws.ReadHeaderBuffer(c.br, c.hdr[:])
	if err != nil {
		return err
	}
	if err := ws.CheckHeader(h, c.state); err != nil {
		return fmt.Errorf("%w: %w", errProtocol, err)
	}
	if !h.Masked {
		return fmt.Errorf("%w: client frames must be masked", errProtocol)
	}
	if h.OpCode.IsControl() {
		return c.control(h)
	}
	if h.Length > int64(c.h.cfg.MaxFrameBytes) {
		return errTooLarge
	}
	if h.Fin {
		c.state = c.state.Clear(ws.StateFragmented)
	} else {
		c.state = c.state.Set(ws.StateFragmented)
	}
	var off int64
	for off < h.Length {
		if _, err := c.br.Peek(1); err != nil {
			return err
		}
		p, _ := c.br.Peek(int(min(h.Length-off, int64(c.br.Buffered()))))
		ws.Cipher(p, h.Mask, int(off))
		c.dec.Feed(p)
		_, _ = c.br.Discard(len(p))
		off += int64(len(p))
		for {
			f, err := c.dec.Next()
			if err != nil {
				return err
			}
			if f == nil {
				break
			}
			fn(f)
		}
	}
	return nil
}

func (c *socket) control(h ws.Header) error {
	var buf [ws.MaxControlFramePayloadSize]byte
	p := buf[:h.Length]
	if _, err := io.ReadFull(c.br, p); err != nil {
		return err
	}
	ws.Cipher(p, h.Mask, 0)
	switch h.OpCode {
	case ws.OpPing:
		return c.wire.control(ws.OpPong, p)
	case ws.OpClose:
		code, _ := ws.ParseCloseFrameData(p)
		_ = c.wire.control(ws.OpClose, ws.NewCloseFrameBody(code, ""))
		return io.EOF
	}
	return nil
}

func isClosed(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || errors.Is(err, io.ErrUnexpectedEOF)
}

// wire writes server frames: unmasked text messages, each header in a small arena and the
// frames themselves from the writer's buffer, all in one writev.
type wire struct {
	conn   net.Conn
	mu     sync.Mutex
	hdrs   []byte
	bufs   net.Buffers
	closed bool
	hooks  closeHooks // the session's limits, released at close (limits.go)
}

// WriteFrames implements actors.Wire.
func (w *wire) WriteFrames(frames [][]byte, deadline time.Time) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return net.ErrClosed
	}
	w.hdrs = w.hdrs[:0]
	for _, f := range frames {
		w.hdrs = appendHeader(w.hdrs, ws.OpText, len(f))
	}
	bufs := w.bufs[:0]
	off := 0
	for _, f := range frames {
		n := headerLen(len(f))
		bufs = append(bufs, w.hdrs[off:off+n], f)
		off += n
	}
	_ = w.conn.SetWriteDeadline(deadline)
	v := bufs // WriteTo consumes its receiver
	_, err := v.WriteTo(w.conn)
	clear(bufs)
	if cap(bufs) > 512 {
		bufs, w.hdrs = nil, nil // a burst's arrays go back to the GC
	}
	w.bufs = bufs[:0]
	return err
}

// control writes a control frame (pong, close), serialised with WriteFrames.
func (w *wire) control(op ws.OpCode, payload []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return net.ErrClosed
	}
	var buf [ws.MaxHeaderSize + ws.MaxControlFramePayloadSize]byte
	b := append(appendHeader(buf[:0], op, len(payload)), payload...)
	_ = w.conn.SetWriteDeadline(time.Now().Add(time.Second))
	_, err := w.conn.Write(b)
	return err
}

// Close implements actors.Wire: a polite close frame when no write is stuck, then the socket.
func (w *wire) Close() error {
	if w.mu.TryLock() {
		if !w.closed {
			var buf [16]byte
			b := append(appendHeader(buf[:0], ws.OpClose, 2), 0x03, 0xe8) // 1000 normal closure
			_ = w.conn.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
			_, _ = w.conn.Write(b)
		}
		w.closed = true
		w.mu.Unlock()
	}
	w.hooks.run()
	return w.conn.Close()
}

func headerLen(n int) int {
	switch {
	case n > 0xffff:
		return 10
	case n >= 126:
		return 4
	default:
		return 2
	}
}

func appendHeader(dst []byte, op ws.OpCode, n int) []byte {
	b0 := 0x80 | byte(op) // FIN
	switch {
	case n > 0xffff:
		dst = append(dst, b0, 127)
		return binary.BigEndian.AppendUint64(dst, uint64(n))
	case n >= 126:
		dst = append(dst, b0, 126)
		return binary.BigEndian.AppendUint16(dst, uint16(n))
	default:
		return append(dst, b0, byte(n))
	}
}
