package auth

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"log/slog"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestVerifyJWKS(t *testing.T) {
	k := testKeys()
	srv := newJWKSServer(t,
		rsaJWK("r1", &k.rsa1.PublicKey),
		ecJWK("e1", &k.ec1.PublicKey),
		rsaJWK("r2", &k.rsa2.PublicKey),
	)
	tests := []struct {
		name  string
		token string
		ok    bool
	}{
		{"RS256 with kid", sign(t, jwt.SigningMethodRS256, k.rsa1, "r1", baseClaims()), true},
		{"RS256 second key", sign(t, jwt.SigningMethodRS256, k.rsa2, "r2", baseClaims()), true},
		{"ES256 with kid", sign(t, jwt.SigningMethodES256, k.ec1, "e1", baseClaims()), true},
		{"ES256 without kid, one EC key", sign(t, jwt.SigningMethodES256, k.ec1, "", baseClaims()), true},
		{"RS256 without kid, two RSA keys", sign(t, jwt.SigningMethodRS256, k.rsa1, "", baseClaims()), false},
		{"RS256 signed by the other key's kid", sign(t, jwt.SigningMethodRS256, k.rsa2, "r1", baseClaims()), false},
		{"ES256 by unknown key", sign(t, jwt.SigningMethodES256, k.ec2, "e1", baseClaims()), false},
		{"RS256 naming an EC kid", sign(t, jwt.SigningMethodRS256, k.rsa1, "e1", baseClaims()), false},
		{"ES256 naming an RSA kid", sign(t, jwt.SigningMethodES256, k.ec1, "r1", baseClaims()), false},
		{"PS256 not allowed", sign(t, jwt.SigningMethodPS256, k.rsa1, "r1", baseClaims()), false},
		{"RS512 not allowed", sign(t, jwt.SigningMethodRS512, k.rsa1, "r1", baseClaims()), false},
		{"HS256 not configured", sign(t, jwt.SigningMethodHS256, []byte(testSecret), "r1", baseClaims()), false},
		{"kid not a string", rawToken(t, map[string]any{"alg": "RS256", "kid": 7}, baseClaims(), []byte("sig")), false},
		{"RS256 expired", sign(t, jwt.SigningMethodRS256, k.rsa1, "r1", with(baseClaims(), "exp", t0.Add(-time.Minute).Unix())), false},
		{"RS256 missing exp", sign(t, jwt.SigningMethodRS256, k.rsa1, "r1", with(baseClaims(), "exp", nil)), false},
	}
	v := newTestVerifier(t, Config{JWKSURL: srv.URL}, srv.Client(), newClock())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := v.Verify(t.Context(), tt.token)
			if tt.ok {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if id.Subject != "user-123" || id.Username != "alice" {
					t.Fatalf("identity = %+v", id)
				}
			} else if !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("Verify err = %v, want ErrInvalidToken", err)
			}
		})
	}
}

func TestAlgorithmConfusionRefused(t *testing.T) {
	k := testKeys()
	srv := newJWKSServer(t, rsaJWK("r1", &k.rsa1.PublicKey), ecJWK("e1", &k.ec1.PublicKey))
	der, err := x509.MarshalPKIXPublicKey(&k.rsa1.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	pkcs1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&k.rsa1.PublicKey)})
	ecDER, err := x509.MarshalPKIXPublicKey(&k.ec1.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	macKeys := map[string][]byte{
		"PKIX PEM": pemBytes, "PKCS1 PEM": pkcs1, "PKIX DER": der,
		"modulus": k.rsa1.N.Bytes(), "EC DER": ecDER,
	}
	for _, cfg := range []Config{
		{JWKSURL: srv.URL},
		{JWKSURL: srv.URL, HS256Secret: testSecret},
	} {
		v := newTestVerifier(t, cfg, srv.Client(), newClock())
		for name, key := range macKeys {
			for _, kid := range []string{"r1", "e1", ""} {
				tok := sign(t, jwt.SigningMethodHS256, key, kid, baseClaims())
				if _, err := v.Verify(t.Context(), tok); !errors.Is(err, ErrInvalidToken) {
					t.Errorf("secret set=%v, HS256 keyed with %s, kid %q: err = %v, want rejection",
						cfg.HS256Secret != "", name, kid, err)
				}
			}
		}
	}
}

