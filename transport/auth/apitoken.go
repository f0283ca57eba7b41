package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/parley-chat/parley/persistence"
)

// Personal API tokens (ADR 0035): "plt_" and 32 bytes of crypto/rand in base64url. They are
// looked up by their SHA-256, never stored or logged in clear; a revoked token has no row.
const (
	// APITokenPrefix starts every API token, so that a bearer is told from a JWT at a glance
	// (and secret scanners can find leaked ones).
	APITokenPrefix = "plt_"
	apiTokenBytes  = 32
	// apiTokenLen is the length of a well-formed token: prefix and 43 base64url characters.
	apiTokenLen = len(APITokenPrefix) + 43
	// apiTokenShown is how much of a token its list entry shows (prefix and 4 characters,
	// 24 of its 256 random bits).
	apiTokenShown = len(APITokenPrefix) + 4
)

// APITokenStore finds a token by the hash of its secret (persistence.Store).
type APITokenStore interface {
	APITokenByHash(ctx context.Context, hash []byte) (persistence.User, persistence.APIToken, error)
}

// IsAPIToken reports whether raw is meant as an API token (not a JWT).
func IsAPIToken(raw string) bool { return strings.HasPrefix(raw, APITokenPrefix) }

// NewAPIToken returns a fresh token, the hash to store and the prefix to show.
func NewAPIToken() (raw string, hash []byte, shown string, err error) {
	b := make([]byte, apiTokenBytes)
	if _, err := rand.Read(b); err != nil {
		return "", nil, "", fmt.Errorf("api token: %w", err)
	}
	raw = APITokenPrefix + base64.RawURLEncoding.EncodeToString(b)
	return raw, HashAPIToken(raw), raw[:apiTokenShown], nil
}

// HashAPIToken is what is stored of raw: a plain SHA-256 suffices for 256 random bits,
// which no dictionary or brute force reaches (ADR 0035).
func HashAPIToken(raw string) []byte {
	sum := sha256.Sum256([]byte(raw))
	return sum[:]
}

// VerifyAPIToken returns the user an API token authenticates and the token. An unknown or
// revoked token wraps ErrInvalidToken, an expired one ErrTokenExpired; neither error holds
// the token. now is the clock (time.Now).
func VerifyAPIToken(ctx context.Context, store APITokenStore, raw string, now time.Time) (persistence.User, persistence.APIToken, error) {
	if store == nil || len(raw) != apiTokenLen {
		return persistence.User{}, persistence.APIToken{}, fmt.Errorf("%w: malformed api token", ErrInvalidToken)
	}
	u, t, err := store.APITokenByHash(ctx, HashAPIToken(raw))
	if errors.Is(err, persistence.ErrNotFound) {
		return persistence.User{}, persistence.APIToken{}, fmt.Errorf("%w: unknown or revoked api token", ErrInvalidToken)
	}
	if err != nil {
		return persistence.User{}, persistence.APIToken{}, err
	}
	if !now.Before(t.ExpiresAt.Time) {
		return persistence.User{}, persistence.APIToken{}, fmt.Errorf("%w: api token %d expired", ErrTokenExpired, t.ID)
	}
	return u, t, nil
}
