package ws_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/parley-chat/parley/internal/logtest"
	"github.com/parley-chat/parley/persistence"
	"github.com/parley-chat/parley/stomp/stompclient"
	"github.com/parley-chat/parley/transport/auth"
)

// mintToken stores an API token for userID expiring after ttl and returns it.
func (e *env) mintToken(userID int64, ttl time.Duration) (string, persistence.APIToken) {
	e.t.Helper()
	raw, hash, shown, err := auth.NewAPIToken()
	if err != nil {
		e.t.Fatal(err)
	}
	tok, err := e.store.CreateAPIToken(context.Background(), persistence.NewAPIToken{
		UserID: userID, Name: "test", Hash: hash, Prefix: shown, ExpiresAt: time.Now().Add(ttl)})
	if err != nil {
		e.t.Fatal(err)
	}
	return raw, tok
}

// An API token opens a STOMP session as its owner; revoked, the session gets ERROR
// token_revoked and is closed within 1 s while its owner's JWT session stays; an expired or
// revoked token cannot CONNECT; a session ends with token_expired when its token expires.
// Nothing logged holds a token (ADR 0035).
func TestAPITokenSessions(t *testing.T) {
	t.Parallel()
	rec := &logtest.Recorder{}
	e := newEnv(t, envOptions{logger: slog.New(rec)})
	jwt, alice := e.user("alice")
	raw, tok := e.mintToken(alice, time.Hour)
	short, _ := e.mintToken(alice, 3*time.Second) // outlives the dials below on a loaded machine
	viaToken, viaJWT := e.dial(raw), e.dial(jwt)
	expiring := e.dial(short)

	if err := e.store.RevokeAPIToken(context.Background(), alice, tok.ID); err != nil {
		t.Fatal(err)
	}
	e.sys.TokenRevoked(alice, tok.ID)
	revoked := time.Now()
	select {
	case f := <-viaToken.Errors():
		if f.Value("code") != "token_revoked" {
			t.Fatalf("ERROR %v %q, want token_revoked", f.Headers, f.Body)
		}
	case <-time.After(time.Second - time.Since(revoked)):
		t.Fatal("no ERROR within 1 s of the revocation")
	}
	select {
	case <-viaToken.Closed():
	case <-time.After(5 * time.Second):
		t.Fatal("the revoked token's session is still open")
	}
	if _, err := viaJWT.Subscribe(persistence.QueueMentions); err != nil {
		t.Fatalf("the JWT session after the revocation: %v", err)
	}
	select {
	case <-viaJWT.Closed():
		t.Fatal("the owner's JWT session was closed by the token's revocation")
	default:
	}

	for _, bad := range []string{raw, "plt_" + strings.Repeat("x", 43), "plt_nope"} {
		_, err := stompclient.Dial(ctxT(t, 10*time.Second), e.url, stompclient.ClientOptions{Token: bad})
		if f := serverError(t, err); f.Value("code") != "unauthorized" {
			t.Errorf("CONNECT with %.8s…: ERROR %v, want unauthorized", bad, f.Headers)
		}
	}

	select {
	case f := <-expiring.Errors():
		if f.Value("code") != "token_expired" {
			t.Fatalf("expiring session: ERROR %v %q, want token_expired", f.Headers, f.Body)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the session outlived its API token")
	}
	_, err := stompclient.Dial(ctxT(t, 10*time.Second), e.url, stompclient.ClientOptions{Token: short})
	if f := serverError(t, err); f.Value("code") != "unauthorized" || !strings.Contains(string(f.Body)+f.Value("message"), "expired") {
		t.Errorf("CONNECT with an expired token: ERROR %v %q", f.Headers, f.Body)
	}

	for _, r := range rec.Records() {
		line := r.Message
		r.Attrs(func(a slog.Attr) bool { line += " " + a.String(); return true })
		for _, secret := range []string{raw, short} {
			if strings.Contains(line, secret[4:]) {
				t.Errorf("logged: %s", line)
			}
		}
	}
}