func TestUnknownKidRefetchesRateLimited(t *testing.T) {
	k := testKeys()
	srv := newJWKSServer(t, rsaJWK("old", &k.rsa1.PublicKey))
	clk := newClock()
	v := newTestVerifier(t, Config{JWKSURL: srv.URL}, srv.Client(), clk)
	v.Start(t.Context())
	waitFor(t, "initial fetch", func() bool { return srv.hits.Load() == 1 })

	oldTok := sign(t, jwt.SigningMethodRS256, k.rsa1, "old", baseClaims())
	if _, err := v.Verify(t.Context(), oldTok); err != nil {
		t.Fatalf("old key: %v", err)
	}

	// The IdP rotates to a new key; the first token naming it triggers a refetch.
	srv.setKeys(rsaJWK("new", &k.rsa2.PublicKey))
	clk.Advance(minRefetchInterval)
	newTok := sign(t, jwt.SigningMethodRS256, k.rsa2, "new", baseClaims())
	if _, err := v.Verify(t.Context(), newTok); err != nil {
		t.Fatalf("rotated key: %v", err)
	}
	if got := srv.hits.Load(); got != 2 {
		t.Fatalf("fetches after rotation = %d, want 2", got)
	}
	if _, err := v.Verify(t.Context(), oldTok); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("retired key still accepted: %v", err)
	}

	// A burst of made-up kids, concurrently, causes no fetch within the interval...
	bogus := func() {
		var wg sync.WaitGroup
		for i := range 20 {
			wg.Go(func() {
				tok := sign(t, jwt.SigningMethodRS256, k.rsa2, "bogus-"+string(rune('a'+i)), baseClaims())
				if _, err := v.Verify(t.Context(), tok); !errors.Is(err, ErrInvalidToken) {
					t.Errorf("bogus kid accepted: %v", err)
				}
			})
		}
		wg.Wait()
	}
	bogus()
	if got := srv.hits.Load(); got != 2 {
		t.Fatalf("fetches after bogus burst = %d, want 2", got)
	}
	// ...and exactly one once the interval has passed.
	clk.Advance(minRefetchInterval)
	bogus()
	if got := srv.hits.Load(); got != 3 {
		t.Fatalf("fetches after second burst = %d, want 3", got)
	}
	// Known keys are served from the cache without fetching.
	for range 5 {
		if _, err := v.Verify(t.Context(), newTok); err != nil {
			t.Fatal(err)
		}
	}
	if got := srv.hits.Load(); got != 3 {
		t.Fatalf("fetches after cached verifies = %d, want 3", got)
	}
}

func TestJWKSOutageKeepsKeys(t *testing.T) {
	k := testKeys()
	srv := newJWKSServer(t, ecJWK("e1", &k.ec1.PublicKey))
	clk := newClock()
	v := newTestVerifier(t, Config{JWKSURL: srv.URL}, srv.Client(), clk)
	good := sign(t, jwt.SigningMethodES256, k.ec1, "e1", baseClaims())
	if _, err := v.Verify(t.Context(), good); err != nil {
		t.Fatal(err)
	}
	for _, broken := range []func(){
		func() { srv.setStatus(http.StatusInternalServerError) },
		func() { srv.setStatus(http.StatusOK); srv.setKeys() },                                     // empty set
		func() { srv.setKeys(map[string]any{"kty": "RSA", "kid": "x", "n": "AQAB", "e": "AQAB"}) }, // nothing usable
	} {
		broken()
		clk.Advance(minRefetchInterval)
		before := srv.hits.Load()
		tok := sign(t, jwt.SigningMethodES256, k.ec2, "e2", baseClaims())
		if _, err := v.Verify(t.Context(), tok); !errors.Is(err, ErrInvalidToken) {
			t.Fatalf("unknown key accepted: %v", err)
		}
		if srv.hits.Load() != before+1 {
			t.Fatalf("unknown kid did not trigger a fetch")
		}
		if _, err := v.Verify(t.Context(), good); err != nil {
			t.Fatalf("known key lost after failed fetch: %v", err)
		}
	}
}

func TestJWKSUnreachable(t *testing.T) {
	srv := newJWKSServer(t)
	url := srv.URL
	srv.Close()
	v := newTestVerifier(t, Config{JWKSURL: url, JWKSTimeout: time.Second}, nil, newClock())
	tok := sign(t, jwt.SigningMethodRS256, testKeys().rsa1, "r1", baseClaims())
	if _, err := v.Verify(t.Context(), tok); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("err = %v, want ErrInvalidToken", err)
	}
}

func TestBackgroundRefreshAndClose(t *testing.T) {
	k := testKeys()
	srv := newJWKSServer(t, rsaJWK("r1", &k.rsa1.PublicKey))
	v, err := newVerifier(Config{JWKSURL: srv.URL, JWKSRefresh: 10 * time.Millisecond}, slog.New(slog.DiscardHandler), srv.Client(), time.Now, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Lazily started by the first Verify.
	if _, err := v.Verify(t.Context(), sign(t, jwt.SigningMethodRS256, k.rsa1, "r1", baseClaims())); !errors.Is(err, ErrTokenExpired) {
		t.Fatalf("err = %v, want expired (real clock, t0 claims)", err)
	}
	waitFor(t, "periodic refreshes", func() bool { return srv.hits.Load() >= 4 })
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	if err := v.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	// Closed: no more background fetches, nor a lazy restart; Verify still works.
	after := srv.hits.Load()
	tok := sign(t, jwt.SigningMethodRS256, k.rsa1, "r1", with(baseClaims(), "exp", time.Now().Add(time.Hour).Unix()))
	if _, err := v.Verify(t.Context(), tok); err != nil {
		t.Fatalf("Verify after Close: %v", err)
	}
	// Close waited for the loop to exit, so any fetch from here on would need a new loop.
	v.mu.Lock()
	restarted := v.done != nil
	v.mu.Unlock()
	if restarted {
		t.Fatal("Verify restarted the refresh loop after Close")
	}
	if got := srv.hits.Load(); got != after {
		t.Fatalf("fetches after Close: %d, want %d", got, after)
	}
}

func TestStartEndsWithContext(t *testing.T) {
	srv := newJWKSServer(t, rsaJWK("r1", &testKeys().rsa1.PublicKey))
	v := newTestVerifier(t, Config{JWKSURL: srv.URL}, srv.Client(), newClock())
	ctx, cancel := context.WithCancel(t.Context())
	v.Start(ctx)
	v.Start(ctx) // idempotent
	waitFor(t, "initial fetch", func() bool { return srv.hits.Load() == 1 })
	cancel()
	v.mu.Lock()
	done := v.done
	v.mu.Unlock()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("refresh loop outlived its context")
	}
}

