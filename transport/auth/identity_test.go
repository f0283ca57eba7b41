package auth

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

var usernameRE = regexp.MustCompile(`^[a-z0-9_.-]{1,64}$`)

func TestDeriveUsername(t *testing.T) {
	tests := []struct {
		name, preferred, email, sub, want string
	}{
		{"preferred wins", "Alice", "bob@example.com", "s1", "alice"},
		{"email local part", "", "Bob.Smith@Example.com", "s1", "bob.smith"},
		{"email with plus", "", "carol+chat@example.com", "s1", "carolchat"},
		{"email without at", "", "dave", "s1", "dave"},
		{"quoted local part keeps up to last at", "", `"e@x"@example.com`, "s1", "ex"},
		{"sub last", "", "", "Auth0|ABC-123", "auth0abc-123"},
		{"forbidden chars dropped", "Ünïcødé user!", "", "s1", "ncduser"},
		{"spaces and slashes", "  a/b\\c d ", "", "s1", "abcd"},
		{"allowed punctuation kept", "a_b.c-d", "", "s1", "a_b.c-d"},
		{"preferred empties falls to email", "日本語", "kenji@example.jp", "s1", "kenji"},
		{"everything empties falls to hash", "日本語", "名前@example.jp", "ユーザー", ""},
		{"truncated to 64", strings.Repeat("ab", 50), "", "s1", strings.Repeat("ab", 32)},
		{"truncation counts kept chars", strings.Repeat("!a", 100), "", "s1", strings.Repeat("a", 64)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := deriveUsername(tt.preferred, tt.email, tt.sub)
			if !usernameRE.MatchString(got) {
				t.Fatalf("deriveUsername = %q, outside the username alphabet", got)
			}
			if tt.want == "" { // hash fallback: stable and sub-specific
				if !strings.HasPrefix(got, "user-") || got != deriveUsername("", "", tt.sub) ||
					got == deriveUsername("", "", tt.sub+"x") {
					t.Fatalf("fallback %q is not a stable hash of sub", got)
				}
				return
			}
			if got != tt.want {
				t.Fatalf("deriveUsername(%q, %q, %q) = %q, want %q", tt.preferred, tt.email, tt.sub, got, tt.want)
			}
		})
	}
}

func TestVerifyDerivesUsername(t *testing.T) {
	v := newTestVerifier(t, Config{HS256Secret: testSecret}, nil, newClock())
	tok := sign(t, jwt.SigningMethodHS256, []byte(testSecret), "",
		with(baseClaims(), "preferred_username", nil, "email", "Zoe.Q@Example.org"))
	id, err := v.Verify(t.Context(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if id.Username != "zoe.q" || id.Email != "Zoe.Q@Example.org" {
		t.Fatalf("identity = %+v", id)
	}
}

// PostgreSQL text cannot hold NUL (found by transport/attacks: every request of such a
// token answered 500): a sub with one is refused, a name or e-mail with one is dropped.
func TestVerifyKeepsNULOutOfTheIdentity(t *testing.T) {
	v := newTestVerifier(t, Config{HS256Secret: testSecret}, nil, newClock())
	tok := sign(t, jwt.SigningMethodHS256, []byte(testSecret), "", with(baseClaims(), "sub", "a\x00b"))
	if _, err := v.Verify(t.Context(), tok); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("sub with NUL: %v, want ErrInvalidToken", err)
	}
	tok = sign(t, jwt.SigningMethodHS256, []byte(testSecret), "",
		with(baseClaims(), "name", "Bobby\x00 Tables", "email", "bob\x00@example.com"))
	id, err := v.Verify(t.Context(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if id.Name != "Bobby Tables" || id.Email != "" || !usernameRE.MatchString(id.Username) {
		t.Fatalf("identity = %+v", id)
	}
}
