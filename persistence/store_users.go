package persistence

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
)

// User is a person known to parley, created from token claims on first use.
type User struct {
	ID          int64  `json:"id,string"`
	Username    string `json:"username"`
	DisplayName string `json:"displayName"`
	Email       string `json:"email,omitempty"`
	CreatedAt   Time   `json:"createdAt"`
}

// Identity is who a verified token speaks for (transport/auth derives it from the
// claims). Subject is the stable key to find the user by; Username is a suggestion for a
// new user (lowercase, [a-z0-9_.-], 1..MaxUsernameLen chars): UpsertUser still has to settle
// collisions between different subjects.
type Identity struct {
	Subject   string
	Username  string
	Name      string
	Email     string
	ExpiresAt time.Time
}

// MaxUsernameLen is the longest username: derived from a token, accepted by auth's Issue,
// or made unique by UpsertUser's suffix.
const MaxUsernameLen = 64

// maxUsernameAttempts bounds the suffixes UpsertUser tries before giving up: collisions
// come only from different subjects proposing the same name, a handful at most.
const maxUsernameAttempts = 20

// UpsertUser finds the user of id.Subject, creating it on first use. Profile fields (name,
// email) follow the latest token; the username is settled once, at creation: when another
// subject already has the proposed one, a numeric suffix makes it unique (alice, alice2, …).
func (s *Store) UpsertUser(ctx context.Context, id Identity) (User, error) {
	if id.Subject == "" {
		return User{}, &ValidationError{Field: "sub", Reason: "missing"}
	}
	name := id.Username
	if name == "" {
		name = "user"
	}
	var email *string
	if id.Email != "" && len(id.Email) <= 320 {
		email = &id.Email
	}
	display := truncateRunes(id.Name, 200)
	for attempt := 1; attempt <= maxUsernameAttempts; attempt++ {
		cand := name
		if attempt > 1 {
			suffix := strconv.Itoa(attempt)
			if len(cand)+len(suffix) > MaxUsernameLen {
				cand = cand[:MaxUsernameLen-len(suffix)]
			}
			cand += suffix
		}
		u, err := s.upsertUser(ctx, id.Subject, cand, display, email)
		if err == nil {
			return u, nil
		}
		if pgCode(err) == pgUniqueViolation && pgConstraint(err) == "users_username_key" {
			continue
		}
		return User{}, fmt.Errorf("upsert user %q: %w", id.Subject, err)
	}
	return User{}, fmt.Errorf("upsert user %q: no free username near %q: %w", id.Subject, name, ErrConflict)
}

func (s *Store) upsertUser(ctx context.Context, subject, username, display string, email *string) (User, error) {
	var u User
	var em *string
	// ON CONFLICT (subject) keeps the existing username; a clash on username raises
	// users_username_key and the caller tries the next suffix.
	err := s.pool.QueryRow(ctx, `
		INSERT INTO users (id, subject, username, display_name, email)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (subject) DO UPDATE
		   SET display_name = CASE WHEN EXCLUDED.display_name <> '' THEN EXCLUDED.display_name ELSE users.display_name END,
		       email = COALESCE(EXCLUDED.email, users.email)
		RETURNING id, username, display_name, email, created_at`,
		s.ids.Next(), subject, username, display, email).
		Scan(&u.ID, &u.Username, &u.DisplayName, &em, &u.CreatedAt.Time)
	if em != nil {
		u.Email = *em
	}
	return u, err
}

// UserByID returns a user.
func (s *Store) UserByID(ctx context.Context, id int64) (User, error) {
	var u User
	var em *string
	err := s.pool.QueryRow(ctx, `SELECT id, username, display_name, email, created_at FROM users WHERE id = $1`, id).
		Scan(&u.ID, &u.Username, &u.DisplayName, &em, &u.CreatedAt.Time)
	if errors.Is(err, pgx.ErrNoRows) {
		return User{}, ErrNotFound
	}
	if err != nil {
		return User{}, fmt.Errorf("user %d: %w", id, err)
	}
	if em != nil {
		u.Email = *em
	}
	return u, nil
}

func truncateRunes(s string, n int) string {
	i := 0
	for j := range s {
		if i == n {
			return s[:j]
		}
		i++
	}
	return s
}
