package stompclient

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/parley-chat/parley/stomp"
)

func newTestPoller(t *testing.T, loops int) *Poller {
	t.Helper()
	p, err := NewPoller(loops)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// TestClientOnPoller runs the client's tests again with every client read by a Poller.
func TestClientOnPoller(t *testing.T) {
	for _, tc := range []struct {
		name string
		fn   func(*testing.T)
	}{
		{"ConnectAndAuthModes", TestClientConnectAndAuthModes},
		{"ConnectRefused", TestClientConnectRefused},
		{"DialBufferedHandshake", TestClientDialBufferedHandshake},
		{"SubscribeSendReceive", TestClientSubscribeSendReceive},
		{"ConcurrentSenders", TestClientConcurrentSenders},
		{"ReplayBeforeReceipt", TestClientReplayBeforeReceipt},
		{"Unsubscribe", TestClientUnsubscribe},
		{"ServerErrors", TestClientServerErrors},
		{"ServerDrop", TestClientServerDrop},
		{"Close", TestClientClose},
		{"CloseWithUnreadSubscription", TestClientCloseWithUnreadSubscription},
		{"SendsHeartbeats", TestClientSendsHeartbeats},
		{"DropsSilentServer", TestClientDropsSilentServer},
		{"KeepsBeatingServer", TestClientKeepsBeatingServer},
		{"SendAsync", TestClientSendAsync},
		{"ExpireAsync", TestClientExpireAsync},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newTestPoller(t, 2)
			testPoller = p
			t.Cleanup(func() { testPoller = nil })
			if runtime.GOOS == "linux" { // runs after the clients' own cleanups have closed them
				t.Cleanup(func() { assertPollerEmpty(t, p) })
			}
			tc.fn(t)
		})
	}
}

// assertPollerEmpty checks, once the test's clients are closed, that no loop still holds one.
func assertPollerEmpty(t *testing.T, p *Poller) {
	t.Helper()
	waitFor(t, "the poller to let go of every client", func() bool { return p.attached() == 0 })
}

func TestPollerManyClients(t *testing.T) {
	p := newTestPoller(t, 2)
	s := newTestServer(t, testServerConfig{split: true})
	const clients, msgs = 40, 20
	var mu sync.Mutex
	got := make(map[int][]int) // client → message numbers in arrival order
	cs := make([]*Client, clients)
	for i := range cs {
		cs[i] = dial(t, s, ClientOptions{Poller: p})
		if _, err := cs[i].SubscribeFunc("/topic/all", func(f *stomp.Frame, at time.Time) {
			n, _ := strconv.Atoi(string(f.Body))
			mu.Lock()
			got[i] = append(got[i], n)
			mu.Unlock()
		}); err != nil {
			t.Fatal(err)
		}
	}
	if runtime.GOOS == "linux" && p.attached() != clients {
		t.Fatalf("poller holds %d clients, want %d", p.attached(), clients)
	}
	for n := range msgs {
		if _, err := cs[n%clients].SendWithReceipt(context.Background(), "/topic/all", []byte(strconv.Itoa(n))); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "every delivery", func() bool {
		mu.Lock()
		defer mu.Unlock()
		for i := range clients {
			if len(got[i]) != msgs {
				return false
			}
		}
		return true
	})
	mu.Lock()
	for i, ns := range got {
		for k, n := range ns {
			if n != k {
				t.Fatalf("client %d: message %d arrived as #%d", i, n, k)
			}
		}
	}
	mu.Unlock()
	for _, c := range cs {
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if runtime.GOOS == "linux" {
		assertPollerEmpty(t, p)
	}
}

func TestPollerCloseEndsItsClients(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the poller is Linux only")
	}
	p, err := NewPoller(1)
	if err != nil {
		t.Fatal(err)
	}
	s := newTestServer(t, testServerConfig{})
	c := dial(t, s, ClientOptions{Poller: p})
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.Closed():
	case <-time.After(5 * time.Second):
		t.Fatal("client still open after its poller closed")
	}
	if !errors.Is(c.Err(), ErrPollerClosed) {
		t.Fatalf("Err = %v, want ErrPollerClosed", c.Err())
	}
	_ = p.Close() // idempotent
	// A closed poller refuses new clients; Dial falls back to a read goroutine.
	c2 := dial(t, s, ClientOptions{Poller: p})
	if _, err := c2.SendWithReceipt(context.Background(), "/topic/x", nil); err != nil {
		t.Fatal(err)
	}
}