func TestParseJWKS(t *testing.T) {
	k := testKeys()
	weakN := make([]byte, 128) // 1024 bits
	_, _ = rand.Read(weakN)
	weakN[0] |= 0x80
	offCurve := ecJWK("bad", &k.ec1.PublicKey)
	y, _ := decodeB64URL(offCurve["y"].(string))
	y[31] ^= 1
	offCurve["y"] = b64(y)
	rsaJ := rsaJWK("r", &k.rsa1.PublicKey)

	tests := []struct {
		name string
		doc  string
		kids []string // kids kept; nil means the document is an error
	}{
		{"rsa and ec", jsonDoc(t, rsaJ, ecJWK("e", &k.ec1.PublicKey)), []string{"r", "e"}},
		{"padded base64", jsonDoc(t, with2(rsaJ, "n", rsaJ["n"].(string)+"==")), []string{"r"}},
		{"weak rsa skipped", jsonDoc(t, map[string]any{"kty": "RSA", "kid": "w", "n": b64(weakN), "e": "AQAB"}, rsaJ), []string{"r"}},
		{"even exponent", jsonDoc(t, with2(rsaJ, "e", b64(big.NewInt(65536).Bytes()))), nil},
		{"off-curve point", jsonDoc(t, offCurve), nil},
		{"P-384", jsonDoc(t, with2(ecJWK("e", &k.ec1.PublicKey), "crv", "P-384")), nil},
		{"short coordinate", jsonDoc(t, with2(ecJWK("e", &k.ec1.PublicKey), "x", "AQAB")), nil},
		{"encryption key skipped", jsonDoc(t, with2(rsaJ, "use", "enc")), nil},
		{"oct and OKP skipped", jsonDoc(t, map[string]any{"kty": "oct", "k": "c2VjcmV0"}, map[string]any{"kty": "OKP", "crv": "Ed25519", "x": "AA"}, rsaJ), []string{"r"}},
		{"bad base64", jsonDoc(t, with2(rsaJ, "n", "!!!")), nil},
		{"member of wrong type", `{"keys":[{"kty":"RSA","n":5},` + jsonDoc(t, rsaJ)[len(`{"keys":[`):], []string{"r"}},
		{"empty", `{"keys":[]}`, nil},
		{"not json", `<html>`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keys, err := parseJWKS([]byte(tt.doc), slog.New(slog.DiscardHandler))
			if tt.kids == nil {
				if err == nil {
					t.Fatalf("parseJWKS = %d keys, want error", len(keys))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var kids []string
			for _, k := range keys {
				kids = append(kids, k.kid)
			}
			if strings.Join(kids, ",") != strings.Join(tt.kids, ",") {
				t.Fatalf("kids = %v, want %v", kids, tt.kids)
			}
		})
	}
}

func TestJWKSAlgRestriction(t *testing.T) {
	k := testKeys()
	// A JWK declaring alg RS384 must not verify RS256 tokens.
	srv := newJWKSServer(t, with2(rsaJWK("r1", &k.rsa1.PublicKey), "alg", "RS384"))
	v := newTestVerifier(t, Config{JWKSURL: srv.URL}, srv.Client(), newClock())
	if _, err := v.Verify(t.Context(), sign(t, jwt.SigningMethodRS256, k.rsa1, "r1", baseClaims())); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("err = %v, want rejection", err)
	}
}

func TestJWKSTooLarge(t *testing.T) {
	srv := newJWKSServer(t)
	srv.mu.Lock()
	srv.body = []byte(`{"keys":[` + strings.Repeat(" ", maxJWKSBytes) + `]}`)
	srv.mu.Unlock()
	ks := newKeySet(srv.URL, srv.Client(), time.Second, 0, time.Now, slog.New(slog.DiscardHandler))
	if _, err := ks.fetch(t.Context()); err == nil || !strings.Contains(err.Error(), "larger") {
		t.Fatalf("fetch err = %v, want size error", err)
	}
}

func jsonDoc(t *testing.T, keys ...map[string]any) string {
	t.Helper()
	return string(must(json.Marshal(map[string]any{"keys": keys})))
}

func with2(m map[string]any, k string, v any) map[string]any {
	out := map[string]any{}
	for kk, vv := range m {
		out[kk] = vv
	}
	out[k] = v
	return out
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
