package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"time"
)

const (
	// maxJWKSBytes bounds the key-set document; real ones are a few KiB.
	maxJWKSBytes = 1 << 20
	// minRSABits refuses keys that are breakable or deprecated (NIST SP 800-131A).
	minRSABits = 2048
)

var (
	errKeyNotFound  = errors.New("no matching key in JWKS")
	errAmbiguousKey = errors.New("token has no kid and JWKS holds several candidate keys")
)

// publicKey is one usable verification key from the JWKS.
type publicKey struct {
	kid string
	alg string // the JWK's own alg restriction, "" if none
	key any    // *rsa.PublicKey or *ecdsa.PublicKey (P-256)
}

func (k publicKey) usableFor(alg string) bool {
	if k.alg != "" && k.alg != alg {
		return false
	}
	switch alg {
	case "RS256":
		_, ok := k.key.(*rsa.PublicKey)
		return ok
	case "ES256":
		_, ok := k.key.(*ecdsa.PublicKey)
		return ok
	}
	return false
}

// keySet caches an identity provider's JWKS.
type keySet struct {
	url        string
	client     *http.Client
	timeout    time.Duration
	minRefetch time.Duration
	now        func() time.Time
	log        *slog.Logger

	mu   sync.RWMutex
	keys []publicKey

	// fetchMu serialises fetches so that concurrent misses cause one request, not many.
	fetchMu     sync.Mutex
	lastAttempt time.Time
}

func newKeySet(url string, client *http.Client, timeout, minRefetch time.Duration, now func() time.Time, log *slog.Logger) *keySet {
	return &keySet{url: url, client: client, timeout: timeout, minRefetch: minRefetch, now: now, log: log}
}

// run refreshes the set now and then every period until ctx is done.
func (s *keySet) run(ctx context.Context, period time.Duration) {
	s.refresh(ctx)
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.refresh(ctx)
		}
	}
}

// key returns the key for a token with the given kid and alg, refetching the set once
// (rate-limited) when none matches: that is how a key rotation at the IdP is picked up.
func (s *keySet) key(ctx context.Context, kid, alg string) (any, error) {
	k, err := s.find(kid, alg)
	if !errors.Is(err, errKeyNotFound) {
		return k, err
	}
	// A client hanging up must not abort a fetch other requests are waiting on.
	s.refresh(context.WithoutCancel(ctx))
	return s.find(kid, alg)
}

func (s *keySet) find(kid, alg string) (any, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var found any
	n := 0
	for _, k := range s.keys {
		if (kid == "" || k.kid == kid) && k.usableFor(alg) {
			found = k.key
			n++
		}
	}
	switch {
	case n == 0:
		return nil, errKeyNotFound
	case n > 1:
		// With a kid this means the IdP published duplicates; refuse rather than guess.
		return nil, errAmbiguousKey
	}
	return found, nil
}

// refresh fetches the set unless a fetch was attempted less than minRefetch ago. A failed
// fetch keeps the previous keys: an IdP outage must not log everyone out.
func (s *keySet) refresh(ctx context.Context) {
	s.fetchMu.Lock()
	defer s.fetchMu.Unlock()
	now := s.now()
	if !s.lastAttempt.IsZero() && now.Sub(s.lastAttempt) < s.minRefetch {
		return
	}
	s.lastAttempt = now
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	keys, err := s.fetch(ctx)
	if err != nil {
		if !errors.Is(ctx.Err(), context.Canceled) { // not shutting down
			s.log.Warn("JWKS fetch failed, keeping previous keys", "url", s.url, "err", err)
		}
		return
	}
	s.mu.Lock()
	s.keys = keys
	s.mu.Unlock()
	s.log.Debug("JWKS refreshed", "url", s.url, "keys", len(keys))
}

func (s *keySet) fetch(ctx context.Context) ([]publicKey, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10)) // lets the connection be reused
		_ = resp.Body.Close()
	}()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %s", resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, err
	}
	if len(body) > maxJWKSBytes {
		return nil, fmt.Errorf("JWKS larger than %d bytes", maxJWKSBytes)
	}
	return parseJWKS(body, s.log)
}

// jwk holds the members of RFC 7517/7518 keys that we use.
type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	N   string `json:"n"`
	E   string `json:"e"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
}

// parseJWKS keeps the RSA and P-256 signature keys of a JWKS document and skips the rest,
// so one odd key (another type, a malformed member) does not cost the others. A set with
// no usable key at all is an error, which keeps the previous keys in place.
func parseJWKS(body []byte, log *slog.Logger) ([]publicKey, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("decode JWKS: %w", err)
	}
	var keys []publicKey
	for i, raw := range doc.Keys {
		var k jwk
		if err := json.Unmarshal(raw, &k); err != nil {
			log.Warn("JWKS: skipping undecodable key", "index", i, "err", err)
			continue
		}
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		var (
			pub any
			err error
		)
		switch k.Kty {
		case "RSA":
			pub, err = parseRSA(k)
		case "EC":
			pub, err = parseEC(k)
		default:
			continue // oct, OKP, ...: not something we verify with
		}
		if err != nil {
			log.Warn("JWKS: skipping key", "kid", k.Kid, "kty", k.Kty, "err", err)
			continue
		}
		keys = append(keys, publicKey{kid: k.Kid, alg: k.Alg, key: pub})
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("JWKS has no usable RSA or P-256 signature key (of %d)", len(doc.Keys))
	}
	return keys, nil
}

func parseRSA(k jwk) (*rsa.PublicKey, error) {
	n, err := decodeB64URL(k.N)
	if err != nil {
		return nil, fmt.Errorf("n: %w", err)
	}
	e, err := decodeB64URL(k.E)
	if err != nil {
		return nil, fmt.Errorf("e: %w", err)
	}
	if len(e) == 0 || len(e) > 4 {
		return nil, fmt.Errorf("e is %d bytes", len(e))
	}
	var exp int64
	for _, b := range e {
		exp = exp<<8 | int64(b)
	}
	if exp < 3 || exp%2 == 0 || exp > 1<<31-1 {
		return nil, fmt.Errorf("bad exponent %d", exp)
	}
	mod := new(big.Int).SetBytes(n)
	if mod.BitLen() < minRSABits {
		return nil, fmt.Errorf("modulus of %d bits, need %d", mod.BitLen(), minRSABits)
	}
	return &rsa.PublicKey{N: mod, E: int(exp)}, nil
}

func parseEC(k jwk) (*ecdsa.PublicKey, error) {
	if k.Crv != "P-256" {
		return nil, fmt.Errorf("curve %q not supported", k.Crv)
	}
	x, err := decodeB64URL(k.X)
	if err != nil {
		return nil, fmt.Errorf("x: %w", err)
	}
	y, err := decodeB64URL(k.Y)
	if err != nil {
		return nil, fmt.Errorf("y: %w", err)
	}
	if len(x) != 32 || len(y) != 32 {
		return nil, fmt.Errorf("coordinates of %d and %d bytes, want 32", len(x), len(y))
	}
	point := make([]byte, 0, 65)
	point = append(point, 4) // uncompressed SEC 1 encoding
	point = append(point, x...)
	point = append(point, y...)
	// Rejects points not on the curve (invalid-curve attacks).
	return ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point)
}

// decodeB64URL decodes base64url, tolerating the padding some IdPs add despite RFC 7515.
func decodeB64URL(s string) ([]byte, error) {
	if s == "" {
		return nil, errors.New("missing")
	}
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}
