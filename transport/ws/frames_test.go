package ws_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	gobwas "github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/parley-chat/parley/actors"
	"github.com/parley-chat/parley/persistence"
	"github.com/parley-chat/parley/stomp"
	"github.com/parley-chat/parley/stomp/stompclient"
	"github.com/parley-chat/parley/transport/outbound"
	"github.com/parley-chat/parley/transport/ws"
)

// rawClient is a WebSocket client that writes whatever it is told, for frames the real
// client would never send.
type rawClient struct {
	t    testing.TB
	conn net.Conn
	r    io.Reader
}

func (e *env) raw(token string, dialer *net.Dialer) *rawClient {
	e.t.Helper()
	d := gobwas.Dialer{Protocols: []string{"v12.stomp"}}
	if dialer != nil {
		d.NetDial = dialer.DialContext
	}
	conn, br, hs, err := d.Dial(ctxT(e.t, 5*time.Second), e.url)
	if err != nil {
		e.t.Fatal(err)
	}
	if hs.Protocol != "v12.stomp" {
		e.t.Fatalf("subprotocol %q not echoed", hs.Protocol)
	}
	e.t.Cleanup(func() { _ = conn.Close() })
	c := &rawClient{t: e.t, conn: conn, r: conn}
	if br != nil {
		c.r = io.MultiReader(br, conn)
	}
	if token != "" {
		c.write(stomp.AppendFrame(nil, &stomp.Frame{Command: stomp.CmdConnect, Headers: []stomp.Header{
			{Key: stomp.HdrAcceptVersion, Value: "1.2"}, {Key: stomp.HdrAuthorization, Value: "Bearer " + token}}}))
		if f := c.read(); f.Command != stomp.CmdConnected {
			e.t.Fatalf("got %v, want CONNECTED", f)
		}
	}
	return c
}

func (c *rawClient) write(p []byte) {
	c.t.Helper()
	if err := wsutil.WriteClientText(c.conn, p); err != nil {
		c.t.Fatal(err)
	}
}

// read returns the next frame that is not a heart-beat.
func (c *rawClient) read() *stomp.Frame {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		p, err := wsutil.ReadServerText(struct {
			io.Reader
			io.Writer
		}{c.r, c.conn})
		if err != nil {
			c.t.Fatalf("read: %v", err)
		}
		fs, _, err := stomp.Parse(p, stomp.Limits{})
		if err != nil {
			c.t.Fatalf("parse %q: %v", p, err)
		}
		if len(fs) > 0 {
			return fs[0]
		}
	}
}

// expectErrorThenClose reads an ERROR with code, then the end of the connection.
func (c *rawClient) expectErrorThenClose(code string) {
	c.t.Helper()
	f := c.read()
	if f.Command != stomp.CmdError || f.Value("code") != code {
		c.t.Fatalf("got %v, want ERROR code %s", f, code)
	}
	_ = c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		_, err := wsutil.ReadServerText(struct {
			io.Reader
			io.Writer
		}{c.r, c.conn})
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				c.t.Fatal("connection still open after ERROR")
			}
			return
		}
	}
}

