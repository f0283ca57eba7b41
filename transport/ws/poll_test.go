package ws_test

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"runtime"
	"testing"
	"time"

	gobwas "github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/parley-chat/parley/stomp"
	"github.com/parley-chat/parley/transport/ws"
)

// clientFrame encodes one masked client frame.
func clientFrame(t testing.TB, op gobwas.OpCode, fin bool, payload []byte) []byte {
	t.Helper()
	f := gobwas.NewFrame(op, fin, bytes.Clone(payload))
	f = gobwas.MaskFrameInPlace(f)
	var b bytes.Buffer
	if err := gobwas.WriteFrame(&b, f); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// ackBurst encodes n ACK frames asking for receipts "0" … "n-1", each padded with a header
// of pad bytes.
func ackBurst(t testing.TB, n, pad int) []byte {
	var burst []byte
	for i := range n {
		h := []stomp.Header{{Key: stomp.HdrReceipt, Value: fmt.Sprint(i)}}
		if pad > 0 {
			h = append(h, stomp.Header{Key: "x-pad", Value: string(bytes.Repeat([]byte("p"), pad))})
		}
		burst = append(burst, clientFrame(t, gobwas.OpText, true, stomp.AppendFrame(nil, &stomp.Frame{Command: stomp.CmdAck, Headers: h}))...)
	}
	return burst
}

// readReceipts reads the receipts of ackBurst's n frames, in order.
func readReceipts(t *testing.T, c *rawClient, n int) {
	t.Helper()
	for i := range n {
		f := c.read()
		if f.Command != stomp.CmdReceipt || f.Value(stomp.HdrReceiptID) != fmt.Sprint(i) {
			t.Fatalf("answer %d: %v", i, f)
		}
	}
}

// bothReaders runs fn against the poller and against a goroutine per socket.
func bothReaders(t *testing.T, fn func(t *testing.T, o envOptions)) {
	for _, noPoller := range []bool{false, true} {
		t.Run(fmt.Sprintf("NoPoller=%v", noPoller), func(t *testing.T) {
			t.Parallel()
			fn(t, envOptions{ws: ws.Config{NoPoller: noPoller}})
		})
	}
}

// Frames cut anywhere (inside the header, the mask, the payload, a ping between two
// fragments of one message) are read whole.
func TestSplitAndFragmentedFrames(t *testing.T) {
	t.Parallel()
	bothReaders(t, func(t *testing.T, o envOptions) {
		e := newEnv(t, o)
		tok, _ := e.user("alice")
		c := e.raw(tok, nil)
		// One STOMP frame over three WebSocket fragments, a ping between the second and the
		// third; the second fragment is long enough for a 16-bit length.
		ack := stomp.AppendFrame(nil, &stomp.Frame{Command: stomp.CmdAck, Headers: []stomp.Header{
			{Key: stomp.HdrReceipt, Value: "r1"}, {Key: "x-pad", Value: string(bytes.Repeat([]byte("p"), 300))}}})
		var stream []byte
		stream = append(stream, clientFrame(t, gobwas.OpText, false, ack[:5])...)
		stream = append(stream, clientFrame(t, gobwas.OpContinuation, false, ack[5:200])...)
		stream = append(stream, clientFrame(t, gobwas.OpPing, true, []byte("hi"))...)
		stream = append(stream, clientFrame(t, gobwas.OpContinuation, true, ack[200:])...)
		for i := range stream { // one byte per write: the server reads them one by one
			if _, err := c.conn.Write(stream[i : i+1]); err != nil {
				t.Fatal(err)
			}
			if i%16 == 0 || i < 40 {
				time.Sleep(time.Millisecond)
			}
		}
		_ = c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		var pong, receipt bool
		for !pong || !receipt {
			h, err := gobwas.ReadHeader(c.r)
			if err != nil {
				t.Fatalf("pong %v, receipt %v: %v", pong, receipt, err)
			}
			p := make([]byte, h.Length)
			if _, err := io.ReadFull(c.r, p); err != nil {
				t.Fatal(err)
			}
			switch {
			case h.OpCode == gobwas.OpPong:
				pong = string(p) == "hi"
			case h.OpCode == gobwas.OpText && bytes.HasPrefix(p, []byte("RECEIPT\nreceipt-id:r1\n")):
				receipt = true
			}
		}
	})
}

// A client that sends far more frames at once than its session takes in flight gets every
// answer, in order: the reader waits for the session instead of dropping or reordering.
func TestBurstBeyondInflightLimit(t *testing.T) {
	t.Parallel()
	bothReaders(t, func(t *testing.T, o envOptions) {
		e := newEnv(t, o)
		tok, _ := e.user("alice")
		c := e.raw(tok, nil)
		const n = 600 // MaxInflightFrames is 64
		burst := ackBurst(t, n, 0)
		go func() { _, _ = c.conn.Write(burst) }()
		readReceipts(t, c, n)
	})
}

// A client whose last bytes and hang-up arrive together is let go at once: the read that
// takes the bytes is followed by one that finds the end of the stream (the poller's
// registration is edge-triggered, and nothing would report the socket again), not left to
// a heart-beat sweep that this client, which promised no heart-beats, would never meet.
func TestHangUpWithTheLastBytes(t *testing.T) {
	t.Parallel()
	bothReaders(t, func(t *testing.T, o envOptions) {
		e := newEnv(t, o)
		tok, _ := e.user("alice")
		c := e.raw(tok, nil)
		waitFor(t, "the session", 5*time.Second, func() bool { return e.sys.Sessions() == 1 })
		tc, ok := c.conn.(*net.TCPConn)
		if !ok {
			t.Fatalf("client connection is %T", c.conn)
		}
		ack := stomp.AppendFrame(nil, &stomp.Frame{Command: stomp.CmdAck, Headers: []stomp.Header{{Key: stomp.HdrReceipt, Value: "r1"}}})
		if _, err := tc.Write(clientFrame(t, gobwas.OpText, true, ack)); err != nil {
			t.Fatal(err)
		}
		if err := tc.CloseWrite(); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the session to end", 5*time.Second, func() bool { return e.sys.Sessions() == 0 })
	})
}

// More bytes than the poller reads at once (32 KiB), in one write, sent by a client whose
// session keeps up: all of them are read, though no new bytes arrive to raise another
// edge-triggered event.
func TestMoreThanOneReadAtOnce(t *testing.T) {
	t.Parallel()
	bothReaders(t, func(t *testing.T, o envOptions) {
		e := newEnv(t, o)
		tok, _ := e.user("alice")
		c := e.raw(tok, nil)
		const n = 40 // 40 frames of ~2 KiB: ~80 KiB, fewer than MaxInflightFrames
		if _, err := c.conn.Write(ackBurst(t, n, 2000)); err != nil {
			t.Fatal(err)
		}
		readReceipts(t, c, n)
	})
}

// A close frame is answered with a close frame, and the session ends.
func TestCloseFrame(t *testing.T) {
	t.Parallel()
	bothReaders(t, func(t *testing.T, o envOptions) {
		e := newEnv(t, o)
		tok, _ := e.user("alice")
		c := e.raw(tok, nil)
		waitFor(t, "the session", 5*time.Second, func() bool { return e.sys.Sessions() == 1 })
		if _, err := c.conn.Write(clientFrame(t, gobwas.OpClose, true, gobwas.NewCloseFrameBody(gobwas.StatusNormalClosure, ""))); err != nil {
			t.Fatal(err)
		}
		_ = c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		for {
			h, err := gobwas.ReadHeader(c.r)
			if err != nil {
				t.Fatalf("no close frame: %v", err)
			}
			if _, err := io.CopyN(io.Discard, c.r, h.Length); err != nil {
				t.Fatal(err)
			}
			if h.OpCode == gobwas.OpClose {
				break
			}
		}
		waitFor(t, "the session to end", 5*time.Second, func() bool { return e.sys.Sessions() == 0 })
	})
}

// Established sessions that say nothing hold no goroutine: the poller reads them.
func TestIdleSessionsHoldNoGoroutine(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the poller is Linux only")
	}
	t.Parallel()
	e := newEnv(t, envOptions{})
	tok, _ := e.user("alice")
	warm := e.raw(tok, nil)
	warm.write(stomp.AppendFrame(nil, &stomp.Frame{Command: stomp.CmdAck, Headers: []stomp.Header{{Key: stomp.HdrReceipt, Value: "w"}}}))
	warm.read()
	const n = 40
	toks := make([]string, n)
	for i := range toks {
		toks[i], _ = e.user(fmt.Sprint("idle", i))
	}
	before := runtime.NumGoroutine()
	for i := range n {
		c := e.raw(toks[i], nil)
		c.write(stomp.AppendFrame(nil, &stomp.Frame{Command: stomp.CmdAck, Headers: []stomp.Header{{Key: stomp.HdrReceipt, Value: "x"}}}))
		if f := c.read(); f.Command != stomp.CmdReceipt {
			t.Fatal(f)
		}
	}
	waitFor(t, "CONNECT goroutines to end", 5*time.Second, func() bool { return runtime.NumGoroutine() < before+n/4 })
	// The sessions still work.
	c := e.raw(tok, nil)
	if err := wsutil.WriteClientText(c.conn, stomp.AppendFrame(nil, &stomp.Frame{Command: stomp.CmdAck, Headers: []stomp.Header{{Key: stomp.HdrReceipt, Value: "y"}}})); err != nil {
		t.Fatal(err)
	}
	if f := c.read(); f.Value(stomp.HdrReceiptID) != "y" {
		t.Fatal(f)
	}
}
