package api_test

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parley-chat/parley/internal/logtest"
	"github.com/parley-chat/parley/persistence"
	"github.com/parley-chat/parley/transport/api"
)

type createdToken struct {
	ID        int64            `json:"id,string"`
	Name      string           `json:"name"`
	Token     string           `json:"token"`
	Prefix    string           `json:"prefix"`
	CreatedAt persistence.Time `json:"createdAt"`
	ExpiresAt persistence.Time `json:"expiresAt"`
}

// An API token is shown once, stored as its SHA-256 only, authenticates its owner, is
// listed without its secret, can be revoked by its owner only, and is refused once revoked
// or expired; nothing the server logs or answers holds it (ADR 0035).
func TestAPITokens(t *testing.T) {
	t.Parallel()
	rec := &logtest.Recorder{}
	h := newHarness(t, harnessOpts{logger: slog.New(rec)})
	alice, bob := h.user("alice"), h.user("bob")

	var tok createdToken
	if st := alice.ok("POST", "/api/users/me/tokens", map[string]any{"name": " deploy bot "}, &tok); st != http.StatusCreated {
		t.Fatalf("create: %d", st)
	}
	if !strings.HasPrefix(tok.Token, "plt_") || len(tok.Token) != 4+43 || tok.Name != "deploy bot" ||
		tok.Prefix != tok.Token[:8] || tok.ID == 0 {
		t.Fatalf("created %+v", tok)
	}
	if d := tok.ExpiresAt.Sub(tok.CreatedAt.Time) - api.DefaultAPITokenTTL; d < -time.Minute || d > time.Minute {
		t.Errorf("expires %v after creation, want %v", tok.ExpiresAt.Sub(tok.CreatedAt.Time), api.DefaultAPITokenTTL)
	}
	// Only the hash is stored: no column of the row holds the secret.
	sum := sha256.Sum256([]byte(tok.Token))
	if n := h.count(`SELECT count(*) FROM api_tokens WHERE id = $1 AND user_id = $2 AND token_hash = $3`, tok.ID, alice.id, sum[:]); n != 1 {
		t.Fatalf("%d rows with the token's SHA-256", n)
	}
	if n := h.count(`SELECT count(*) FROM api_tokens t WHERE strpos(row_to_json(t)::text, $1) > 0`, tok.Token[8:]); n != 0 {
		t.Fatalf("%d rows hold the secret in clear", n)
	}

	asToken := &client{h: h, token: tok.Token, name: "alice's token"}
	var me persistence.User
	asToken.ok("GET", "/api/users/me", nil, &me)
	if me.ID != alice.id {
		t.Fatalf("the token is user %d, want alice %d", me.ID, alice.id)
	}
	// An API token cannot mint tokens any less than a JWT can: it is its owner.
	var second createdToken
	asToken.ok("POST", "/api/users/me/tokens", map[string]any{"name": "second", "expiresIn": 3600}, &second)
	if d := second.ExpiresAt.Sub(second.CreatedAt.Time); d < 59*time.Minute || d > 61*time.Minute {
		t.Errorf("expiresIn 3600: expires after %v", d)
	}

	_, raw := alice.do("GET", "/api/users/me/tokens", nil)
	if strings.Contains(string(raw), tok.Token) || strings.Contains(string(raw), second.Token) || strings.Contains(string(raw), `"token"`) {
		t.Fatalf("the list holds a secret: %s", raw)
	}
	var list struct{ Items []persistence.APIToken }
	if err := json.Unmarshal(raw, &list); err != nil || len(list.Items) != 2 || list.Items[0].ID != second.ID ||
		list.Items[1].ID != tok.ID || list.Items[1].Prefix != tok.Prefix || list.Items[1].LastUsedAt == nil || list.Items[0].Name != "second" {
		t.Fatalf("list %s", raw)
	}
	var bobs struct{ Items []persistence.APIToken }
	bob.ok("GET", "/api/users/me/tokens", nil, &bobs)
	if len(bobs.Items) != 0 {
		t.Fatalf("bob lists %+v", bobs.Items)
	}

	// Bad input: 400 and nothing stored.
	for _, body := range []any{
		map[string]any{"name": ""}, map[string]any{"name": "   "}, map[string]any{"name": strings.Repeat("é", 65)},
		map[string]any{"name": "bell\a"}, map[string]any{"name": "x", "expiresIn": 59},
		map[string]any{"name": "x", "expiresIn": 367 * 24 * 3600}, map[string]any{"name": "x", "expiresIn": "1h"},
		map[string]any{"name": "x", "scopes": []string{"all"}},
	} {
		alice.expect(http.StatusBadRequest, "POST", "/api/users/me/tokens", body)
	}
	if n := h.count(`SELECT count(*) FROM api_tokens`); n != 2 {
		t.Fatalf("%d tokens after bad requests, want 2", n)
	}

	// Someone else's token is not found, and still works.
	bob.expect(http.StatusNotFound, "DELETE", fmt.Sprintf("/api/users/me/tokens/%d", tok.ID), nil)
	asToken.ok("GET", "/api/users/me", nil, nil)

	alice.expect(http.StatusNoContent, "DELETE", fmt.Sprintf("/api/users/me/tokens/%d", tok.ID), nil)
	if got := h.events.revokedTokens(); len(got) != 1 || got[0] != [2]int64{alice.id, tok.ID} {
		t.Fatalf("TokenRevoked calls %v", got)
	}
	b := asToken.expect(http.StatusUnauthorized, "GET", "/api/users/me", nil)
	if strings.Contains(string(b), tok.Token) {
		t.Errorf("the problem holds the token: %s", b)
	}
	alice.expect(http.StatusNotFound, "DELETE", fmt.Sprintf("/api/users/me/tokens/%d", tok.ID), nil)

	// Expired: 401, saying so.
	if _, err := h.store.Pool().Exec(t.Context(), `UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE id = $1`, second.ID); err != nil {
		t.Fatal(err)
	}
	b = (&client{h: h, token: second.Token, name: "expired"}).expect(http.StatusUnauthorized, "GET", "/api/users/me", nil)
	var p api.Problem
	if err := json.Unmarshal(b, &p); err != nil || p.Code != "unauthorized" || !strings.Contains(p.Detail, "expired") {
		t.Errorf("expired token: %s", b)
	}
	// Malformed and unknown tokens: 401.
	for _, bad := range []string{"plt_", "plt_short", "plt_" + strings.Repeat("A", 43)} {
		(&client{h: h, token: bad, name: "bad"}).expect(http.StatusUnauthorized, "GET", "/api/users/me", nil)
	}

	for _, r := range rec.Records() {
		line := r.Message
		r.Attrs(func(a slog.Attr) bool { line += " " + a.String(); return true })
		for _, secret := range []string{tok.Token, second.Token} {
			if strings.Contains(line, secret) || strings.Contains(line, secret[8:]) {
				t.Errorf("logged: %s", line)
			}
		}
	}
}
