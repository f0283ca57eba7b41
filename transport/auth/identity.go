package auth

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/golang-jwt/jwt/v5"

	"github.com/parley-chat/parley/persistence"
)

// maxSubjectLen bounds sub, which becomes a stored, indexed key.
const maxSubjectLen = 255

// claims is the token payload: registered claims plus the OIDC profile claims we use.
type claims struct {
	jwt.RegisteredClaims
	PreferredUsername string `json:"preferred_username,omitempty"`
	Name              string `json:"name,omitempty"`
	Email             string `json:"email,omitempty"`
}

func identityFrom(c *claims) (persistence.Identity, error) {
	if c.Subject == "" {
		return persistence.Identity{}, errors.New("token has no sub")
	}
	if len(c.Subject) > maxSubjectLen {
		return persistence.Identity{}, fmt.Errorf("sub longer than %d bytes", maxSubjectLen)
	}
	// PostgreSQL text cannot hold NUL: a sub with one names no storable user, and a name or
	// e-mail with one is dropped rather than failing every request of its user.
	if strings.ContainsRune(c.Subject, 0) {
		return persistence.Identity{}, errors.New("sub holds a NUL character")
	}
	id := persistence.Identity{
		Subject:  c.Subject,
		Username: deriveUsername(c.PreferredUsername, c.Email, c.Subject),
		Name:     strings.ReplaceAll(c.Name, "\x00", ""),
		Email:    c.Email,
	}
	if strings.ContainsRune(id.Email, 0) {
		id.Email = ""
	}
	if c.ExpiresAt != nil { // always, given WithExpirationRequired
		id.ExpiresAt = c.ExpiresAt.Time
	}
	return id, nil
}

// deriveUsername takes the first of preferred_username, the local part of email and sub
// that still says something once reduced to the username alphabet, and otherwise a name
// derived from sub so that the same subject always gets the same username.
func deriveUsername(preferred, email, sub string) string {
	local := email
	if i := strings.LastIndexByte(email, '@'); i >= 0 {
		local = email[:i]
	}
	for _, cand := range []string{preferred, local, sub} {
		if u := sanitizeUsername(cand); u != "" {
			return u
		}
	}
	sum := sha256.Sum256([]byte(sub))
	return "user-" + hex.EncodeToString(sum[:5])
}

// sanitizeUsername lowercases s, drops every character outside [a-z0-9_.-] and truncates
// the result to persistence.MaxUsernameLen.
func sanitizeUsername(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if b.Len() == persistence.MaxUsernameLen {
			break
		}
		if isUsernameChar(r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func isUsernameChar(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-'
}
