package auth

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/parley-chat/parley/errcode"
)

var (
	// ErrNoSecret is returned by Issue when no HS256Secret is configured.
	ErrNoSecret = errors.New("auth: token issuance needs an HS256 secret")
	// ErrBadUsername is returned by Issue for a username outside [a-z0-9_.-]{1,64}
	// (upper case is folded first).
	ErrBadUsername error = errcode.New(errcode.Validation, "auth: username must be 1-64 characters of a-z, 0-9, '_', '.', '-'")
)

// DevSubjectPrefix starts the sub of every token Issue mints, so dev users can never
// collide with the subjects of an external identity provider.
const DevSubjectPrefix = "dev:"

// Issue mints an HS256 token for username (dev login, `parley token`), valid for ttl
// (DevTokenTTL when ttl <= 0). It carries iss/aud when configured, so Verify accepts it.
func (v *Verifier) Issue(username string, ttl time.Duration) (token string, expiresAt time.Time, err error) {
	if v.secret == nil {
		return "", time.Time{}, ErrNoSecret
	}
	username = strings.ToLower(strings.TrimSpace(username))
	if username == "" || sanitizeUsername(username) != username {
		return "", time.Time{}, fmt.Errorf("%w: %q", ErrBadUsername, username)
	}
	if ttl <= 0 {
		ttl = v.cfg.DevTokenTTL
	}
	// JWT times are whole seconds; report the exp the token really carries.
	now := v.now().Truncate(time.Second)
	expiresAt = now.Add(ttl)
	c := claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   DevSubjectPrefix + username,
			Issuer:    v.cfg.Issuer,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(expiresAt),
		},
		PreferredUsername: username,
	}
	if v.cfg.Audience != "" {
		c.Audience = jwt.ClaimStrings{v.cfg.Audience}
	}
	token, err = jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(v.secret)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("auth: sign token: %w", err)
	}
	return token, expiresAt, nil
}

// TokenFromRequest returns the bearer token of r: from `Authorization: Bearer <token>`
// (scheme matched case-insensitively), else from the access_token query parameter, which
// is the only way a browser's WebSocket can send one. "" if there is none.
func TokenFromRequest(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, ok := strings.Cut(strings.TrimSpace(h), " ")
		if ok && strings.EqualFold(scheme, "Bearer") {
			if tok = strings.TrimSpace(tok); tok != "" {
				return tok
			}
		}
	}
	return r.URL.Query().Get("access_token")
}
