package persistence

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
)

// Profile limits, in characters.
const (
	MaxDisplayNameRunes = 80
	MaxStatusTextRunes  = 100
	maxTimezoneLen      = 64
)

// ProfileUpdate is a partial change of the caller's profile; nil fields stay, "" clears.
type ProfileUpdate struct {
	DisplayName *string
	StatusText  *string
	StatusEmoji *string
	Timezone    *string
	// AvatarFileID: an image upload of the user's own; 0 removes the avatar.
	AvatarFileID *int64
}

// tzNameRe is the shape of an IANA zone name (Europe/Paris, America/Argentina/Buenos_Aires,
// Etc/GMT+3, UTC); time.LoadLocation then says whether the zone exists.
var tzNameRe = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*$`)

// Validate checks every field given, trimming the texts, and returns the first problem
// (a ValidationError naming the field).
func (u *ProfileUpdate) Validate() error {
	if u.DisplayName == nil && u.StatusText == nil && u.StatusEmoji == nil && u.Timezone == nil && u.AvatarFileID == nil {
		return &ValidationError{Reason: "nothing to change: give displayName, statusText, statusEmoji, timezone or avatarFileId"}
	}
	if u.AvatarFileID != nil && *u.AvatarFileID < 0 {
		return &ValidationError{Field: "avatarFileId", Reason: "not a file id"}
	}
	if u.DisplayName != nil {
		v, err := profileText("displayName", *u.DisplayName, MaxDisplayNameRunes)
		if err != nil {
			return err
		}
		u.DisplayName = &v
	}
	if u.StatusText != nil {
		v, err := profileText("statusText", *u.StatusText, MaxStatusTextRunes)
		if err != nil {
			return err
		}
		u.StatusText = &v
	}
	if u.StatusEmoji != nil && *u.StatusEmoji != "" {
		if err := ValidateEmoji(*u.StatusEmoji); err != nil {
			return &ValidationError{Field: "statusEmoji", Reason: err.(*ValidationError).Reason}
		}
	}
	if u.Timezone != nil && *u.Timezone != "" {
		if err := ValidateTimezone(*u.Timezone); err != nil {
			return err
		}
	}
	return nil
}

// ValidateTimezone accepts an IANA time zone name that this binary knows (cmd/parley
// embeds time/tzdata, so a host without zoneinfo knows them all).
func ValidateTimezone(tz string) error {
	bad := &ValidationError{Field: "timezone", Reason: fmt.Sprintf("%q is not an IANA time zone name such as Europe/Paris", tz)}
	if len(tz) > maxTimezoneLen || !tzNameRe.MatchString(tz) || tz == "Local" {
		return bad
	}
	if _, err := time.LoadLocation(tz); err != nil {
		return bad
	}
	return nil
}

// profileText trims s and checks it: valid UTF-8, no control characters, at most max runes.
func profileText(field, s string, max int) (string, error) {
	s = strings.TrimSpace(s)
	if !utf8.ValidString(s) || strings.IndexFunc(s, unicode.IsControl) >= 0 {
		return "", &ValidationError{Field: field, Reason: "must be valid UTF-8 without control characters"}
	}
	if n := utf8.RuneCountInString(s); n > max {
		return "", &ValidationError{Field: field, Reason: fmt.Sprintf("%d characters, at most %d allowed", n, max)}
	}
	return s, nil
}

// UpdateProfile validates u and applies it to userID's profile in one statement: a bad
// field changes nothing. A display name set here is kept over later tokens' name claims;
// clearing it ("") lets them fill it again.
func (s *Store) UpdateProfile(ctx context.Context, userID int64, u ProfileUpdate) (User, error) {
	if err := u.Validate(); err != nil {
		return User{}, err
	}
	var out User
	var err error
	if u.AvatarFileID == nil {
		err = scanUser(s.pool.QueryRow(ctx, updateProfileSQL, userID, u.DisplayName, u.StatusText, u.StatusEmoji, u.Timezone), &out)
	} else {
		err = s.inTx(ctx, func(tx pgx.Tx) error {
			if err := s.setAvatar(ctx, tx, userID, *u.AvatarFileID); err != nil {
				return err
			}
			return scanUser(tx.QueryRow(ctx, updateProfileSQL, userID, u.DisplayName, u.StatusText, u.StatusEmoji, u.Timezone), &out)
		})
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return User{}, ErrNotFound
	}
	if err != nil {
		return User{}, fmt.Errorf("update profile of %d: %w", userID, err)
	}
	return out, nil
}

const updateProfileSQL = `UPDATE users u SET
	    display_name = COALESCE($2, u.display_name),
	    display_name_set = CASE WHEN $2::text IS NULL THEN u.display_name_set ELSE $2 <> '' END,
	    status_text = COALESCE($3, u.status_text),
	    status_emoji = COALESCE($4, u.status_emoji),
	    timezone = COALESCE($5, u.timezone)
	WHERE u.id = $1 RETURNING ` + userColumns

// setAvatar makes fileID (0: none) userID's avatar in tx: it must be an image the user
// uploaded. The new file gains a reference (and is never collected as unattached), the old
// one loses its own and is marked deleted when nothing else uses it (ADR 0041).
func (s *Store) setAvatar(ctx context.Context, tx pgx.Tx, userID, fileID int64) error {
	if fileID != 0 {
		var ct string
		err := tx.QueryRow(ctx, `SELECT content_type FROM files WHERE id = $1 AND uploader_id = $2 AND deleted_at IS NULL
			FOR UPDATE`, fileID, userID).Scan(&ct)
		if errors.Is(err, pgx.ErrNoRows) {
			return &ValidationError{Field: "avatarFileId", Reason: "not an upload of yours"}
		}
		if err != nil {
			return fmt.Errorf("avatar file: %w", err)
		}
		if !IsInlineImage(ct) {
			return &ValidationError{Field: "avatarFileId", Reason: "must be an image (PNG, JPEG, GIF, WebP or BMP), not " + ct}
		}
	}
	var old *int64
	if err := tx.QueryRow(ctx, `SELECT avatar_file_id FROM users WHERE id = $1 FOR UPDATE`, userID).Scan(&old); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		return fmt.Errorf("avatar of %d: %w", userID, err)
	}
	if old != nil && *old == fileID {
		return nil
	}
	var newID *int64
	if fileID != 0 {
		newID = &fileID
	}
	b := &pgx.Batch{}
	b.Queue(`UPDATE users SET avatar_file_id = $2 WHERE id = $1`, userID, newID)
	if newID != nil {
		b.Queue(`UPDATE files SET refs = refs + 1, attached = true WHERE id = $1`, fileID)
	}
	if old != nil {
		b.Queue(`UPDATE files SET refs = refs - 1, deleted_at = CASE WHEN refs = 1 THEN $2 ELSE deleted_at END
			WHERE id = $1`, *old, s.nowUTC())
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("set avatar of %d: %w", userID, err)
	}
	return nil
}

// VisibleUser returns user id as viewerID may see it: only when the two share a workspace
// (a user always sees themselves), else ErrNotFound. The e-mail address is the user's own
// business: it is left out for anyone else.
func (s *Store) VisibleUser(ctx context.Context, viewerID, id int64) (User, error) {
	var u User
	err := scanUser(s.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users u
		WHERE u.id = $2 AND ($1 = $2 OR EXISTS (
		    SELECT 1 FROM workspace_members mine
		    JOIN workspace_members theirs ON theirs.workspace_id = mine.workspace_id AND theirs.user_id = $2
		    WHERE mine.user_id = $1))`, viewerID, id), &u)
	if errors.Is(err, pgx.ErrNoRows) {
		return User{}, ErrNotFound
	}
	if err != nil {
		return User{}, fmt.Errorf("user %d: %w", id, err)
	}
	if id != viewerID {
		u.Email = ""
	}
	return u, nil
}
