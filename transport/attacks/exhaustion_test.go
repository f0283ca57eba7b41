package attacks_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync"
	"testing"
	"time"

	gobwas "github.com/gobwas/ws"

	"github.com/parley-chat/parley/actors"
	"github.com/parley-chat/parley/stomp/stompclient"
	"github.com/parley-chat/parley/transport"
)

// Issue 21, finding 2 (ADR 0025): sockets that upgrade, never CONNECT and ping took a node
// to its file limit, because every frame restarted the CONNECT deadline; bodies trickled a
// byte at a time held HTTP connections without end.

// idleSocket is a WebSocket opened from a chosen source address that never CONNECTs.
type idleSocket struct {
	conn     net.Conn
	upgraded time.Time
	closed   chan time.Time // when the server ended it
	status   int            // the upgrade's answer
	header   http.Header
	body     []byte
}

// openIdle upgrades from source address from; a refused upgrade is returned with its
// status, header and body.
func (n *node) openIdle(from string) *idleSocket {
	n.t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	host := strings.TrimPrefix(n.base, "http://")
	conn, err := d.Dial("tcp", host)
	if err != nil {
		n.t.Fatalf("dial from %s: %v", from, err)
	}
	n.t.Cleanup(func() { _ = conn.Close() })
	req, _ := http.NewRequest(http.MethodGet, n.base+"/ws", nil)
	for k, v := range map[string]string{"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
		"Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Protocol": "v12.stomp"} {
		req.Header.Set(k, v)
	}
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if err := req.Write(conn); err != nil {
		n.t.Fatalf("upgrade: %v", err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		n.t.Fatalf("upgrade response: %v", err)
	}
	s := &idleSocket{conn: conn, upgraded: time.Now(), status: resp.StatusCode, header: resp.Header}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		s.body, _ = io.ReadAll(resp.Body)
		_ = conn.Close()
		return s
	}
	_ = conn.SetDeadline(time.Time{})
	s.closed = make(chan time.Time, 1)
	go func() { // pongs, the ERROR, the close frame; then the end
		_, _ = io.Copy(io.Discard, br)
		s.closed <- time.Now()
	}()
	return s
}

// pingEvery pings s every d until the server closes it.
func (s *idleSocket) pingEvery(d time.Duration) {
	go func() {
		t := time.NewTicker(d)
		defer t.Stop()
		for range t.C {
			_ = s.conn.SetWriteDeadline(time.Now().Add(time.Second))
			if gobwas.WriteFrame(s.conn, gobwas.MaskFrameInPlace(gobwas.NewPingFrame([]byte("ping")))) != nil {
				return
			}
		}
	}()
}

// More idle pinging sockets than the per-address cap come from one address: those past it
// get 503 at the upgrade; those admitted are closed at the CONNECT deadline, measured from
// their upgrade, although they keep pinging; meanwhile a normal client from another address
// connects, sends and receives, and REST answers. Afterwards nothing is left counted.
func TestIdlePingingSocketsAreCappedAndClosedAtTheDeadline(t *testing.T) {
	t.Parallel()
	const (
		timeout = 4 * time.Second
		capIP   = 20
		flood   = 30
	)
	n := startNode(t, func(c *transport.Config) {
		c.WebSocket.ConnectTimeout = timeout
		c.WebSocket.MaxUnauthenticatedPerIP = capIP
	})
	alice, bob := n.user("alice"), n.user("bob")
	s := n.workspace(alice, "acme", bob)

	var admitted []*idleSocket
	refused := 0
	for range flood {
		sock := n.openIdle("127.0.0.2")
		switch sock.status {
		case http.StatusSwitchingProtocols:
			sock.pingEvery(200 * time.Millisecond)
			admitted = append(admitted, sock)
		case http.StatusServiceUnavailable:
			refused++
			var p struct{ Code string }
			if err := json.Unmarshal(sock.body, &p); err != nil || p.Code != "unavailable" || sock.header.Get("Retry-After") == "" {
				t.Fatalf("503 without problem+json code unavailable and Retry-After: %v %s", sock.header, sock.body)
			}
		default:
			t.Fatalf("upgrade answered %d %s", sock.status, sock.body)
		}
	}
	t.Logf("%d sockets: %d upgraded, %d refused with 503", flood, len(admitted), refused)
	if len(admitted) != capIP || refused != flood-capIP {
		t.Fatalf("%d upgraded and %d refused, want %d and %d", len(admitted), refused, capIP, flood-capIP)
	}
	if g := n.metric("parley_ws_unauthenticated_sockets"); g != capIP {
		t.Fatalf("parley_ws_unauthenticated_sockets %v during the flood, want %d", g, capIP)
	}

	// A normal client, from its own address, during the flood.
	watcher := n.dial(bob)
	sub, err := watcher.Subscribe(destOf(s.general))
	if err != nil {
		t.Fatal(err)
	}
	sender := n.dial(alice)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := sender.SendWithReceipt(ctx, actors.DestMessageSend, sendBody(s.general, "still served")); err != nil {
		t.Fatalf("send during the flood: %v", err)
	}
	if f := nextOn(t, sub); !strings.Contains(string(f.Body), "still served") {
		t.Fatalf("got %s", f.Body)
	}
	n.healthy()
	for _, sock := range admitted {
		select {
		case <-sock.closed:
			t.Fatalf("a flood socket closed %v after its upgrade, before the normal client was done: the test did not overlap the flood",
				time.Since(sock.upgraded))
		default:
		}
	}

	// Every admitted socket is closed at its deadline, pings notwithstanding.
	var worst time.Duration
	for i, sock := range admitted {
		select {
		case at := <-sock.closed:
			took := at.Sub(sock.upgraded)
			worst = max(worst, took)
			if took < timeout-200*time.Millisecond || took > timeout+2*time.Second {
				t.Errorf("socket %d closed %v after its upgrade, want about %v", i, took, timeout)
			}
		case <-time.After(time.Until(sock.upgraded.Add(timeout + 5*time.Second))):
			t.Fatalf("socket %d still open %v after its upgrade, pinging (connect timeout %v)", i, time.Since(sock.upgraded), timeout)
		}
	}
	t.Logf("every flood socket closed by %v after its upgrade (connect timeout %v)", worst, timeout)
	waitFor(t, "the unauthenticated gauge to return to zero", 5*time.Second, func() bool {
		return n.metric("parley_ws_unauthenticated_sockets") == 0
	})
	if got := n.metric("parley_ws_connect_timeouts_total"); got != capIP {
		t.Errorf("parley_ws_connect_timeouts_total %v, want %d", got, capIP)
	}
	if got := n.metric("parley_ws_upgrades_refused_total"); got != flood-capIP {
		t.Errorf("parley_ws_upgrades_refused_total %v, want %d", got, flood-capIP)
	}
	if err := watcher.Err(); err != nil {
		t.Fatalf("the normal client's session ended: %v", err)
	}
}

