package persistence

import (
	"context"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxEmojiRunes bounds a reaction's emoji (a Unicode emoji or a :short_name:).
const MaxEmojiRunes = 64

// ValidateEmoji checks a reaction emoji: 1..64 printable characters without spaces or '/'.
func ValidateEmoji(e string) error {
	n := utf8.RuneCountInString(e)
	if e == "" || n > MaxEmojiRunes || len(e) > 64 || !utf8.ValidString(e) ||
		strings.IndexFunc(e, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) || r == '/' }) >= 0 {
		return &ValidationError{Field: "emoji", Reason: "1-64 bytes of printable characters, no spaces or '/'"}
	}
	return nil
}

// SetReaction adds (on) or removes userID's emoji on message id and returns the emoji's
// count afterwards; changed is false when there was nothing to do (idempotent PUT/DELETE).
func (s *Store) SetReaction(ctx context.Context, id, userID int64, emoji string, on bool) (count int, changed bool, err error) {
	if err := ValidateEmoji(emoji); err != nil {
		return 0, false, err
	}
	var q string
	if on {
		q = `WITH w AS (INSERT INTO reactions (message_id, emoji, user_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING 1)`
	} else {
		q = `WITH w AS (DELETE FROM reactions WHERE message_id = $1 AND emoji = $2 AND user_id = $3 RETURNING 1)`
	}
	// The main query's snapshot predates w, so the count is corrected by w's effect.
	sign := "+"
	if !on {
		sign = "-"
	}
	err = s.pool.QueryRow(ctx, q+`
		SELECT (SELECT count(*) FROM reactions WHERE message_id = $1 AND emoji = $2) `+sign+` (SELECT count(*) FROM w),
		       EXISTS (SELECT 1 FROM w)`, id, emoji, userID).Scan(&count, &changed)
	if pgCode(err) == pgForeignKeyViolation {
		return 0, false, ErrNotFound
	}
	if err != nil {
		return 0, false, fmt.Errorf("reaction on %d: %w", id, err)
	}
	return count, changed, nil
}