func TestMalformedAndOversizedFrames(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	tok, uid := e.user("alice")
	cid := e.channel(uid, "frames", persistence.ChannelPublic)
	healthy := e.dial(tok)
	hsub, err := healthy.Subscribe(dest(cid))
	if err != nil {
		t.Fatal(err)
	}

	big := strings.Repeat("x", 70<<10)
	for _, tc := range []struct {
		name string
		run  func(c *rawClient)
		code string
	}{
		{"unknown command", func(c *rawClient) { c.write([]byte("BOGUS\n\n\x00")) }, "protocol_error"},
		{"bad escape", func(c *rawClient) { c.write([]byte("SEND\ndestination:/app/\\q\n\n\x00")) }, "protocol_error"},
		{"header without colon", func(c *rawClient) { c.write([]byte("SEND\ndestination\n\n\x00")) }, "protocol_error"},
		{"content-length lies", func(c *rawClient) {
			c.write([]byte("SEND\ndestination:/app/typing\ncontent-length:2\n\nabc\x00"))
		}, "protocol_error"},
		{"oversized websocket frame", func(c *rawClient) {
			c.write([]byte("SEND\ndestination:/app/message.send\n\n" + big + "\x00"))
		}, "payload_too_large"},
		{"oversized stomp frame in fragments", func(c *rawClient) {
			half := []byte("SEND\ndestination:/app/message.send\n\n" + big[:40<<10])
			fw := wsutil.NewWriterSize(c.conn, gobwas.StateClientSide, gobwas.OpText, 8<<10)
			for range 2 {
				if _, err := fw.Write(half); err != nil {
					t.Fatal(err)
				}
				if err := fw.Flush(); err != nil {
					t.Fatal(err)
				}
			}
		}, "payload_too_large"},
		{"unmasked websocket frame", func(c *rawClient) {
			_ = gobwas.WriteFrame(c.conn, gobwas.NewTextFrame([]byte("SEND\ndestination:/app/typing\n\n\x00")))
		}, "protocol_error"},
		{"many headers", func(c *rawClient) {
			var b strings.Builder
			b.WriteString("SEND\ndestination:/app/typing\n")
			for i := range 40 {
				fmt.Fprintf(&b, "h%d:v\n", i)
			}
			b.WriteString("\n\x00")
			c.write([]byte(b.String()))
		}, "payload_too_large"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := e.raw(tok, nil)
			c.t = t
			tc.run(c)
			c.expectErrorThenClose(tc.code)
		})
	}
	// CONNECT itself malformed, or something else first.
	c := e.raw("", nil)
	c.write([]byte("SUBSCRIBE\nid:1\ndestination:/topic/x\n\n\x00"))
	c.expectErrorThenClose("protocol_error")

	// Nothing of that disturbed anyone else.
	if _, err := healthy.SendWithReceipt(ctxT(t, 5*time.Second), "/app/message.send", sendBody(cid, "still here")); err != nil {
		t.Fatal(err)
	}
	if m := decodeMessage(t, next(t, hsub, 5*time.Second)); m.Content != "still here" {
		t.Fatalf("got %q", m.Content)
	}
	waitFor(t, "bad sessions to be gone", 5*time.Second, func() bool { return e.sys.Sessions() == 1 })
}

// TestSlowConsumer: a client that never reads is dropped with slow-consumer; clients next to
// it get everything.
func TestSlowConsumer(t *testing.T) {
	t.Parallel()
	// The write timeout is long enough that the full queue, not a stuck write, drops the slow
	// client even on a loaded CI machine: at 1 s, 64 sends taking longer than that (seen under
	// -race with every package running) let the timeout win and the counter stayed at 0; at 4 s
	// the same once, on a machine at load 20.
	e := newEnv(t, envOptions{
		actors: actors.Config{MaxBatch: 64, SendRate: 1000, SendBurst: 1000},
		ws:     ws.Config{SocketSendBuffer: 16 << 10, Outbound: outbound.Config{Queue: 64, WriteTimeout: 10 * time.Second}},
	})
	tok, uid := e.user("alice")
	cid := e.channel(uid, "firehose", persistence.ChannelPublic)

	// A tiny receive buffer, so that the server's writes back up soon.
	small := &net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 2048)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	slow := e.raw(tok, small)
	slow.write(stomp.AppendFrame(nil, &stomp.Frame{Command: stomp.CmdSubscribe, Headers: []stomp.Header{
		{Key: stomp.HdrID, Value: "s1"}, {Key: stomp.HdrDestination, Value: dest(cid)}, {Key: stomp.HdrReceipt, Value: "r1"}}}))
	if f := slow.read(); f.Command != stomp.CmdReceipt {
		t.Fatalf("got %v", f)
	}
	healthy := make([]*stompclient.Subscription, 2)
	for i := range healthy {
		htok, _ := e.user(fmt.Sprint("healthy", i))
		s, err := e.dial(htok).Subscribe(dest(cid))
		if err != nil {
			t.Fatal(err)
		}
		healthy[i] = s
	}
	sender := e.dial(tok)
	content := strings.Repeat("y", 3900)
	const n = 400
	for i := range n {
		if _, err := sender.SendWithReceipt(context.Background(), "/app/message.send", sendBody(cid, fmt.Sprint(i, content))); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range healthy {
		for want := int64(1); want <= n; want++ {
			if m := decodeMessage(t, next(t, s, 5*time.Second)); m.Seq != want {
				t.Fatalf("seq %d, want %d", m.Seq, want)
			}
		}
	}
	waitFor(t, "the slow consumer to be dropped", 20*time.Second, func() bool { return e.sys.Sessions() == 3 })
	if got := e.metric("parley_slow_consumer_disconnects_total"); got != 1 {
		t.Errorf("slow-consumer disconnects %v, want 1", got)
	}
	// The slow client, reading at last, finds messages and then the end (the ERROR itself
	// may not make it through a socket that was never drained).
	_ = slow.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	rd := bufio.NewReader(slow.r)
	if _, err := io.Copy(io.Discard, rd); err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatal("slow consumer's connection not closed")
		}
	}
}
