package auth

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"
)

// Defaults and bounds for Config.
const (
	DefaultJWKSRefresh = 5 * time.Minute
	DefaultJWKSTimeout = 10 * time.Second
	DefaultLeeway      = 5 * time.Second
	DefaultDevTokenTTL = 24 * time.Hour

	// MaxLeeway is the largest clock skew tolerated (SPEC: at most 30 s); more would let
	// expired tokens live noticeably longer than their issuer intended.
	MaxLeeway = 30 * time.Second
	// MinSecretBytes follows RFC 7518 §3.2: an HS256 key at least as long as the hash output.
	MinSecretBytes = 32
	// MaxTokenBytes bounds what Verify will parse: real tokens are well under 2 KiB, and the
	// bound keeps base64/JSON work on hostile input small.
	MaxTokenBytes = 8 << 10

	// minRefetchInterval rate-limits JWKS fetches (periodic or triggered by an unknown kid),
	// so a flood of tokens with made-up kids cannot turn into a flood of requests to the IdP.
	minRefetchInterval = 10 * time.Second
)

// Config configures a Verifier. At least one of HS256Secret and JWKSURL must be set.
type Config struct {
	// HS256Secret is the shared secret for HS256 tokens (dev mode, or a deployment minting
	// its own tokens) and enables Issue. At least MinSecretBytes bytes; empty disables HS256.
	HS256Secret string
	// JWKSURL is where an external identity provider publishes its RS256/ES256 public keys.
	// https, or plain http to a loopback host only. Empty disables RS256/ES256.
	JWKSURL string
	// JWKSRefresh is the period of the background key-set refresh. Default 5m. Fetches are
	// never more frequent than one per 10 s whatever this says.
	JWKSRefresh time.Duration
	// JWKSTimeout bounds one fetch of the key set. Default 10s.
	JWKSTimeout time.Duration
	// Issuer, when set, must equal the token's iss claim; Issue writes it.
	Issuer string
	// Audience, when set, must be among the token's aud claim; Issue writes it.
	Audience string
	// Leeway is the clock skew allowed on exp/nbf. Default 5s; at most MaxLeeway.
	Leeway time.Duration
	// NoLeeway checks token times exactly (Leeway is then ignored): a zero Leeway means
	// "the default", so exactness needs its own switch.
	NoLeeway bool
	// DevTokenTTL is the lifetime Issue gives a token when asked for none. Default 24h.
	DevTokenTTL time.Duration
}

func (c Config) withDefaults() Config {
	if c.JWKSRefresh == 0 {
		c.JWKSRefresh = DefaultJWKSRefresh
	}
	if c.JWKSTimeout == 0 {
		c.JWKSTimeout = DefaultJWKSTimeout
	}
	switch {
	case c.NoLeeway:
		c.Leeway = 0
	case c.Leeway == 0:
		c.Leeway = DefaultLeeway
	}
	if c.DevTokenTTL == 0 {
		c.DevTokenTTL = DefaultDevTokenTTL
	}
	return c
}

// validate checks a Config that already has its defaults applied.
func (c Config) validate() error {
	var errs []error
	if c.HS256Secret == "" && c.JWKSURL == "" {
		errs = append(errs, errors.New("one of HS256Secret or JWKSURL is required"))
	}
	if c.HS256Secret != "" && len(c.HS256Secret) < MinSecretBytes {
		errs = append(errs, fmt.Errorf("HS256Secret is %d bytes, need at least %d", len(c.HS256Secret), MinSecretBytes))
	}
	if c.JWKSURL != "" {
		if err := checkJWKSURL(c.JWKSURL); err != nil {
			errs = append(errs, err)
		}
	}
	if c.JWKSRefresh < 0 {
		errs = append(errs, fmt.Errorf("JWKSRefresh %v is negative", c.JWKSRefresh))
	}
	if c.JWKSTimeout < 0 {
		errs = append(errs, fmt.Errorf("JWKSTimeout %v is negative", c.JWKSTimeout))
	}
	if c.Leeway < 0 || c.Leeway > MaxLeeway {
		errs = append(errs, fmt.Errorf("Leeway %v is outside [0, %v]", c.Leeway, MaxLeeway))
	}
	if c.DevTokenTTL < 0 {
		errs = append(errs, fmt.Errorf("DevTokenTTL %v is negative", c.DevTokenTTL))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("auth: invalid config: %w", err)
	}
	return nil
}

// checkJWKSURL refuses plain http except to loopback: the key set decides who may log in,
// so it must not be fetchable (or replaceable) by anyone on the network path.
func checkJWKSURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("JWKSURL: %w", err)
	}
	if u.Host == "" {
		return fmt.Errorf("JWKSURL %q has no host", raw)
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
		return nil
	case "http":
		host := u.Hostname()
		if host == "localhost" {
			return nil
		}
		if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
			return nil
		}
		return fmt.Errorf("JWKSURL %q: plain http is allowed only to a loopback host", raw)
	default:
		return fmt.Errorf("JWKSURL %q: scheme must be https", raw)
	}
}
