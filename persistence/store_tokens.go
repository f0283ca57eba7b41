package persistence

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// MaxAPITokensPerUser bounds the unexpired API tokens one user may hold (docs/LIMITS.md).
const MaxAPITokensPerUser = 50

// APIToken is a personal API token as listed: never its secret, only the first characters
// (Prefix) so that its owner can tell tokens apart (ADR 0035).
type APIToken struct {
	ID         int64  `json:"id,string"`
	Name       string `json:"name"`
	Prefix     string `json:"prefix"`
	CreatedAt  Time   `json:"createdAt"`
	ExpiresAt  Time   `json:"expiresAt"`
	LastUsedAt *Time  `json:"lastUsedAt,omitempty"`
	// UserID is the owner; not rendered (the list is always the caller's own).
	UserID int64 `json:"-"`
}

// NewAPIToken is a token to store: the SHA-256 of its secret, never the secret.
type NewAPIToken struct {
	UserID    int64
	Name      string
	Hash      []byte // 32 bytes
	Prefix    string
	ExpiresAt time.Time
}

const apiTokenColumns = `t.id, t.user_id, t.name, t.prefix, t.created_at, t.expires_at, t.last_used_at`

func scanAPIToken(row pgx.Row, t *APIToken, extra ...any) error {
	var last *time.Time
	if err := row.Scan(append([]any{&t.ID, &t.UserID, &t.Name, &t.Prefix, &t.CreatedAt.Time, &t.ExpiresAt.Time, &last}, extra...)...); err != nil {
		return err
	}
	if last != nil {
		t.LastUsedAt = &Time{*last}
	}
	return nil
}

// CreateAPIToken stores a token; a user already holding MaxAPITokensPerUser unexpired tokens
// gets a ValidationError and nothing is stored.
func (s *Store) CreateAPIToken(ctx context.Context, nt NewAPIToken) (APIToken, error) {
	var t APIToken
	err := scanAPIToken(s.pool.QueryRow(ctx, `
		INSERT INTO api_tokens AS t (id, user_id, name, token_hash, prefix, expires_at)
		SELECT $1, $2, $3, $4, $5, $6
		WHERE (SELECT count(*) FROM api_tokens WHERE user_id = $2 AND expires_at > now()) < $7
		RETURNING `+apiTokenColumns,
		s.ids.Next(), nt.UserID, nt.Name, nt.Hash, nt.Prefix, nt.ExpiresAt, MaxAPITokensPerUser), &t)
	if errors.Is(err, pgx.ErrNoRows) {
		return APIToken{}, &ValidationError{Reason: fmt.Sprintf("at most %d unexpired API tokens per user: revoke one first", MaxAPITokensPerUser)}
	}
	if err != nil {
		return APIToken{}, fmt.Errorf("create api token of %d: %w", nt.UserID, err)
	}
	return t, nil
}

// APITokens lists userID's tokens, newest first (at most MaxAPITokensPerUser unexpired, plus
// expired ones not yet revoked).
func (s *Store) APITokens(ctx context.Context, userID int64) ([]APIToken, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+apiTokenColumns+` FROM api_tokens t
		WHERE t.user_id = $1 ORDER BY t.id DESC LIMIT 1000`, userID)
	if err != nil {
		return nil, fmt.Errorf("api tokens of %d: %w", userID, err)
	}
	defer rows.Close()
	out := []APIToken{}
	for rows.Next() {
		var t APIToken
		if err := scanAPIToken(rows, &t); err != nil {
			return nil, fmt.Errorf("api tokens of %d: %w", userID, err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("api tokens of %d: %w", userID, err)
	}
	return out, nil
}

// RevokeAPIToken deletes userID's token id; ErrNotFound when userID holds no such token
// (another user's included, so that ids are not confirmed).
func (s *Store) RevokeAPIToken(ctx context.Context, userID, id int64) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM api_tokens WHERE id = $1 AND user_id = $2`, id, userID)
	if err != nil {
		return fmt.Errorf("revoke api token %d: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

// APITokenByHash returns the token whose secret hashes to hash and its owner (ErrNotFound
// when none: never issued or revoked). Expiry is the caller's to check. lastUsedAt is
// refreshed at most once a minute, so that a busy token is not a write per request.
func (s *Store) APITokenByHash(ctx context.Context, hash []byte) (User, APIToken, error) {
	var t APIToken
	var u User
	var em *string
	err := scanAPIToken(s.pool.QueryRow(ctx, `SELECT `+apiTokenColumns+`, `+userColumns+`
		FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1`, hash), &t,
		userDest(&u, &em)...)
	if errors.Is(err, pgx.ErrNoRows) {
		return User{}, APIToken{}, ErrNotFound
	}
	if err != nil {
		return User{}, APIToken{}, fmt.Errorf("api token: %w", err)
	}
	if em != nil {
		u.Email = *em
	}
	if t.LastUsedAt == nil || time.Since(t.LastUsedAt.Time) > time.Minute {
		if _, err := s.pool.Exec(ctx, `UPDATE api_tokens SET last_used_at = now() WHERE id = $1`, t.ID); err != nil {
			return User{}, APIToken{}, fmt.Errorf("api token %d: touch: %w", t.ID, err)
		}
	}
	return u, t, nil
}
