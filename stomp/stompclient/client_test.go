package stompclient

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/parley-chat/parley/stomp"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testPoller, when set (TestClientOnPoller), reads every client the tests dial.
var testPoller *Poller

func dial(t *testing.T, s *testServer, opts ClientOptions) *Client {
	t.Helper()
	if opts.Token == "" {
		opts.Token = "good"
	}
	if opts.Poller == nil {
		opts.Poller = testPoller
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := Dial(ctx, s.url, opts)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// recv returns the next frame of sub or fails after a deadline.
func recv(t *testing.T, sub *Subscription) *stomp.Frame {
	t.Helper()
	select {
	case f, ok := <-sub.C:
		if !ok {
			t.Fatal("subscription closed")
		}
		return f
	case <-time.After(5 * time.Second):
		t.Fatal("no message within 5s")
		return nil
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestClientConnectAndAuthModes(t *testing.T) {
	s := newTestServer(t, testServerConfig{heartBeat: stomp.HeartBeat{}})
	c := dial(t, s, ClientOptions{ConnectHeaders: []stomp.Header{{Key: "x-client", Value: "test"}, {Key: stomp.HdrHost, Value: "parley"}}})
	if got := c.Connected().Value(stomp.HdrSession); got != "sess-1" {
		t.Errorf("session = %q", got)
	}
	if got := c.Connected().Value(stomp.HdrUserName); got != "alice" {
		t.Errorf("user-name = %q", got)
	}
	f, _ := s.lastConnect()
	if f.Value(stomp.HdrAuthorization) != "Bearer good" || f.Value(stomp.HdrAcceptVersion) != "1.2" ||
		f.Value(stomp.HdrHost) != "parley" || f.Value("x-client") != "test" || f.Value(stomp.HdrHeartBeat) != "0,0" {
		t.Errorf("CONNECT = %v", f)
	}

	dial(t, s, ClientOptions{Auth: AuthPasscode, Login: "alice"})
	if f, _ := s.lastConnect(); f.Value(stomp.HdrPasscode) != "good" || f.Value(stomp.HdrLogin) != "alice" {
		t.Errorf("passcode CONNECT = %v", f)
	}
	dial(t, s, ClientOptions{Auth: AuthQuery})
	if f, q := s.lastConnect(); q != "access_token=good" || f.Value(stomp.HdrAuthorization) != "" {
		t.Errorf("query auth: CONNECT = %v, query %q", f, q)
	}
}

func TestClientConnectRefused(t *testing.T) {
	s := newTestServer(t, testServerConfig{})
	_, err := Dial(context.Background(), s.url, ClientOptions{Token: "forged", Poller: testPoller})
	var se *ServerError
	if !errors.As(err, &se) || se.Frame.Value(stomp.HdrMessage) != "unauthorized" {
		t.Fatalf("Dial with a bad token: %v", err)
	}
}

func TestClientDialBufferedHandshake(t *testing.T) {
	// CONNECTED arrives in the same segment as the upgrade response, so Dial's bufio.Reader
	// holds it; a client that ignored that reader would wait forever.
	s := newTestServer(t, testServerConfig{eagerHello: true})
	c := dial(t, s, ClientOptions{})
	if c.Connected().Value(stomp.HdrServer) != "test/1" {
		t.Fatalf("CONNECTED = %v", c.Connected())
	}
}

func TestClientLocalAddr(t *testing.T) {
	s := newTestServer(t, testServerConfig{})
	dial(t, s, ClientOptions{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 5)}})
	s.mu.Lock()
	remote := s.remotes[0].(*net.TCPAddr)
	s.mu.Unlock()
	if !remote.IP.Equal(net.IPv4(127, 0, 0, 5)) {
		t.Fatalf("connection came from %v, want 127.0.0.5", remote)
	}
	_, err := Dial(context.Background(), s.url, ClientOptions{
		Token: "good", LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 5), Port: 40000},
	})
	if err == nil {
		t.Fatal("Dial accepted a fixed source port")
	}
}

