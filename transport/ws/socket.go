package ws

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gobwas/ws"

	"github.com/parley-chat/parley/actors"
	"github.com/parley-chat/parley/errcode"
	"github.com/parley-chat/parley/stomp"
	"github.com/parley-chat/parley/transport/outbound"
)

// socket is one WebSocket connection's read side. Until CONNECT is done it reads on a
// goroutine of its own (authentication waits on the token verifier and PostgreSQL); then,
// on Linux, the poller reads it (socket_events.go), and elsewhere the goroutine goes on.
type socket struct {
	h       *Handler
	conn    net.Conn
	br      *bufio.Reader  // goroutine reading only; pooled
	dec     *stomp.Decoder // nil while no STOMP frame is partly read; pooled
	wire    *wire
	state   ws.State
	hdr     [ws.MaxHeaderSize - 2]byte
	sess    *actors.Session
	backlog []*stomp.Frame
	timeout time.Duration // read deadline per WebSocket frame; 0: none (or one fixed for all)
	ps      pollState
	slot    *slot // this socket's place in the socket caps, released when the wire closes
}

var errTooLarge = fmt.Errorf("%w: frame larger than the limit", errcode.ErrTooLarge)

func (c *socket) serve(requestToken string) {
	c.state = ws.StateServerSide
	c.timeout = 0 // the CONNECT deadline, set at the upgrade, holds for every frame before it
	connect, err := c.readConnect()
	if err != nil {
		if errors.Is(err, errNoConnect) {
			c.h.admit.metrics.connectTimeouts.Inc()
		}
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
	c.slot.authenticated()
	for _, f := range c.backlog { // frames that came with CONNECT
		c.sess.Handle(f)
	}
	c.backlog = nil
	c.timeout = c.sess.ReadTimeout()
	if c.startPolling() {
		return // the poller reads from here on, and closes the session
	}
	defer c.sess.Close()
	if c.timeout == 0 {
		_ = c.conn.SetReadDeadline(time.Time{})
	}
	handle := func(f *stomp.Frame) { c.sess.Handle(f) }
	for {
		err := c.readMessage(handle)
		if err == nil {
			continue
		}
		if isUnrecoverable(err) {
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

// isUnrecoverable reports a decoding failure after which the byte stream cannot be followed.
func isUnrecoverable(err error) bool {
	return errors.Is(err, stomp.ErrMalformed) || errors.Is(err, stomp.ErrFrameTooLarge) ||
		errors.Is(err, stomp.ErrHeadersTooLarge) || errors.Is(err, stomp.ErrTooManyHeaders) ||
		errors.Is(err, errTooLarge) || errors.Is(err, errProtocol)
}

// clientError maps a decoding failure to what the ERROR frame says.
func clientError(err error) error {
	switch {
	case errors.Is(err, stomp.ErrFrameTooLarge), errors.Is(err, errTooLarge),
		errors.Is(err, stomp.ErrHeadersTooLarge), errors.Is(err, stomp.ErrTooManyHeaders):
		return fmt.Errorf("%w: %w", errcode.ErrTooLarge, err)
	default:
		return fmt.Errorf("%w: %w", actors.ErrProtocol, err)
	}
}

// readConnect reads until the first STOMP frame, before the deadline set at the upgrade.
// Frames that came after it in the same WebSocket message wait in backlog.
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
		return fmt.Errorf("%w: %w", actors.ErrProtocol, errNoConnect)
	}
	return clientError(err)
}

var (
	errProtocol  = errors.New("websocket protocol violation")
	errNoConnect = errors.New("no CONNECT within the connect timeout")
)

// readMessage reads one WebSocket frame and feeds its payload to the decoder, calling fn
// for each whole STOMP frame. The blocking reader, for CONNECT and sockets the poller cannot
// take; the poll loops' is consume (socket_events.go), kept apart on purpose (ADR 0029).
func (c *socket) readMessage(fn func(*stomp.Frame)) error {
	if c.timeout > 0 {
		_ = c.conn.SetReadDeadline(time.Now().Add(c.timeout))
	}
	h, err := ws.ReadHeaderBuffer(c.br, c.hdr[:])
	if err != nil {
		return err
	}
	if err := checkClientHeader(h, c.state, c.h.cfg.MaxFrameBytes); err != nil {
		return err
	}
	if h.OpCode.IsControl() {
		return c.control(h)
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
		dec := c.decoder()
		dec.Feed(p)
		_, _ = c.br.Discard(len(p))
		off += int64(len(p))
		for {
			f, err := dec.Next()
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

// checkClientHeader checks a client frame's header: valid in state s, masked, and, for a
// data frame, within the size limit.
func checkClientHeader(h ws.Header, s ws.State, maxFrame int) error {
	if err := ws.CheckHeader(h, s); err != nil {
		return fmt.Errorf("%w: %w", errProtocol, err)
	}
	if !h.Masked {
		return fmt.Errorf("%w: client frames must be masked", errProtocol)
	}
	if !h.OpCode.IsControl() && h.Length > int64(maxFrame) {
		return errTooLarge
	}
	return nil
}

// decoder returns the socket's STOMP decoder, taking one from the pool when it has none.
func (c *socket) decoder() *stomp.Decoder {
	if c.dec == nil {
		c.dec = c.h.decoders.Get().(*stomp.Decoder)
	}
	return c.dec
}

// releaseDecoder gives the decoder back to the pool when it holds no partial frame.
func (c *socket) releaseDecoder() {
	if c.dec != nil && c.dec.Buffered() == 0 {
		c.h.decoders.Put(c.dec)
		c.dec = nil
	}
}

// releaseReader gives the read buffer back once the poller reads the socket.
func (c *socket) releaseReader() {
	if c.br != nil {
		c.br.Reset(nil)
		c.h.readers.Put(c.br)
		c.br = nil
	}
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
		_ = c.wire.control(ws.OpClose, closeEcho(p))
		return io.EOF
	}
	return nil
}

// closeEcho is the body of the Close frame that answers a peer's Close with payload p: the
// peer's status code, none when it sent none (RFC 6455 §5.5.1; a code 0 echoed back makes
// Node's ws fail with "invalid status code 0"), 1002 when its code may not be sent.
func closeEcho(p []byte) []byte {
	if len(p) < 2 {
		return nil
	}
	code, reason := ws.ParseCloseFrameData(p)
	if ws.CheckCloseFrameData(code, reason) != nil {
		return ws.NewCloseFrameBody(ws.StatusProtocolError, "")
	}
	return ws.NewCloseFrameBody(code, "")
}

func isClosed(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || errors.Is(err, io.ErrUnexpectedEOF)
}

var _ outbound.TryWire = (*wire)(nil)

// wire writes server frames: unmasked text messages, each header in a small arena and the
// frames themselves from the writer's buffer, all in one writev.
type wire struct {
	conn   net.Conn
	raw    syscall.RawConn // nil: no non-blocking path (TryWriteFrames declines)
	mu     sync.Mutex
	closed bool
	// pending holds what a TryWriteFrames could not hand to a full socket. Every later
	// write goes behind it, and the next WriteFrames writes it first.
	pending []byte
	owner   atomic.Pointer[socket] // set while the poller reads the socket: told of the close
	hooks   closeHooks             // the session's limits, released at close (limits.go)
}

// WriteFrames implements outbound.Wire.
func (w *wire) WriteFrames(frames [][]byte, deadline time.Time) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return net.ErrClosed
	}
	sc := scratchPool.Get().(*wireScratch)
	bufs := sc.frame(w.pending, frames)
	_ = w.conn.SetWriteDeadline(deadline)
	v := bufs // WriteTo consumes its receiver
	_, err := v.WriteTo(w.conn)
	if err == nil {
		w.pending = nil
	}
	// A deadline left on the socket would fail the next TryWriteFrames once it passed:
	// RawConn.Write checks it before trying.
	_ = w.conn.SetWriteDeadline(time.Time{})
	sc.release()
	return err
}

// TryWriteFrames is WriteFrames that never waits, for the node's writer goroutines
// (transport/outbound/writers.go): one non-blocking writev. accepted is false, with nothing written,
// when the socket has no such path or another write holds it; then the caller must use
// WriteFrames. Otherwise every frame is taken, and flushed tells whether the socket took
// all the bytes: if not, the rest waits in w.pending for the caller's next WriteFrames.
func (w *wire) TryWriteFrames(frames [][]byte) (accepted, flushed bool, err error) {
	if w.raw == nil || !w.mu.TryLock() {
		return false, false, nil
	}
	defer w.mu.Unlock()
	if w.closed {
		return true, false, net.ErrClosed
	}
	sc := scratchPool.Get().(*wireScratch)
	defer sc.release()
	bufs := sc.frame(w.pending, frames)
	if len(w.pending) > 0 { // never overtake bytes already waiting
		w.pending = appendBufs(w.pending[:0:0], bufs)
		return true, false, nil
	}
	n, err := sc.wv.write(w.raw, bufs)
	if errors.Is(err, os.ErrDeadlineExceeded) { // a blocking write's deadline: nothing was tried
		return false, false, nil
	}
	if err != nil {
		return true, false, err
	}
	for _, b := range bufs {
		if n >= len(b) {
			n -= len(b)
			continue
		}
		w.pending = append(w.pending, b[n:]...)
		n = 0
	}
	return true, len(w.pending) == 0, nil
}

func appendBufs(dst []byte, bufs [][]byte) []byte {
	for _, b := range bufs {
		dst = append(dst, b...)
	}
	return dst
}

// wireScratch is a write's headers and writev(2) call, pooled: a socket between writes
// keeps none.
type wireScratch struct {
	hdrs []byte
	bufs net.Buffers
	wv   writevCall
}

// frame returns the buffers of one write: first pending (when there is some), then each
// frame behind its WebSocket header.
func (sc *wireScratch) frame(pending []byte, frames [][]byte) net.Buffers {
	sc.hdrs = sc.hdrs[:0]
	for _, f := range frames {
		sc.hdrs = appendHeader(sc.hdrs, ws.OpText, len(f))
	}
	bufs := sc.bufs[:0]
	if len(pending) > 0 {
		bufs = append(bufs, pending)
	}
	off := 0
	for _, f := range frames {
		n := headerLen(len(f))
		bufs = append(bufs, sc.hdrs[off:off+n], f)
		off += n
	}
	sc.bufs = bufs
	return bufs
}

func (sc *wireScratch) release() {
	clear(sc.bufs)
	if cap(sc.bufs) <= 512 && sc.wv.pooled() { // a burst's arrays go back to the GC
		sc.bufs = sc.bufs[:0]
		scratchPool.Put(sc)
	}
}

var scratchPool = sync.Pool{New: func() any { return new(wireScratch) }}

// control writes a control frame (pong, close), serialised with WriteFrames.
func (w *wire) control(op ws.OpCode, payload []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return net.ErrClosed
	}
	var buf [ws.MaxHeaderSize + ws.MaxControlFramePayloadSize]byte
	b := append(appendHeader(buf[:0], op, len(payload)), payload...)
	if len(w.pending) > 0 { // a writer is about to flush these bytes: go behind them
		w.pending = append(w.pending, b...)
		return nil
	}
	_ = w.conn.SetWriteDeadline(time.Now().Add(time.Second))
	_, err := w.conn.Write(b)
	_ = w.conn.SetWriteDeadline(time.Time{}) // see WriteFrames
	return err
}

// CanTryWrite reports whether TryWriteFrames can ever write: sockets without a descriptor
// (TLS in process, pipes) always wait, so their sessions keep a goroutine per burst.
func (w *wire) CanTryWrite() bool { return w.raw != nil }

// Close implements outbound.Wire: a polite close frame when no write is stuck, then the socket.
// After a close frame the socket lingers (lingerClose): closed at once with the client's
// bytes unread, the kernel would reset the connection, and a client still sending would see
// its write fail before it read our last frames — the shutting_down ERROR among them.
func (w *wire) Close() error {
	polite := false
	if w.mu.TryLock() {
		if !w.closed && len(w.pending) == 0 { // mid-frame bytes pending: no close frame can follow
			var buf [16]byte
			b := append(appendHeader(buf[:0], ws.OpClose, 2), 0x03, 0xe8) // 1000 normal closure
			if w.raw != nil {                                             // a pool writer may be closing: never wait (a full socket gets no close frame)
				var wv writevCall
				n, err := wv.write(w.raw, [][]byte{b})
				polite = err == nil && n == len(b)
			} else {
				_ = w.conn.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
				_, err := w.conn.Write(b)
				polite = err == nil
			}
		}
		w.closed = true
		w.mu.Unlock()
	}
	if s := w.owner.Load(); s != nil {
		s.closeHook()
	}
	w.hooks.run()
	if tc, ok := w.conn.(*net.TCPConn); ok && polite {
		go lingerClose(tc)
		return nil
	}
	return w.conn.Close()
}

// closeLinger bounds how long a closed session's socket keeps reading what its client still
// sends; a client that got our close frame closes its end well within it.
const closeLinger = 250 * time.Millisecond

// lingerClose half-closes tc (our FIN follows the close frame), reads and discards what the
// client still sends until it closes or closeLinger passes, then closes tc.
func lingerClose(tc *net.TCPConn) {
	_ = tc.CloseWrite()
	_ = tc.SetReadDeadline(time.Now().Add(closeLinger))
	_, _ = io.Copy(io.Discard, io.LimitReader(tc, 1<<20))
	_ = tc.Close()
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