// Authenticated sockets count against their address's cap too (MaxSocketsPerIP): past it
// the upgrade gets 503; another address is unaffected, and a closed session frees its place.
func TestSocketsPerAddressAreCapped(t *testing.T) {
	t.Parallel()
	n := startNode(t, func(c *transport.Config) { c.WebSocket.MaxSocketsPerIP = 3 })
	alice := n.user("alice")
	dialFrom := func(from string) (*stompclient.Client, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := stompclient.Dial(ctx, n.ws, stompclient.ClientOptions{Token: alice.token, LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}})
		if err == nil {
			t.Cleanup(func() { _ = c.Close() })
		}
		return c, err
	}
	var office []*stompclient.Client
	for range 3 {
		c, err := dialFrom("127.0.0.3")
		if err != nil {
			t.Fatalf("session within the cap: %v", err)
		}
		office = append(office, c)
	}
	over := n.openIdle("127.0.0.3")
	if over.status != http.StatusServiceUnavailable || over.header.Get("Retry-After") == "" {
		t.Fatalf("fourth socket from one address: %d %v %s, want 503 with Retry-After", over.status, over.header, over.body)
	}
	if !strings.Contains(string(over.body), "too many WebSocket connections from this address") {
		t.Errorf("503 body %s", over.body)
	}
	if _, err := dialFrom("127.0.0.4"); err != nil {
		t.Fatalf("another address refused: %v", err)
	}
	if err := office[0].Close(); err != nil {
		t.Logf("close: %v", err)
	}
	waitFor(t, "the closed session's place to free", 5*time.Second, func() bool {
		c, err := dialFrom("127.0.0.3")
		if err == nil {
			_ = c.Close()
		}
		return err == nil
	})
}

// trickle is a POST whose body is sent a byte at a time; it records when the response came
// and whether the server closed the connection afterwards.
type trickle struct {
	start  time.Time
	resp   *http.Response
	body   []byte
	at     time.Time
	closed bool // the server closed the connection after the response
}

// postTrickling sends POST path with Content-Length: 100000 and writes one byte every
// interval until the server answers (or 30 s pass).
func (n *node) postTrickling(path string, u *user, interval time.Duration, headers ...string) trickle {
	n.t.Helper()
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(n.base, "http://"), 5*time.Second)
	if err != nil {
		n.t.Fatal(err)
	}
	defer conn.Close()
	req := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: parley\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n", path)
	if u != nil {
		req += "Authorization: Bearer " + u.token + "\r\n"
	}
	for _, h := range headers {
		req += h + "\r\n"
	}
	tr := trickle{start: time.Now()}
	if _, err := io.WriteString(conn, req+"\r\n{"); err != nil {
		n.t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				_ = conn.SetWriteDeadline(time.Now().Add(time.Second))
				if _, err := conn.Write([]byte(" ")); err != nil {
					return
				}
			}
		}
	})
	defer func() { close(stop); wg.Wait() }()
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		n.t.Fatalf("POST %s: no response: %v (after %v)", path, err, time.Since(tr.start))
	}
	tr.at, tr.resp = time.Now(), resp
	tr.body, _ = io.ReadAll(resp.Body)
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = br.ReadByte()
	tr.closed = err == io.EOF
	return tr
}