func TestClientSubscribeSendReceive(t *testing.T) {
	for _, split := range []bool{false, true} {
		t.Run(fmt.Sprintf("split=%v", split), func(t *testing.T) {
			s := newTestServer(t, testServerConfig{split: split})
			c := dial(t, s, ClientOptions{})
			sub, err := c.Subscribe("/topic/channel.1")
			if err != nil {
				t.Fatal(err)
			}
			body := []byte("{\"content\":\"a\x00b:c\\\\d\"}")
			r, err := c.SendWithReceipt(context.Background(), "/topic/channel.1", body,
				stomp.Header{Key: stomp.HdrContentType, Value: "application/json"})
			if err != nil {
				t.Fatal(err)
			}
			if r.Value(stomp.HdrMessageID) != "m-1" || r.Value("seq") != "1" {
				t.Errorf("RECEIPT = %v", r)
			}
			m := recv(t, sub)
			if !bytes.Equal(m.Body, body) || m.Value(stomp.HdrSubscription) != sub.ID ||
				m.Value(stomp.HdrDestination) != "/topic/channel.1" || m.Value("seq") != "1" {
				t.Errorf("MESSAGE = %v", m)
			}
			if err := c.Send("/topic/channel.1", []byte("fire and forget")); err != nil {
				t.Fatal(err)
			}
			if m := recv(t, sub); string(m.Body) != "fire and forget" {
				t.Errorf("MESSAGE = %v", m)
			}
		})
	}
}