// TestFrameReaderSplitsAnywhere feeds one stream of server frames — a fragmented MESSAGE,
// empty and non-empty pings, a frame with a 16-bit length, two STOMP frames in one message —
// cut at every position, and expects the same frames each time.
func TestFrameReaderSplitsAnywhere(t *testing.T) {
	big := bytes.Repeat([]byte("x"), 300)
	var stream []byte
	frame := func(op ws.OpCode, fin bool, p []byte) {
		var b bytes.Buffer
		if err := ws.WriteHeader(&b, ws.Header{Fin: fin, OpCode: op, Length: int64(len(p))}); err != nil {
			t.Fatal(err)
		}
		stream = append(append(stream, b.Bytes()...), p...)
	}
	msg := func(id int, body []byte) []byte {
		return stomp.AppendFrame(nil, &stomp.Frame{Command: stomp.CmdMessage, Headers: []stomp.Header{{Key: stomp.HdrSubscription, Value: "s"}, {Key: "n", Value: strconv.Itoa(id)}}, Body: body})
	}
	m1 := msg(1, []byte("hello"))
	frame(ws.OpText, false, m1[:7])
	frame(ws.OpPing, true, nil)
	frame(ws.OpContinuation, true, m1[7:])
	frame(ws.OpPing, true, []byte("pp"))
	frame(ws.OpText, true, msg(2, big))
	frame(ws.OpText, true, append(msg(3, nil), msg(4, []byte("four"))...))
	frame(ws.OpPing, true, nil)

	for cut := 0; cut <= len(stream); cut++ {
		var got []string
		c := newDetachedClient(func(f *stomp.Frame) { got = append(got, f.Value("n")+":"+strconv.Itoa(len(f.Body))) })
		for _, part := range [][]byte{stream[:cut], stream[cut:]} {
			if err := c.consume(part, time.Now()); err != nil {
				t.Fatalf("cut %d: %v", cut, err)
			}
		}
		if want := "[1:5 2:300 3:0 4:4]"; fmt.Sprint(got) != want {
			t.Fatalf("cut %d: frames %v, want %s", cut, got, want)
		}
		if c.rd.inFrame || c.rd.nhdr != 0 {
			t.Fatalf("cut %d: reader left mid-frame", cut)
		}
	}
	// One byte at a time too.
	var n int
	c := newDetachedClient(func(*stomp.Frame) { n++ })
	for i := range stream {
		if err := c.consume(stream[i:i+1], time.Now()); err != nil {
			t.Fatalf("byte %d: %v", i, err)
		}
	}
	if n != 4 {
		t.Fatalf("byte by byte: %d frames, want 4", n)
	}
}

func TestFrameReaderRefusesBadFrames(t *testing.T) {
	for name, raw := range map[string][]byte{
		"masked":          {0x81, 0x81, 1, 2, 3, 4, 'x'},
		"reserved bits":   {0xf1, 0x01, 'x'},
		"long ping":       append([]byte{0x89, 126, 0, 200}, make([]byte, 200)...),
		"fragmented ping": {0x09, 0x00},
		"length top bit":  {0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 0},
		"stray continue":  {0x80, 0x01, 'x'},
	} {
		c := newDetachedClient(func(*stomp.Frame) {})
		if err := c.consume(raw, time.Now()); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// newDetachedClient is a Client with no connection, for feeding its frame reader directly;
// its pongs go to a discarding connection.
func newDetachedClient(onMessage func(*stomp.Frame)) *Client {
	c := &Client{
		opts:    ClientOptions{}.withDefaults(),
		conn:    discardConn{},
		dec:     stomp.NewDecoder(stomp.Limits{}),
		wsState: ws.StateClientSide,
		subs:    make(map[string]*Subscription),
		quit:    make(chan struct{}),
		closed:  make(chan struct{}),
	}
	c.subs["s"] = &Subscription{c: c, ID: "s", fn: func(f *stomp.Frame, _ time.Time) { onMessage(f) }, done: make(chan struct{})}
	return c
}

type discardConn struct{ net.Conn }

func (discardConn) Write(p []byte) (int, error)      { return len(p), nil }
func (discardConn) SetWriteDeadline(time.Time) error { return nil }
