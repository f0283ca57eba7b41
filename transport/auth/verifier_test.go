package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/parley-chat/parley/persistence"
)

func TestNewValidatesConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"secret only", Config{HS256Secret: testSecret}, true},
		{"jwks https", Config{JWKSURL: "https://idp.example.com/.well-known/jwks.json"}, true},
		{"jwks http loopback v4", Config{JWKSURL: "http://127.0.0.1:8080/jwks"}, true},
		{"jwks http loopback v6", Config{JWKSURL: "http://[::1]:8080/jwks"}, true},
		{"jwks http localhost", Config{JWKSURL: "http://localhost/jwks"}, true},
		{"both", Config{HS256Secret: testSecret, JWKSURL: "https://idp.example.com/jwks"}, true},
		{"max leeway", Config{HS256Secret: testSecret, Leeway: MaxLeeway}, true},
		{"nothing", Config{}, false},
		{"short secret", Config{HS256Secret: testSecret[:31]}, false},
		{"leeway too large", Config{HS256Secret: testSecret, Leeway: MaxLeeway + time.Second}, false},
		{"negative leeway", Config{HS256Secret: testSecret, Leeway: -time.Second}, false},
		{"negative ttl", Config{HS256Secret: testSecret, DevTokenTTL: -time.Hour}, false},
		{"negative refresh", Config{JWKSURL: "https://idp.example.com/jwks", JWKSRefresh: -time.Second}, false},
		{"jwks http remote", Config{JWKSURL: "http://idp.example.com/jwks"}, false},
		{"jwks ftp", Config{JWKSURL: "ftp://idp.example.com/jwks"}, false},
		{"jwks no host", Config{JWKSURL: "https:///jwks"}, false},
		{"jwks unparsable", Config{JWKSURL: "https://[::1"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := New(tt.cfg, nil, nil)
			if (err == nil) != tt.ok {
				t.Fatalf("New(%+v) err = %v, want ok=%v", tt.cfg, err, tt.ok)
			}
			if v != nil {
				_ = v.Close()
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	v, err := New(Config{HS256Secret: testSecret}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if v.cfg.Leeway != DefaultLeeway || v.cfg.DevTokenTTL != DefaultDevTokenTTL ||
		v.cfg.JWKSRefresh != DefaultJWKSRefresh || v.cfg.JWKSTimeout != DefaultJWKSTimeout {
		t.Fatalf("defaults not applied: %+v", v.cfg)
	}
}

func TestVerifyHS256(t *testing.T) {
	secret := []byte(testSecret)
	other := []byte(strings.Repeat("x", 32))
	good := sign(t, jwt.SigningMethodHS256, secret, "", baseClaims())
	goodParts := strings.Split(good, ".")
	otherPayload := strings.Split(sign(t, jwt.SigningMethodHS256, secret, "", with(baseClaims(), "sub", "admin")), ".")[1]
	noneHeader := map[string]string{"alg": "none", "typ": "JWT"}
	hmacOver := func(s string) []byte {
		m := hmac.New(sha256.New, secret)
		m.Write([]byte(s))
		return m.Sum(nil)
	}
	noneWithMAC := func() string {
		tok := rawToken(t, noneHeader, baseClaims(), nil)
		signingInput := tok[:strings.LastIndexByte(tok, '.')]
		return signingInput + "." + b64(hmacOver(signingInput))
	}()

	tests := []struct {
		name    string
		token   string
		aud     string
		iss     string
		want    error // nil, ErrInvalidToken or ErrTokenExpired
		wantSub string
	}{
		{name: "valid", token: good, wantSub: "user-123"},
		{name: "forged signature", token: sign(t, jwt.SigningMethodHS256, other, "", baseClaims()), want: ErrInvalidToken},
		{name: "payload swapped", token: goodParts[0] + "." + otherPayload + "." + goodParts[2], want: ErrInvalidToken},
		{name: "signature stripped", token: goodParts[0] + "." + goodParts[1] + ".", want: ErrInvalidToken},
		{name: "alg none", token: rawToken(t, noneHeader, baseClaims(), nil), want: ErrInvalidToken},
		{name: "alg None", token: rawToken(t, map[string]string{"alg": "None"}, baseClaims(), nil), want: ErrInvalidToken},
		{name: "alg none with valid MAC", token: noneWithMAC, want: ErrInvalidToken},
		{name: "alg missing", token: rawToken(t, map[string]string{"typ": "JWT"}, baseClaims(), hmacOver("x")), want: ErrInvalidToken},
		{name: "HS512 same secret", token: sign(t, jwt.SigningMethodHS512, secret, "", baseClaims()), want: ErrInvalidToken},
		{name: "HS384 same secret", token: sign(t, jwt.SigningMethodHS384, secret, "", baseClaims()), want: ErrInvalidToken},
		{name: "RS256 without JWKS", token: sign(t, jwt.SigningMethodRS256, testKeys().rsa1, "k1", baseClaims()), want: ErrInvalidToken},
		{name: "expired", token: sign(t, jwt.SigningMethodHS256, secret, "", with(baseClaims(), "exp", t0.Add(-10*time.Second).Unix())), want: ErrTokenExpired},
		{name: "expired within leeway", token: sign(t, jwt.SigningMethodHS256, secret, "", with(baseClaims(), "exp", t0.Add(-3*time.Second).Unix())), wantSub: "user-123"},
		{name: "missing exp", token: sign(t, jwt.SigningMethodHS256, secret, "", with(baseClaims(), "exp", nil)), want: ErrInvalidToken},
		{name: "exp not a number", token: sign(t, jwt.SigningMethodHS256, secret, "", with(baseClaims(), "exp", "tomorrow")), want: ErrInvalidToken},
		{name: "not yet valid", token: sign(t, jwt.SigningMethodHS256, secret, "", with(baseClaims(), "nbf", t0.Add(time.Minute).Unix())), want: ErrInvalidToken},
		{name: "nbf within leeway", token: sign(t, jwt.SigningMethodHS256, secret, "", with(baseClaims(), "nbf", t0.Add(3*time.Second).Unix())), wantSub: "user-123"},
		{name: "missing sub", token: sign(t, jwt.SigningMethodHS256, secret, "", with(baseClaims(), "sub", nil)), want: ErrInvalidToken},
		{name: "sub too long", token: sign(t, jwt.SigningMethodHS256, secret, "", with(baseClaims(), "sub", strings.Repeat("s", 256))), want: ErrInvalidToken},
		{name: "username not a string", token: sign(t, jwt.SigningMethodHS256, secret, "", with(baseClaims(), "preferred_username", 42)), want: ErrInvalidToken},
		{name: "audience ok", aud: "parley", token: sign(t, jwt.SigningMethodHS256, secret, "", with(baseClaims(), "aud", []string{"other", "parley"})), wantSub: "user-123"},
		{name: "audience string ok", aud: "parley", token: sign(t, jwt.SigningMethodHS256, secret, "", with(baseClaims(), "aud", "parley")), wantSub: "user-123"},
		{name: "wrong audience", aud: "parley", token: sign(t, jwt.SigningMethodHS256, secret, "", with(baseClaims(), "aud", "billing")), want: ErrInvalidToken},
		{name: "missing audience", aud: "parley", token: good, want: ErrInvalidToken},
		{name: "audience ignored when unset", token: sign(t, jwt.SigningMethodHS256, secret, "", with(baseClaims(), "aud", "billing")), wantSub: "user-123"},
		{name: "issuer ok", iss: "https://idp", token: sign(t, jwt.SigningMethodHS256, secret, "", with(baseClaims(), "iss", "https://idp")), wantSub: "user-123"},
		{name: "wrong issuer", iss: "https://idp", token: sign(t, jwt.SigningMethodHS256, secret, "", with(baseClaims(), "iss", "https://evil")), want: ErrInvalidToken},
		{name: "missing issuer", iss: "https://idp", token: good, want: ErrInvalidToken},
		{name: "oversized but validly signed", token: sign(t, jwt.SigningMethodHS256, secret, "", with(baseClaims(), "name", strings.Repeat("n", MaxTokenBytes))), want: ErrInvalidToken},
		{name: "empty", token: "", want: ErrInvalidToken},
		{name: "garbage", token: "not a token", want: ErrInvalidToken},
		{name: "three dots", token: "a.b.c", want: ErrInvalidToken},
		{name: "padded segments", token: goodParts[0] + "=." + goodParts[1] + "." + goodParts[2], want: ErrInvalidToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := newTestVerifier(t, Config{HS256Secret: testSecret, Audience: tt.aud, Issuer: tt.iss}, nil, newClock())
			id, err := v.Verify(t.Context(), tt.token)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if id.Subject != tt.wantSub {
					t.Fatalf("Subject = %q, want %q", id.Subject, tt.wantSub)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify err = %v, want %v", err, tt.want)
			}
			if !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("err %v does not match ErrInvalidToken", err)
			}
			if tt.want != ErrTokenExpired && errors.Is(err, ErrTokenExpired) {
				t.Fatalf("err %v wrongly matches ErrTokenExpired", err)
			}
			if id != (persistence.Identity{}) {
				t.Fatalf("identity %+v returned with error", id)
			}
		})
	}
}

func TestVerifyReturnsIdentity(t *testing.T) {
	v := newTestVerifier(t, Config{HS256Secret: testSecret}, nil, newClock())
	id, err := v.Verify(t.Context(), sign(t, jwt.SigningMethodHS256, []byte(testSecret), "", baseClaims()))
	if err != nil {
		t.Fatal(err)
	}
	want := persistence.Identity{
		Subject:   "user-123",
		Username:  "alice",
		Name:      "Alice Liddell",
		Email:     "alice@example.com",
		ExpiresAt: time.Unix(t0.Add(time.Hour).Unix(), 0),
	}
	if !id.ExpiresAt.Equal(want.ExpiresAt) {
		t.Fatalf("ExpiresAt = %v, want %v", id.ExpiresAt, want.ExpiresAt)
	}
	id.ExpiresAt = want.ExpiresAt
	if id != want {
		t.Fatalf("identity = %+v, want %+v", id, want)
	}
}

func TestOversizedTokenRejectedBeforeParsing(t *testing.T) {
	v := newTestVerifier(t, Config{HS256Secret: testSecret}, nil, newClock())
	_, err := v.Verify(t.Context(), strings.Repeat("A", MaxTokenBytes+1))
	if !errors.Is(err, ErrInvalidToken) || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("err = %v, want size rejection", err)
	}
	if errors.Is(err, jwt.ErrTokenMalformed) {
		t.Fatalf("oversized token reached the parser: %v", err)
	}
}
