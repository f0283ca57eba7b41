package attacks_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	gobwas "github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/parley-chat/parley/stomp"
)

// rawConn is a WebSocket client that writes whatever bytes it is told, in whatever
// WebSocket messages it is told, for what a well-behaved STOMP client never sends. Unless
// made with read=false, a goroutine reads the server's frames into frames; the socket
// closes at cleanup.
type rawConn struct {
	t      *testing.T
	conn   net.Conn
	r      io.Reader
	frames chan *stomp.Frame // closed when the server closes the socket
	end    error             // why reading stopped; read after frames is closed
}

// rawDial opens a WebSocket to the node with extra upgrade headers (nil: none).
func (n *node) rawDial(header http.Header, read bool) (*rawConn, error) {
	d := gobwas.Dialer{Protocols: []string{"v12.stomp"}, Timeout: 5 * time.Second}
	if header != nil {
		d.Header = gobwas.HandshakeHeaderHTTP(header)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, br, _, err := d.Dial(ctx, n.ws)
	if err != nil {
		return nil, err
	}
	c := &rawConn{t: n.t, conn: conn, r: conn}
	if br != nil { // frames that came with the handshake response
		c.r = io.MultiReader(br, conn)
	}
	n.t.Cleanup(func() { _ = conn.Close() })
	if read {
		c.frames = make(chan *stomp.Frame, 1<<15)
		done := make(chan struct{})
		go c.readLoop(done)
		n.t.Cleanup(func() { _ = conn.Close(); <-done })
	}
	return c, nil
}

// raw opens a WebSocket and CONNECTs as u (heart-beats off), waiting for CONNECTED.
func (n *node) raw(u *user) *rawConn {
	n.t.Helper()
	c, err := n.rawDial(nil, true)
	if err != nil {
		n.t.Fatalf("dial: %v", err)
	}
	c.write(connectFrame(u.token))
	if f := c.next(); f.Command != stomp.CmdConnected {
		n.t.Fatalf("got %s %v, want CONNECTED", f.Command, f.Headers)
	}
	return c
}

func (c *rawConn) readLoop(done chan struct{}) {
	defer close(done)
	defer close(c.frames)
	rw := struct {
		io.Reader
		io.Writer
	}{c.r, c.conn}
	for {
		p, err := wsutil.ReadServerText(rw)
		if err != nil {
			c.end = err
			return
		}
		fs, _, err := stomp.Parse(p, stomp.Limits{MaxFrameBytes: 1 << 20})
		if err != nil {
			c.end = err
			return
		}
		for _, f := range fs {
			c.frames <- f
		}
	}
}

// readOne reads the next frame on a connection made with read=false.
func (c *rawConn) readOne() *stomp.Frame {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	defer func() { _ = c.conn.SetReadDeadline(time.Time{}) }()
	p, err := wsutil.ReadServerText(struct {
		io.Reader
		io.Writer
	}{c.r, c.conn})
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	fs, _, err := stomp.Parse(p, stomp.Limits{MaxFrameBytes: 1 << 20})
	if err != nil || len(fs) != 1 {
		c.t.Fatalf("parse %q: %v", p, err)
	}
	return fs[0]
}

// write sends p as one WebSocket text message.
func (c *rawConn) write(p []byte) {
	c.t.Helper()
	if err := c.tryWrite(p); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

func (c *rawConn) tryWrite(p []byte) error {
	_ = c.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return wsutil.WriteClientText(c.conn, p)
}

// writeFragments sends p as one WebSocket message in fragments of size bytes (a text
// frame, then continuation frames).
func (c *rawConn) writeFragments(p []byte, size int) {
	c.t.Helper()
	_ = c.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	for i := 0; i < len(p); i += size {
		op := gobwas.OpContinuation
		if i == 0 {
			op = gobwas.OpText
		}
		f := gobwas.NewFrame(op, i+size >= len(p), p[i:min(i+size, len(p))])
		if err := gobwas.WriteFrame(c.conn, gobwas.MaskFrameInPlace(f)); err != nil {
			c.t.Fatalf("write fragment: %v", err)
		}
	}
}

// next returns the server's next frame, failing the test after 10 s or at the close.
func (c *rawConn) next() *stomp.Frame {
	c.t.Helper()
	select {
	case f, ok := <-c.frames:
		if !ok {
			c.t.Fatalf("connection closed (%v) while a frame was expected", c.end)
		}
		return f
	case <-time.After(10 * time.Second):
		c.t.Fatal("no frame within 10 s")
	}
	return nil
}

// expectError reads the next frame, which must be an ERROR with code.
func (c *rawConn) expectError(code string) *stomp.Frame {
	c.t.Helper()
	f := c.next()
	if f.Command != stomp.CmdError || f.Value("code") != code {
		c.t.Fatalf("got %s %v %q, want ERROR code %s", f.Command, f.Headers, f.Body, code)
	}
	return f
}

// expectClosed waits for the server to close the socket, failing on any frame.
func (c *rawConn) expectClosed(d time.Duration) {
	c.t.Helper()
	deadline := time.After(d)
	for {
		select {
		case f, ok := <-c.frames:
			if !ok {
				return
			}
			c.t.Fatalf("frame %s %v while the close was expected", f.Command, f.Headers)
		case <-deadline:
			c.t.Fatalf("socket still open after %v", d)
		}
	}
}

// isClosedErr reports an error of a socket the peer closed.
func isClosedErr(err error) bool {
	var ne net.Error
	return errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || errors.Is(err, io.ErrUnexpectedEOF) ||
		(errors.As(err, &ne) && !ne.Timeout()) || errors.As(err, new(wsutil.ClosedError))
}

// frame encodes a STOMP frame; kv are header keys and values.
func frame(cmd string, body []byte, kv ...string) []byte {
	f := &stomp.Frame{Command: cmd, Body: body}
	for i := 0; i+1 < len(kv); i += 2 {
		f.Add(kv[i], kv[i+1])
	}
	return stomp.AppendFrame(nil, f)
}

func connectFrame(token string) []byte {
	return frame(stomp.CmdConnect, nil, stomp.HdrAcceptVersion, "1.2", stomp.HdrHost, "localhost",
		stomp.HdrAuthorization, "Bearer "+token)
}
