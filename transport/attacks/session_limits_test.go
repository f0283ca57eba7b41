package attacks_test

import (
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	gobwas "github.com/gobwas/ws"

	"github.com/parley-chat/parley/stomp"
	"github.com/parley-chat/parley/stomp/stompclient"
	"github.com/parley-chat/parley/transport"
	"github.com/parley-chat/parley/transport/ws"
)

// A session must not outlive the token that opened it (OWASP WebSocket cheat sheet): at
// the token's exp the server sends ERROR token_expired and closes the socket, while the
// same user's session with a fresh token goes on. The expired token opens no new session.
func TestTokenExpiringWhileConnectedClosesTheSession(t *testing.T) {
	t.Parallel()
	n := startNode(t, nil)
	fresh := n.user("alice")
	tok, exp, err := n.srv.Verifier().Issue("alice", 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	short := &user{name: "alice", id: fresh.id, token: tok}
	s := n.workspace(fresh, "acme")

	doomed := n.raw(short)
	doomed.write(frame(stomp.CmdSubscribe, nil, stomp.HdrID, "s1", stomp.HdrDestination, destOf(s.general), stomp.HdrReceipt, "r1"))
	if f := doomed.next(); f.Command != stomp.CmdReceipt {
		t.Fatalf("got %s %v, want RECEIPT", f.Command, f.Headers)
	}
	other := n.dial(fresh)
	sub, err := other.Subscribe(destOf(s.general))
	if err != nil {
		t.Fatal(err)
	}

	f := doomed.expectError("token_expired")
	at := time.Now()
	if at.Before(exp.Add(-50 * time.Millisecond)) {
		t.Fatalf("closed at %v, before the token's exp %v", at, exp)
	}
	if at.After(exp.Add(3 * time.Second)) {
		t.Fatalf("closed at %v, long after the token's exp %v", at, exp)
	}
	if f.Value(stomp.HdrMessage) == "" {
		t.Errorf("ERROR without a message header: %v", f.Headers)
	}
	doomed.expectClosed(5 * time.Second)

	// Past its exp but within the verifier's leeway (5 s) the token still serves REST, but
	// a session with it would end at once: CONNECT is refused.
	again, err := n.rawDial(nil, true)
	if err != nil {
		t.Fatal(err)
	}
	again.write(connectFrame(short.token))
	again.expectError("token_expired")
	again.expectClosed(5 * time.Second)

	// The fresh session is untouched and still receives.
	n.post(fresh, s.general, "still here")
	select {
	case got := <-sub.C:
		if got.Value("seq") == "" || got.Value(stomp.HdrMessageID) == "" {
			t.Fatalf("unexpected frame %v", got.Headers)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("session with a fresh token got nothing: %v", other.Err())
	}
	if err := other.Err(); err != nil {
		t.Fatalf("fresh session ended: %v", err)
	}
}

// A CONNECT with a token expired beyond the clock leeway is unauthorized, as over REST.
// (The leeway is a millisecond: zero would mean auth's default of 5 s.)
func TestExpiredTokenIsRefusedAtConnect(t *testing.T) {
	t.Parallel()
	n := startNode(t, func(c *transport.Config) { c.JWTLeeway = time.Millisecond })
	tok, exp, err := n.srv.Verifier().Issue("bob", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the token to expire", 5*time.Second, func() bool { return time.Now().After(exp.Add(100 * time.Millisecond)) })
	c, err := n.rawDial(nil, true)
	if err != nil {
		t.Fatal(err)
	}
	c.write(connectFrame(tok))
	c.expectError("unauthorized")
	c.expectClosed(5 * time.Second)
}

// One user may hold at most MaxConnectionsPerUser sessions on a node (default 20): of 30
// concurrent CONNECTs exactly 20 succeed and the rest get ERROR too_many_connections;
// other users are unaffected, and a closed session frees its slot.
func TestConnectionsPerUserAreCapped(t *testing.T) {
	t.Parallel()
	n := startNode(t, nil)
	alice, bob := n.user("alice"), n.user("bob")
	const tries = 30
	var (
		mu      sync.Mutex
		clients []*stompclient.Client
		refused int
		wg      sync.WaitGroup
	)
	for range tries {
		wg.Go(func() {
			c, err := n.tryDial(alice)
			mu.Lock()
			defer mu.Unlock()
			var se *stompclient.ServerError
			switch {
			case err == nil:
				clients = append(clients, c)
			case errors.As(err, &se) && se.Frame.Value("code") == "too_many_connections":
				refused++
			default:
				t.Errorf("dial: %v", err)
			}
		})
	}
	wg.Wait()
	if len(clients) != ws.DefaultMaxConnectionsPerUser || refused != tries-ws.DefaultMaxConnectionsPerUser {
		t.Fatalf("%d sessions and %d refusals, want %d and %d", len(clients), refused,
			ws.DefaultMaxConnectionsPerUser, tries-ws.DefaultMaxConnectionsPerUser)
	}
	for range 3 {
		n.dial(bob) // another user's sessions are counted apart
	}
	if err := clients[0].Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the closed session's slot", 10*time.Second, func() bool {
		c, err := n.tryDial(alice)
		if err == nil {
			clients = append(clients, c)
		}
		return err == nil
	})
	for _, c := range clients[1:] {
		if err := c.Err(); err != nil {
			t.Fatalf("an admitted session ended: %v", err)
		}
	}
	n.healthy()
}

// The cap is configurable (transport.Config.WebSocket, --max-connections-per-user).
func TestConnectionCapIsConfigurable(t *testing.T) {
	t.Parallel()
	n := startNode(t, func(c *transport.Config) { c.WebSocket.MaxConnectionsPerUser = 2 })
	u := n.user("carol")
	n.dial(u)
	n.dial(u)
	_, err := n.tryDial(u)
	var se *stompclient.ServerError
	if !errors.As(err, &se) || se.Frame.Value("code") != "too_many_connections" {
		t.Fatalf("third session: %v, want ERROR too_many_connections", err)
	}
}

// With an Origin allow-list configured, a browser page from elsewhere is refused at the
// upgrade (403); an allowed origin and a non-browser client (no Origin) are served.
func TestDisallowedOriginIsRefusedAtUpgrade(t *testing.T) {
	t.Parallel()
	n := startNode(t, func(c *transport.Config) { c.AllowedOrigins = []string{"https://chat.example.com"} })
	u := n.user("dave")
	for _, origin := range []string{"https://evil.example.com", "http://chat.example.com", "https://chat.example.com.evil.io", "null"} {
		_, err := n.rawDial(http.Header{"Origin": {origin}}, false)
		var se gobwas.StatusError
		if !errors.As(err, &se) || int(se) != http.StatusForbidden {
			t.Errorf("Origin %q: %v, want 403", origin, err)
		}
	}
	ok, err := n.rawDial(http.Header{"Origin": {"https://chat.example.com"}}, true)
	if err != nil {
		t.Fatalf("allowed origin refused: %v", err)
	}
	ok.write(connectFrame(u.token))
	if f := ok.next(); f.Command != stomp.CmdConnected {
		t.Fatalf("allowed origin: %s %v", f.Command, f.Headers)
	}
	n.raw(u) // no Origin: not a browser page
}
