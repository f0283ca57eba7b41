// Package auth verifies the bearer tokens that authenticate every request (HS256 with a
// shared secret, or RS256/ES256 keys from an identity provider's JWKS) and issues HS256
// tokens in dev mode.
package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/parley-chat/parley/errcode"
	"github.com/parley-chat/parley/persistence"
)

var (
	// ErrInvalidToken is wrapped by every error Verify returns. Clients read "invalid
	// token", not the library's reason.
	ErrInvalidToken error = errcode.New(errcode.Unauthorized, "auth: invalid token").Public("invalid token")
	// ErrTokenExpired is returned for an otherwise good token past exp+leeway, so that the
	// client can be told to refresh rather than to log in again. It matches ErrInvalidToken.
	ErrTokenExpired error = errcode.New(errcode.Unauthorized, "auth: invalid token: expired").
			Public("token expired").Within(ErrInvalidToken)
)

// Verifier checks tokens and turns their claims into a persistence.Identity. It is safe for concurrent
// use. With a JWKSURL it owns a refresh goroutine: call Close when done.
type Verifier struct {
	cfg    Config
	log    *slog.Logger
	now    func() time.Time
	secret []byte  // nil without HS256
	keys   *keySet // nil without JWKS
	parser *jwt.Parser

	loopStarted atomic.Bool // fast path for Verify's lazy start
	mu          sync.Mutex
	closed      bool
	cancel      context.CancelFunc
	done        chan struct{}
}

// New validates cfg and returns a Verifier. logger and client may be nil (discard; a plain
// http.Client, every fetch being bounded by JWKSTimeout anyway).
func New(cfg Config, logger *slog.Logger, client *http.Client) (*Verifier, error) {
	return newVerifier(cfg, logger, client, time.Now, minRefetchInterval)
}

// newVerifier lets tests drive the clock and the JWKS rate limit.
func newVerifier(cfg Config, logger *slog.Logger, client *http.Client, now func() time.Time, minRefetch time.Duration) (*Verifier, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if client == nil {
		client = &http.Client{}
	}
	v := &Verifier{cfg: cfg, log: logger.With("component", "auth"), now: now}

	// Only the methods that have a key configured are acceptable: an HS256 token must never
	// reach a code path where an RSA/EC public key could be used as its HMAC secret.
	var methods []string
	if cfg.HS256Secret != "" {
		v.secret = []byte(cfg.HS256Secret)
		methods = append(methods, jwt.SigningMethodHS256.Alg())
	}
	if cfg.JWKSURL != "" {
		v.keys = newKeySet(cfg.JWKSURL, client, cfg.JWKSTimeout, minRefetch, now, v.log)
		methods = append(methods, jwt.SigningMethodRS256.Alg(), jwt.SigningMethodES256.Alg())
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods(methods),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(cfg.Leeway),
		jwt.WithTimeFunc(now),
		jwt.WithStrictDecoding(),
	}
	if cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(cfg.Issuer))
	}
	if cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(cfg.Audience))
	}
	v.parser = jwt.NewParser(opts...)
	return v, nil
}

// Verify checks raw (signature, method, exp, nbf, iss, aud) and returns who it identifies.
// Every error wraps ErrInvalidToken; an expired token's also wraps ErrTokenExpired.
func (v *Verifier) Verify(ctx context.Context, raw string) (persistence.Identity, error) {
	if raw == "" {
		return persistence.Identity{}, fmt.Errorf("%w: no token", ErrInvalidToken)
	}
	if len(raw) > MaxTokenBytes {
		return persistence.Identity{}, fmt.Errorf("%w: token larger than %d bytes", ErrInvalidToken, MaxTokenBytes)
	}
	if v.keys != nil && !v.loopStarted.Load() {
		v.start(context.Background())
	}
	var c claims
	if _, err := v.parser.ParseWithClaims(raw, &c, v.keyFunc(ctx)); err != nil {
		if errors.Is(err, jwt.ErrTokenExpired) {
			return persistence.Identity{}, fmt.Errorf("%w: %w", ErrTokenExpired, err)
		}
		return persistence.Identity{}, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	id, err := identityFrom(&c)
	if err != nil {
		return persistence.Identity{}, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	return id, nil
}

// keyFunc picks the key by the token's alg, which the parser has already checked against
// the configured methods; each alg maps to exactly one key source and key type.
func (v *Verifier) keyFunc(ctx context.Context) jwt.Keyfunc {
	return func(t *jwt.Token) (any, error) {
		alg := t.Method.Alg()
		switch alg {
		case jwt.SigningMethodHS256.Alg():
			if v.secret == nil {
				return nil, errors.New("HS256 not configured")
			}
			return v.secret, nil
		case jwt.SigningMethodRS256.Alg(), jwt.SigningMethodES256.Alg():
			if v.keys == nil {
				return nil, errors.New("JWKS not configured")
			}
			kid, ok := t.Header["kid"]
			if !ok {
				kid = ""
			}
			s, ok := kid.(string)
			if !ok {
				return nil, errors.New("kid is not a string")
			}
			return v.keys.key(ctx, s, alg)
		default:
			return nil, fmt.Errorf("signing method %q not allowed", alg)
		}
	}
}

// Start begins the background JWKS refresh (a no-op without a JWKSURL, or if already
// running); it ends when ctx is done or Close is called. Verify starts it lazily otherwise,
// Start just fetches the keys before the first request needs them.
func (v *Verifier) Start(ctx context.Context) {
	v.start(ctx)
}

func (v *Verifier) start(ctx context.Context) {
	if v.keys == nil {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.loopStarted.Load() || v.closed {
		return
	}
	v.loopStarted.Store(true)
	ctx, v.cancel = context.WithCancel(ctx)
	done := make(chan struct{})
	v.done = done
	go func() {
		defer close(done)
		v.keys.run(ctx, v.cfg.JWKSRefresh)
	}()
}

// Close stops the background refresh and waits for it. Verify keeps working afterwards with
// the keys already fetched (and refetches on demand, synchronously).
func (v *Verifier) Close() error {
	v.mu.Lock()
	v.closed = true
	v.loopStarted.Store(true)
	cancel, done := v.cancel, v.done
	v.cancel, v.done = nil, nil
	v.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
	return nil
}
