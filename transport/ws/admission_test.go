package ws_test

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"testing"
	"time"

	gobwas "github.com/gobwas/ws"

	"github.com/parley-chat/parley/stomp"
	"github.com/parley-chat/parley/transport/ws"
)

// upgraded is a WebSocket opened by hand from a chosen source address, or the refusal of
// its upgrade (conn nil).
type upgraded struct {
	conn   net.Conn
	br     *bufio.Reader
	refuse *http.Response // the answer when it was not 101
	body   []byte
}

// upgradeFrom sends a WebSocket upgrade to rawURL from source address from (e.g.
// "127.0.0.2") and returns the socket, or the refusal. header adds to the handshake.
func upgradeFrom(t *testing.T, rawURL, from string, header http.Header) upgraded {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	conn, err := d.Dial("tcp", u.Host)
	if err != nil {
		t.Fatalf("dial from %s: %v", from, err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	req, _ := http.NewRequest(http.MethodGet, "http://"+u.Host+u.Path, nil)
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	req.Header.Set("Sec-WebSocket-Protocol", "v12.stomp")
	for k, v := range header {
		req.Header[k] = v
	}
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if err := req.Write(conn); err != nil {
		t.Fatalf("write upgrade: %v", err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		t.Fatalf("read upgrade response: %v", err)
	}
	_ = conn.SetDeadline(time.Time{})
	if resp.StatusCode == http.StatusSwitchingProtocols {
		return upgraded{conn: conn, br: br}
	}
	body, _ := io.ReadAll(resp.Body)
	_ = conn.Close()
	return upgraded{refuse: resp, body: body}
}

// send writes one masked client frame.
func (u upgraded) send(t *testing.T, f gobwas.Frame) error {
	t.Helper()
	_ = u.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	return gobwas.WriteFrame(u.conn, gobwas.MaskFrameInPlace(f))
}

// closedWithin reads the server's frames until the socket ends, and reports when it did;
// it fails the test when the socket is still open after d.
func (u upgraded) closedWithin(t *testing.T, d time.Duration) <-chan time.Time {
	t.Helper()
	at := make(chan time.Time, 1)
	_ = u.conn.SetReadDeadline(time.Now().Add(d))
	go func() {
		_, _ = io.Copy(io.Discard, u.br) // pongs, ERROR, the close frame; then EOF
		at <- time.Now()
	}()
	return at
}

func expectRefused(t *testing.T, u upgraded, reasonText string) {
	t.Helper()
	if u.refuse == nil {
		t.Fatalf("upgrade accepted, want 503 (%s)", reasonText)
	}
	if u.refuse.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("upgrade answered %d %s, want 503", u.refuse.StatusCode, u.body)
	}
	if u.refuse.Header.Get("Retry-After") == "" {
		t.Errorf("503 without Retry-After: %v", u.refuse.Header)
	}
	if ct := u.refuse.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("503 Content-Type %q", ct)
	}
	var p struct{ Code, Detail string }
	if err := json.Unmarshal(u.body, &p); err != nil || p.Code != "unavailable" || p.Detail != reasonText {
		t.Errorf("503 body %s, want code unavailable and detail %q", u.body, reasonText)
	}
}

// The CONNECT deadline runs from the upgrade: pings, empty frames and a STOMP frame sent a
// byte at a time, every 100 ms, do not keep a socket without CONNECT open past it.
func TestConnectDeadlineIsNotExtendedByFrames(t *testing.T) {
	t.Parallel()
	const timeout = time.Second
	e := newEnv(t, envOptions{ws: ws.Config{ConnectTimeout: timeout}})
	connect := []byte("CONNECT\naccept-version:1.2\n\n")
	for _, tc := range []struct {
		name  string
		frame func(i int) gobwas.Frame
	}{
		{"ping", func(int) gobwas.Frame { return gobwas.NewPingFrame([]byte("are you there")) }},
		{"empty text", func(int) gobwas.Frame { return gobwas.NewTextFrame(nil) }},
		{"partial CONNECT", func(i int) gobwas.Frame { return gobwas.NewTextFrame(connect[i%len(connect) : i%len(connect)+1]) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := upgradeFrom(t, e.url, "127.0.0.1", nil)
			if s.conn == nil {
				t.Fatalf("upgrade refused: %d %s", s.refuse.StatusCode, s.body)
			}
			start := time.Now()
			closed := s.closedWithin(t, 10*time.Second)
			tick := time.NewTicker(100 * time.Millisecond)
			defer tick.Stop()
			for i := 0; ; i++ {
				select {
				case at := <-closed:
					took := at.Sub(start)
					t.Logf("closed %v after the upgrade", took)
					if took < timeout-100*time.Millisecond || took > timeout+2*time.Second {
						t.Fatalf("closed %v after the upgrade, want about %v", took, timeout)
					}
					return
				case <-tick.C:
					if time.Since(start) > 10*time.Second {
						t.Fatalf("still open %v after the upgrade (connect timeout %v)", time.Since(start), timeout)
					}
					_ = s.send(t, tc.frame(i))
				}
			}
		})
	}
}

// Unauthenticated sockets are capped per address and in total, and all sockets per
// address; past a cap the upgrade gets 503 before it is hijacked. Every way out of a socket
// — a refused upgrade, a client that goes away, a refused CONNECT, a first frame that is not
// CONNECT, a session's end — gives its counts back.
func TestSocketCapsAndTheirRelease(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{ws: ws.Config{
		MaxUnauthenticatedPerIP: 2, MaxUnauthenticated: 3, MaxSocketsPerIP: 3, ConnectTimeout: 30 * time.Second,
	}})
	tok, _ := e.user("alice")
	counts := func(wantUnauth, wantAddrs int) {
		t.Helper()
		waitFor(t, "the socket counts", 5*time.Second, func() bool {
			u, a := e.h.Admitted()
			return u == wantUnauth && a == wantAddrs
		})
		if g := e.metric("parley_ws_unauthenticated_sockets"); g != float64(wantUnauth) {
			t.Fatalf("parley_ws_unauthenticated_sockets %v, want %d", g, wantUnauth)
		}
	}

	// Not a WebSocket handshake: refused by the upgrader after admission, nothing kept.
	resp, err := http.Get("http" + e.url[len("ws"):])
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	counts(0, 0)

	a1 := upgradeFrom(t, e.url, "127.0.0.1", nil)
	a2 := upgradeFrom(t, e.url, "127.0.0.1", nil)
	expectRefused(t, upgradeFrom(t, e.url, "127.0.0.1", nil), "too many WebSocket connections from this address are waiting for CONNECT")
	b1 := upgradeFrom(t, e.url, "127.0.0.2", nil)
	expectRefused(t, upgradeFrom(t, e.url, "127.0.0.2", nil), "too many WebSocket connections are waiting for CONNECT")
	for _, s := range []upgraded{a1, a2, b1} {
		if s.conn == nil {
			t.Fatalf("upgrade within the caps refused: %d %s", s.refuse.StatusCode, s.body)
		}
	}
	counts(3, 2)

	// a1 CONNECTs: no longer unauthenticated, still one of 127.0.0.1's sockets.
	if err := a1.send(t, gobwas.NewTextFrame([]byte("CONNECT\naccept-version:1.2\npasscode:"+tok+"\n\n\x00"))); err != nil {
		t.Fatal(err)
	}
	f := readFrame(t, a1)
	if f.Command != stomp.CmdConnected {
		t.Fatalf("got %s %v, want CONNECTED", f.Command, f.Headers)
	}
	counts(2, 2)
	a3 := upgradeFrom(t, e.url, "127.0.0.1", nil)
	if a3.conn == nil {
		t.Fatalf("upgrade refused: %d %s", a3.refuse.StatusCode, a3.body)
	}
	// 127.0.0.1 has three sockets, one of them authenticated: its cap of all sockets refuses.
	expectRefused(t, upgradeFrom(t, e.url, "127.0.0.1", nil), "too many WebSocket connections from this address")
	counts(3, 2)

	_ = a2.conn.Close() // goes away before CONNECT
	if err := b1.send(t, gobwas.NewTextFrame([]byte("CONNECT\naccept-version:1.2\npasscode:not-a-token\n\n\x00"))); err != nil {
		t.Fatal(err)
	}
	if f := readFrame(t, b1); f.Command != stomp.CmdError || f.Value("code") != "unauthorized" {
		t.Fatalf("bad token: got %s %v", f.Command, f.Headers)
	}
	if err := a3.send(t, gobwas.NewTextFrame([]byte("SUBSCRIBE\nid:1\ndestination:/topic/x\n\n\x00"))); err != nil {
		t.Fatal(err)
	}
	if f := readFrame(t, a3); f.Command != stomp.CmdError {
		t.Fatalf("SUBSCRIBE before CONNECT: got %s %v", f.Command, f.Headers)
	}
	counts(0, 1) // a1's session is all that is left
	_ = a1.conn.Close()
	counts(0, 0)

	refused := map[string]float64{}
	mfs, _ := e.reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() == "parley_ws_upgrades_refused_total" {
			for _, m := range mf.GetMetric() {
				refused[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
			}
		}
	}
	if refused["unauthenticated_per_ip"] != 1 || refused["unauthenticated"] != 1 || refused["per_ip"] != 1 {
		t.Fatalf("parley_ws_upgrades_refused_total %v, want one of each reason", refused)
	}
}

