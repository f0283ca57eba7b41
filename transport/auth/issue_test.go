package auth

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/parley-chat/parley/persistence"
)

func TestIssueRoundTrip(t *testing.T) {
	clk := newClock()
	clk.Advance(400 * time.Millisecond) // exp must come out in whole seconds
	v := newTestVerifier(t, Config{HS256Secret: testSecret, Issuer: "parley-dev", Audience: "parley"}, nil, clk)

	tok, exp, err := v.Issue("  Alice ", 0)
	if err != nil {
		t.Fatal(err)
	}
	if want := t0.Add(DefaultDevTokenTTL); !exp.Equal(want) {
		t.Fatalf("expiresAt = %v, want %v", exp, want)
	}
	id, err := v.Verify(t.Context(), tok)
	if err != nil {
		t.Fatalf("issued token does not verify: %v", err)
	}
	if id.Subject != "dev:alice" || id.Username != "alice" || !id.ExpiresAt.Equal(exp) {
		t.Fatalf("identity = %+v", id)
	}

	// A verifier expecting another audience or issuer refuses it.
	for _, cfg := range []Config{
		{HS256Secret: testSecret, Issuer: "parley-dev", Audience: "other"},
		{HS256Secret: testSecret, Issuer: "other", Audience: "parley"},
	} {
		if _, err := newTestVerifier(t, cfg, nil, clk).Verify(t.Context(), tok); !errors.Is(err, ErrInvalidToken) {
			t.Fatalf("cfg %+v accepted the token: %v", cfg, err)
		}
	}

	short, exp, err := v.Issue("bob", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if !exp.Equal(t0.Add(time.Minute)) {
		t.Fatalf("expiresAt = %v", exp)
	}
	clk.Advance(time.Minute + DefaultLeeway + time.Second)
	if _, err := v.Verify(t.Context(), short); !errors.Is(err, ErrTokenExpired) {
		t.Fatalf("err = %v, want ErrTokenExpired", err)
	}
}

func TestIssueRejects(t *testing.T) {
	v := newTestVerifier(t, Config{HS256Secret: testSecret}, nil, newClock())
	for _, name := range []string{"", "   ", "al ice", "日本", "a@b", "x/y", strings.Repeat("a", persistence.MaxUsernameLen+1)} {
		if _, _, err := v.Issue(name, 0); !errors.Is(err, ErrBadUsername) {
			t.Errorf("Issue(%q) err = %v, want ErrBadUsername", name, err)
		}
	}
	if _, _, err := v.Issue(strings.Repeat("a", persistence.MaxUsernameLen), 0); err != nil {
		t.Errorf("Issue of a %d-char name: %v", persistence.MaxUsernameLen, err)
	}
	jwksOnly := newTestVerifier(t, Config{JWKSURL: "https://idp.example.com/jwks"}, nil, newClock())
	if _, _, err := jwksOnly.Issue("alice", 0); !errors.Is(err, ErrNoSecret) {
		t.Fatalf("err = %v, want ErrNoSecret", err)
	}
}

func TestTokenFromRequest(t *testing.T) {
	tests := []struct {
		name, auth, target, want string
	}{
		{"bearer", "Bearer abc.def.ghi", "/", "abc.def.ghi"},
		{"lowercase scheme", "bearer abc", "/", "abc"},
		{"uppercase scheme", "BEARER abc", "/", "abc"},
		{"extra spaces", "  Bearer    abc  ", "/", "abc"},
		{"header beats query", "Bearer hdr", "/?access_token=qry", "hdr"},
		{"query only", "", "/ws?access_token=qry", "qry"},
		{"basic falls back to query", "Basic dXNlcjpwdw==", "/?access_token=qry", "qry"},
		{"empty bearer falls back", "Bearer ", "/?access_token=qry", "qry"},
		{"scheme only", "Bearer", "/", ""},
		{"bearer prefix without space", "Bearerabc", "/", ""},
		{"none", "", "/", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", tt.target, nil)
			if tt.auth != "" {
				r.Header.Set("Authorization", tt.auth)
			}
			if got := TokenFromRequest(r); got != tt.want {
				t.Fatalf("TokenFromRequest = %q, want %q", got, tt.want)
			}
		})
	}
}
