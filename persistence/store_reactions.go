package persistence

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/parley-chat/parley/errcode"
)

// MaxReactionsPerMessage bounds the distinct emojis on one message: every fetch of the
// message carries them (a thousand were 38 KB, issue 21).
const MaxReactionsPerMessage = 50

// ErrTooManyReactions: a new emoji on a message that has MaxReactionsPerMessage distinct
// ones already; reacting with one of those still works.
var ErrTooManyReactions error = errcode.New(errcode.TooManyReactions, fmt.Sprintf("a message has at most %d distinct reactions", MaxReactionsPerMessage))

// SetReaction adds (on) or removes userID's emoji on message id and returns the emoji's
// count afterwards; changed is false when there was nothing to do (idempotent PUT/DELETE).
func (s *Store) SetReaction(ctx context.Context, id, userID int64, emoji string, on bool) (count int, changed bool, err error) {
	if !on {
		return s.removeReaction(ctx, id, userID, emoji)
	}
	if err := ValidateEmoji(emoji); err != nil {
		return 0, false, err
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		// Adds to one message take turns on its row, so that the distinct count below (a
		// statement of its own, with a snapshot taken after the lock) sees every add
		// committed before: two new emojis at once cannot both be the 50th.
		var one int
		if err := tx.QueryRow(ctx, `SELECT 1 FROM messages WHERE id = $1 FOR NO KEY UPDATE`, id).Scan(&one); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return ErrNotFound
			}
			return err
		}
		// The main query's snapshot predates w, so the count is corrected by w's effect.
		var allowed bool
		err := tx.QueryRow(ctx, `
			WITH ok AS (SELECT EXISTS (SELECT 1 FROM reactions WHERE message_id = $1 AND emoji = $2)
			                   OR (SELECT count(DISTINCT emoji) FROM reactions WHERE message_id = $1) < $4 AS ok),
			w AS (INSERT INTO reactions (message_id, emoji, user_id) SELECT $1, $2, $3 FROM ok WHERE ok.ok
			      ON CONFLICT DO NOTHING RETURNING 1)
			SELECT (SELECT count(*) FROM reactions WHERE message_id = $1 AND emoji = $2) + (SELECT count(*) FROM w),
			       EXISTS (SELECT 1 FROM w), (SELECT ok FROM ok)`,
			id, emoji, userID, MaxReactionsPerMessage).Scan(&count, &changed, &allowed)
		if err == nil && !allowed {
			return ErrTooManyReactions
		}
		return err
	})
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrTooManyReactions) {
		return 0, false, err
	}
	if err != nil {
		return 0, false, fmt.Errorf("reaction on %d: %w", id, err)
	}
	return count, changed, nil
}

// removeReaction takes userID's emoji off message id. Any emoji once accepted can be
// taken back, even one that ValidateEmoji refuses now.
func (s *Store) removeReaction(ctx context.Context, id, userID int64, emoji string) (count int, changed bool, err error) {
	if err := ValidateEmojiRemoval(emoji); err != nil {
		return 0, false, err
	}
	// The main query's snapshot predates w, so the count is corrected by w's effect.
	err = s.pool.QueryRow(ctx, `WITH w AS (DELETE FROM reactions WHERE message_id = $1 AND emoji = $2 AND user_id = $3 RETURNING 1)
		SELECT (SELECT count(*) FROM reactions WHERE message_id = $1 AND emoji = $2) - (SELECT count(*) FROM w),
		       EXISTS (SELECT 1 FROM w)`, id, emoji, userID).Scan(&count, &changed)
	if err != nil {
		return 0, false, fmt.Errorf("reaction on %d: %w", id, err)
	}
	return count, changed, nil
}
