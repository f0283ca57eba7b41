package persistence

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
)

// User is a person known to parley, created from token claims on first use, with the
// profile they keep (PATCH /api/users/me). Email is shown to the user themselves only.
type User struct {
	ID          int64  `json:"id,string"`
	Username    string `json:"username"`
	DisplayName string `json:"displayName"`
	Email       string `json:"email,omitempty"`
	CreatedAt   Time   `json:"createdAt"`
	// IsBot marks a bot account: it signs in with API tokens only (ADR 0036).
	IsBot bool `json:"isBot"`
	Profile
}

// Profile is what a user says about themselves besides their name. AvatarFileID is an
// image the user uploaded (ADR 0041); AvatarURL is its download path (null without one),
// readable by anyone who shares a workspace with the user.
type Profile struct {
	StatusText   string  `json:"statusText"`
	StatusEmoji  string  `json:"statusEmoji"`
	Timezone     string  `json:"timezone"` // an IANA zone name, "" when not set
	AvatarFileID *int64  `json:"avatarFileId,string,omitempty"`
	AvatarURL    *string `json:"avatarUrl"`
}

func profileDest(p *Profile) []any {
	return []any{&p.StatusText, &p.StatusEmoji, &p.Timezone, avatarDest{p}}
}

// avatarDest scans avatar_file_id into both AvatarFileID and AvatarURL, so that every
// query selecting a profile renders the URL without a step of its own.
type avatarDest struct{ p *Profile }

// Scan implements sql.Scanner.
func (d avatarDest) Scan(src any) error {
	d.p.AvatarFileID, d.p.AvatarURL = nil, nil
	switch v := src.(type) {
	case nil:
		return nil
	case int64:
		url := FileURL(v)
		d.p.AvatarFileID, d.p.AvatarURL = &v, &url
		return nil
	}
	return fmt.Errorf("avatar_file_id: unexpected %T", src)
}

const userColumns = `u.id, u.username, u.display_name, u.email, u.created_at, u.is_bot, u.status_text, u.status_emoji, u.timezone, u.avatar_file_id`

// userDest is where a row of userColumns goes; em receives the nullable email.
func userDest(u *User, em **string) []any {
	return append([]any{&u.ID, &u.Username, &u.DisplayName, em, &u.CreatedAt.Time, &u.IsBot}, profileDest(&u.Profile)...)
}

func scanUser(row pgx.Row, u *User) error {
	var em *string
	if err := row.Scan(userDest(u, &em)...); err != nil {
		return err
	}
	if em != nil {
		u.Email = *em
	}
	return nil
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
	// Most sign-ins are of a known user whose claims have not changed: a read answers them,
	// with no row version and no WAL flush. A storm of 10,000 reconnects spent half its
	// database time in this upsert's commits (docs/BENCHMARKS.md, 2026-12-08).
	if u, ok, err := s.knownUser(ctx, id.Subject, display, email); err != nil || ok {
		return u, err
	}
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

// knownUser returns the user of subject when signing in would change nothing: the row
// exists, is not a bot's, and its display name and email already match the claims (or
// they do not override them). ok is false when the upsert has to run.
func (s *Store) knownUser(ctx context.Context, subject, display string, email *string) (u User, ok bool, err error) {
	var nameSet bool
	var em *string
	err = s.pool.QueryRow(ctx, `SELECT `+userColumns+`, u.display_name_set FROM users u WHERE u.subject = $1`, subject).
		Scan(append(userDest(&u, &em), &nameSet)...)
	if errors.Is(err, pgx.ErrNoRows) {
		return User{}, false, nil
	}
	if err != nil {
		return User{}, false, fmt.Errorf("user %q: %w", subject, err)
	}
	if u.IsBot {
		return User{}, false, ErrBotSignIn
	}
	if em != nil {
		u.Email = *em
	}
	sameName := display == "" || nameSet || u.DisplayName == display
	sameEmail := email == nil || u.Email == *email
	return u, sameName && sameEmail, nil
}

func (s *Store) upsertUser(ctx context.Context, subject, username, display string, email *string) (User, error) {
	var u User
	// ON CONFLICT (subject) keeps the existing username; a clash on username raises
	// users_username_key and the caller tries the next suffix. A display name the user
	// chose (display_name_set) outlives the tokens' name claims. A bot's row is never
	// matched (WHERE NOT u.is_bot: no row comes back): a bot signs in with its API tokens
	// only, whatever subject an identity provider or dev login claims (ADR 0036).
	err := scanUser(s.pool.QueryRow(ctx, `
		INSERT INTO users AS u (id, subject, username, display_name, email)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (subject) DO UPDATE
		   SET display_name = CASE WHEN EXCLUDED.display_name <> '' AND NOT u.display_name_set
		                           THEN EXCLUDED.display_name ELSE u.display_name END,
		       email = COALESCE(EXCLUDED.email, u.email)
		 WHERE NOT u.is_bot
		RETURNING `+userColumns,
		s.ids.Next(), subject, username, display, email), &u)
	if errors.Is(err, pgx.ErrNoRows) {
		return User{}, ErrBotSignIn
	}
	return u, err
}

// ErrBotSignIn refuses a token whose subject is a bot's: bots sign in with API tokens only.
var ErrBotSignIn = fmt.Errorf("%w: a bot signs in with its API tokens only", ErrForbidden)

// UserByID returns a user.
func (s *Store) UserByID(ctx context.Context, id int64) (User, error) {
	var u User
	err := scanUser(s.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users u WHERE u.id = $1`, id), &u)
	if errors.Is(err, pgx.ErrNoRows) {
		return User{}, ErrNotFound
	}
	if err != nil {
		return User{}, fmt.Errorf("user %d: %w", id, err)
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