// Sockets closed at the CONNECT deadline give their counts back, and are counted.
func TestConnectTimeoutsReleaseTheirSlots(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{ws: ws.Config{ConnectTimeout: 2 * time.Second, MaxUnauthenticatedPerIP: 4}})
	var closed []<-chan time.Time
	for range 4 {
		s := upgradeFrom(t, e.url, "127.0.0.1", nil)
		if s.conn == nil {
			t.Fatalf("upgrade refused: %d %s", s.refuse.StatusCode, s.body)
		}
		closed = append(closed, s.closedWithin(t, 10*time.Second))
	}
	expectRefused(t, upgradeFrom(t, e.url, "127.0.0.1", nil), "too many WebSocket connections from this address are waiting for CONNECT")
	for _, c := range closed {
		<-c
	}
	waitFor(t, "the counts to return to zero", 5*time.Second, func() bool {
		u, a := e.h.Admitted()
		return u == 0 && a == 0
	})
	if n := e.metric("parley_ws_connect_timeouts_total"); n != 4 {
		t.Fatalf("parley_ws_connect_timeouts_total %v, want 4", n)
	}
	// The address may open sockets again.
	if s := upgradeFrom(t, e.url, "127.0.0.1", nil); s.conn == nil {
		t.Fatalf("upgrade after the timeouts refused: %d %s", s.refuse.StatusCode, s.body)
	}
}

// readFrame reads the server's next STOMP frame on u (skipping control frames).
func readFrame(t *testing.T, u upgraded) *stomp.Frame {
	t.Helper()
	_ = u.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		fr, err := gobwas.ReadFrame(u.br)
		if err != nil {
			t.Fatalf("read frame: %v", err)
		}
		if fr.Header.OpCode.IsControl() {
			continue
		}
		dec := stomp.NewDecoder(stomp.Limits{})
		dec.Feed(fr.Payload)
		f, err := dec.Next()
		if err != nil || f == nil {
			t.Fatalf("decode %q: %v", fr.Payload, err)
		}
		return f
	}
}