func TestClientConcurrentSenders(t *testing.T) {
	s := newTestServer(t, testServerConfig{split: true})
	c := dial(t, s, ClientOptions{})
	const senders, each = 4, 25
	var mu sync.Mutex
	got := map[string][]int{}
	done := make(chan struct{})
	_, err := c.SubscribeFunc("/topic/load", func(f *stomp.Frame, at time.Time) {
		if at.IsZero() {
			t.Error("zero receive time")
		}
		var who string
		var n int
		fmt.Sscanf(string(f.Body), "%s %d", &who, &n)
		mu.Lock()
		got[who] = append(got[who], n)
		if len(got) == senders && len(got[who]) == each {
			total := 0
			for _, v := range got {
				total += len(v)
			}
			if total == senders*each {
				close(done)
			}
		}
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range each {
				body := []byte("s" + strconv.Itoa(i) + " " + strconv.Itoa(n))
				if _, err := c.SendWithReceipt(context.Background(), "/topic/load", body); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("not every message arrived")
	}
	mu.Lock()
	defer mu.Unlock()
	for who, ns := range got {
		for i, n := range ns {
			if n != i {
				t.Fatalf("%s: message %d arrived as #%d", who, n, i)
			}
		}
	}
}

func TestClientReplayBeforeReceipt(t *testing.T) {
	s := newTestServer(t, testServerConfig{})
	c := dial(t, s, ClientOptions{})
	sub, err := c.Subscribe("/topic/channel.2", stomp.Header{Key: "since-seq", Value: "7"})
	if err != nil {
		t.Fatal(err)
	}
	if m := recv(t, sub); string(m.Body) != "replay after 7" {
		t.Fatalf("first message = %v", m)
	}
}

func TestClientUnsubscribe(t *testing.T) {
	s := newTestServer(t, testServerConfig{})
	c := dial(t, s, ClientOptions{})
	sub, err := c.Subscribe("/topic/x")
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.Unsubscribe(); err != nil {
		t.Fatal(err)
	}
	if _, ok := <-sub.C; ok {
		t.Fatal("C not closed after Unsubscribe")
	}
	s.mu.Lock()
	for sc := range s.conns {
		if len(sc.subs) != 0 {
			t.Errorf("server still has %v", sc.subs)
		}
	}
	s.mu.Unlock()
	if err := sub.Unsubscribe(); err != nil {
		t.Fatalf("second Unsubscribe: %v", err)
	}
}

func TestClientServerErrors(t *testing.T) {
	s := newTestServer(t, testServerConfig{})
	var onError atomic.Int32
	c := dial(t, s, ClientOptions{})

	_, err := c.Subscribe("/topic/forbidden")
	var se *ServerError
	if !errors.As(err, &se) || se.Frame.Value(stomp.HdrMessage) != "forbidden /topic/forbidden" {
		t.Fatalf("forbidden SUBSCRIBE: %v", err)
	}
	_, err = c.SendWithReceipt(context.Background(), "/app/fail", []byte("why"))
	if !errors.As(err, &se) || se.Frame.Value(stomp.HdrMessage) != "rejected" || string(se.Frame.Body) != "why" {
		t.Fatalf("failed SEND: %v", err)
	}
	if err := c.Send("/app/error", nil); err != nil {
		t.Fatal(err)
	}
	select {
	case f := <-c.Errors():
		if f.Value(stomp.HdrMessage) != "something odd" {
			t.Errorf("ERROR = %v", f)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no ERROR on Errors()")
	}

	c2 := dial(t, s, ClientOptions{OnError: func(*stomp.Frame) { onError.Add(1) }})
	if err := c2.Send("/app/error", nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "OnError", func() bool { return onError.Load() == 1 })

	// ERROR then close: Err names the server's message.
	if err := c2.Send("/app/fatal", nil); err != nil {
		t.Fatal(err)
	}
	<-c2.Closed()
	if !errors.As(c2.Err(), &se) || se.Frame.Value(stomp.HdrMessage) != "going away" {
		t.Fatalf("Err after fatal ERROR = %v", c2.Err())
	}
}

func TestClientServerDrop(t *testing.T) {
	s := newTestServer(t, testServerConfig{})
	c := dial(t, s, ClientOptions{})
	sub, err := c.Subscribe("/topic/x")
	if err != nil {
		t.Fatal(err)
	}
	s.kick()
	select {
	case <-c.Closed():
	case <-time.After(5 * time.Second):
		t.Fatal("Closed not signalled after the server dropped the connection")
	}
	if c.Err() == nil || errors.Is(c.Err(), ErrClosed) {
		t.Fatalf("Err = %v", c.Err())
	}
	if _, ok := <-sub.C; ok {
		t.Fatal("subscription channel still open")
	}
	if _, err := c.SendWithReceipt(context.Background(), "/topic/x", nil); err == nil {
		t.Fatal("SendWithReceipt on a dropped connection succeeded")
	}
	if err := c.Close(); err != nil {
		t.Fatalf("Close after drop: %v", err)
	}
}

func TestClientClose(t *testing.T) {
	s := newTestServer(t, testServerConfig{})
	c := dial(t, s, ClientOptions{})
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(c.Err(), ErrClosed) {
		t.Fatalf("Err = %v", c.Err())
	}
	if s.disconnects.Load() != 1 {
		t.Fatal("server saw no DISCONNECT")
	}
	if err := c.Send("/topic/x", nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("Send after Close: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestClientCloseWithUnreadSubscription(t *testing.T) {
	s := newTestServer(t, testServerConfig{})
	c := dial(t, s, ClientOptions{SubscriptionBuffer: 1})
	if _, err := c.Subscribe("/topic/busy"); err != nil {
		t.Fatal(err)
	}
	sender := dial(t, s, ClientOptions{})
	for range 5 {
		if _, err := sender.SendWithReceipt(context.Background(), "/topic/busy", []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	// The read goroutine is stuck on the full channel; Close must still get its receipt.
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func TestClientSendsHeartbeats(t *testing.T) {
	s := newTestServer(t, testServerConfig{heartBeat: stomp.HeartBeat{Recv: 20 * time.Millisecond}})
	dial(t, s, ClientOptions{HeartBeat: stomp.HeartBeat{Send: 20 * time.Millisecond}})
	waitFor(t, "three client heart-beats", func() bool { return s.heartbeats.Load() >= 3 })
}

func TestClientDropsSilentServer(t *testing.T) {
	s := newTestServer(t, testServerConfig{heartBeat: stomp.HeartBeat{Send: 30 * time.Millisecond}})
	c := dial(t, s, ClientOptions{HeartBeat: stomp.HeartBeat{Recv: 30 * time.Millisecond}})
	select {
	case <-c.Closed():
	case <-time.After(5 * time.Second):
		t.Fatal("silent server not dropped")
	}
	if !errors.Is(c.Err(), ErrHeartbeatTimeout) {
		t.Fatalf("Err = %v", c.Err())
	}
}

func TestClientKeepsBeatingServer(t *testing.T) {
	// The server promises 100 ms and beats every 20 ms, so scheduling jitter cannot starve it.
	s := newTestServer(t, testServerConfig{
		heartBeat: stomp.HeartBeat{Send: 100 * time.Millisecond},
		beatEvery: 20 * time.Millisecond,
	})
	c := dial(t, s, ClientOptions{HeartBeat: stomp.HeartBeat{Recv: 100 * time.Millisecond}})
	select {
	case <-c.Closed():
		t.Fatalf("dropped a beating server: %v", c.Err())
	case <-time.After(500 * time.Millisecond):
	}
}