// A body trickled a byte at a time gets 408 problem+json request_timeout at the body
// deadline, and the connection is closed; 20 unauthenticated trickles at once get their
// 401 without waiting for the body and are closed too. A body that arrives in time is
// served, and its connection kept for the next request.
func TestTrickledBodyGets408AtTheDeadline(t *testing.T) {
	t.Parallel()
	const timeout = 2 * time.Second
	n := startNode(t, func(c *transport.Config) { c.BodyTimeout = timeout })
	alice := n.user("alice")

	tr := n.postTrickling("/api/workspaces", alice, 200*time.Millisecond)
	took := tr.at.Sub(tr.start)
	t.Logf("trickled body: %d after %v", tr.resp.StatusCode, took)
	if tr.resp.StatusCode != http.StatusRequestTimeout {
		t.Fatalf("trickled body answered %d %s, want 408", tr.resp.StatusCode, tr.body)
	}
	var p struct{ Code string }
	if err := json.Unmarshal(tr.body, &p); err != nil || p.Code != "request_timeout" ||
		tr.resp.Header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("408 body %s (%s), want problem+json code request_timeout", tr.body, tr.resp.Header.Get("Content-Type"))
	}
	if took < timeout-100*time.Millisecond || took > timeout+2*time.Second {
		t.Errorf("408 after %v, want about %v", took, timeout)
	}
	if !tr.closed {
		t.Errorf("connection still open after the 408")
	}
	// An Upgrade header does not make a POST exempt.
	if tr := n.postTrickling("/api/workspaces", alice, 200*time.Millisecond, "Upgrade: websocket", "Connection: Upgrade"); tr.resp.StatusCode != http.StatusRequestTimeout {
		t.Fatalf("trickled body with an Upgrade header answered %d after %v, want 408", tr.resp.StatusCode, tr.at.Sub(tr.start))
	}

	// Unauthenticated, as in the finding: refused before the body is read, and closed.
	var wg sync.WaitGroup
	results := make([]trickle, 20)
	for i := range results {
		wg.Go(func() { results[i] = n.postTrickling("/api/workspaces", nil, 200*time.Millisecond) })
	}
	wg.Wait()
	for i, r := range results {
		if r.resp.StatusCode != http.StatusUnauthorized || !r.closed {
			t.Fatalf("unauthenticated trickle %d: %d after %v, closed %v; want 401 and closed", i, r.resp.StatusCode, r.at.Sub(r.start), r.closed)
		}
		if d := r.at.Sub(r.start); d >= timeout {
			t.Errorf("unauthenticated trickle %d answered after %v: it waited for the body deadline", i, d)
		}
	}

	// A slow body that arrives in time is served, and the connection is reused.
	var reused []bool
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	for i := range 2 {
		pr, pw := io.Pipe()
		go func() {
			for _, part := range []string{`{"name":`, `"slow`, fmt.Sprint(i), `"}`} {
				time.Sleep(100 * time.Millisecond)
				_, _ = pw.Write([]byte(part))
			}
			_ = pw.Close()
		}()
		req, _ := http.NewRequest(http.MethodPost, n.base+"/api/workspaces", pr)
		req.Header.Set("Authorization", "Bearer "+alice.token)
		req.Header.Set("Content-Type", "application/json")
		gotConn := false
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
			GotConn: func(info httptrace.GotConnInfo) { gotConn = info.Reused },
		}))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("slow body in time: %d %s", resp.StatusCode, raw)
		}
		reused = append(reused, gotConn)
	}
	if !reused[1] {
		t.Errorf("the second request did not reuse the connection: a served body's connection was closed")
	}
}

// A keep-alive HTTP connection with no next request is closed after IdleTimeout.
func TestIdleKeepAliveConnectionIsClosed(t *testing.T) {
	t.Parallel()
	const idle = time.Second
	n := startNode(t, func(c *transport.Config) { c.IdleTimeout = idle })
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(n.base, "http://"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: parley\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	answered := time.Now()
	_ = conn.SetReadDeadline(time.Now().Add(idle + 5*time.Second))
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("idle connection: %v after %v, want the server's close", err, time.Since(answered))
	}
	if d := time.Since(answered); d < idle-100*time.Millisecond || d > idle+2*time.Second {
		t.Errorf("idle connection closed after %v, want about %v", d, idle)
	}
}
