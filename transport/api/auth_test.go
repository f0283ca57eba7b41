package api_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/parley-chat/parley/errcode"
	"github.com/parley-chat/parley/transport/api"
	"github.com/parley-chat/parley/transport/auth"
)

func TestJWTRejectedWith401(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpts{auth: auth.Config{Audience: "parley-api", Issuer: "parley-test"}})
	now := time.Now()
	claims := func(mod func(jwt.MapClaims)) jwt.MapClaims {
		c := jwt.MapClaims{"sub": "user-1", "preferred_username": "alice", "iss": "parley-test", "aud": "parley-api",
			"iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
		if mod != nil {
			mod(c)
		}
		return c
	}
	sign := func(c jwt.MapClaims, key string) string {
		s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte(key))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	b64 := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	good := sign(claims(nil), testSecret)
	cases := []struct{ name, header string }{
		{"no token", ""},
		{"not bearer", "Basic " + base64.StdEncoding.EncodeToString([]byte("a:b"))},
		{"garbage", "Bearer not.a.jwt"},
		{"forged signature", "Bearer " + sign(claims(nil), strings.Repeat("x", 40))},
		{"alg none", "Bearer " + b64(map[string]string{"alg": "none", "typ": "JWT"}) + "." + b64(claims(nil)) + "."},
		{"expired", "Bearer " + sign(claims(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Hour).Unix() }), testSecret)},
		{"missing exp", "Bearer " + sign(claims(func(c jwt.MapClaims) { delete(c, "exp") }), testSecret)},
		{"wrong audience", "Bearer " + sign(claims(func(c jwt.MapClaims) { c["aud"] = "someone-else" }), testSecret)},
		{"wrong issuer", "Bearer " + sign(claims(func(c jwt.MapClaims) { c["iss"] = "evil" }), testSecret)},
		{"tampered payload", "Bearer " + strings.Split(good, ".")[0] + "." + b64(claims(func(c jwt.MapClaims) { c["sub"] = "admin" })) + "." + strings.Split(good, ".")[2]},
	}
	for _, tc := range cases {
		req, _ := http.NewRequest("GET", h.srv.URL+"/api/users/me", nil)
		if tc.header != "" {
			req.Header.Set("Authorization", tc.header)
		}
		resp, err := h.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var p api.Problem
		_ = json.NewDecoder(resp.Body).Decode(&p)
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || p.Code != errcode.Unauthorized ||
			resp.Header.Get("Content-Type") != "application/problem+json" ||
			!strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("%s: %d %q %+v, want 401 unauthorized problem with WWW-Authenticate", tc.name, resp.StatusCode, resp.Header.Get("WWW-Authenticate"), p)
		}
		// The client reads why in words of its own, never the token library's reason.
		if want := map[string]string{"expired": "token expired", "forged signature": "invalid token"}[tc.name]; want != "" && p.Detail != want {
			t.Errorf("%s: detail %q, want %q", tc.name, p.Detail, want)
		}
	}
	if n := h.count(`SELECT count(*) FROM users`); n != 0 {
		t.Fatalf("%d users created by rejected tokens", n)
	}
	// The good token works and makes the user once.
	c := &client{h: h, token: good, name: "alice"}
	c.ok("GET", "/api/users/me", nil, nil)
	c.ok("GET", "/api/users/me", nil, nil)
	if n := h.count(`SELECT count(*) FROM users WHERE subject = 'user-1'`); n != 1 {
		t.Fatalf("%d users for one subject", n)
	}
}

func TestUsernameCollisionGetsSuffix(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpts{})
	tok := func(sub string) string {
		s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
			"sub": sub, "email": "Bob@Example.com", "exp": time.Now().Add(time.Hour).Unix(),
		}).SignedString([]byte(testSecret))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	var u1, u2 struct{ Username string }
	(&client{h: h, token: tok("idp|1"), name: "1"}).ok("GET", "/api/users/me", nil, &u1)
	(&client{h: h, token: tok("idp|2"), name: "2"}).ok("GET", "/api/users/me", nil, &u2)
	if u1.Username != "bob" || u2.Username != "bob2" {
		t.Fatalf("usernames %q, %q; want bob, bob2", u1.Username, u2.Username)
	}
}

func TestDevLogin(t *testing.T) {
	t.Parallel()
	dev := newHarness(t, harnessOpts{cfg: api.Config{DevMode: true}})
	anon := &client{h: dev, name: "anonymous"}
	var tok struct {
		AccessToken string
		TokenType   string
		ExpiresIn   int64
	}
	anon.ok("POST", "/api/auth/dev/login", map[string]any{"username": "Carol"}, &tok)
	if tok.TokenType != "Bearer" || tok.ExpiresIn <= 0 {
		t.Fatalf("login: %+v", tok)
	}
	var me struct{ Username string }
	(&client{h: dev, token: tok.AccessToken, name: "carol"}).ok("GET", "/api/users/me", nil, &me)
	if me.Username != "carol" {
		t.Fatalf("me: %+v", me)
	}
	anon.expect(400, "POST", "/api/auth/dev/login", map[string]any{"username": "no spaces allowed"})
	anon.expect(400, "POST", "/api/auth/dev/login", map[string]any{"username": "x", "password": "y"})

	prod := newHarness(t, harnessOpts{})
	(&client{h: prod, name: "anonymous"}).expect(404, "POST", "/api/auth/dev/login", map[string]any{"username": "carol"})
}
