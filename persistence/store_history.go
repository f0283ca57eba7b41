package persistence

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// MaxEditHistory is how many earlier versions of one message are kept: the newest ones;
// an older version is dropped by the edit that makes the 21st. At 4,000 characters a
// version, a message's history stays under 80 KB (ADR 0042).
const MaxEditHistory = 20

// MessageVersion is an earlier version of an edited message: its content and when it was
// written (the original's createdAt, or the edit that produced it).
type MessageVersion struct {
	Content  string `json:"content"`
	EditedAt Time   `json:"editedAt"`
}

// EditMessage replaces the content of message id, keeping the content it replaces in its
// history (MessageHistory), and returns the message as viewerID sees it. A tombstone is
// ErrGone.
func (s *Store) EditMessage(ctx context.Context, viewerID, id int64, content string) (Message, error) {
	if err := ValidateContent(content); err != nil {
		return Message{}, err
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		// The row lock makes edits of one message take turns; the next statement's snapshot,
		// taken after it, sees the versions of every edit before this one.
		var deleted bool
		var old string
		var written time.Time
		err := tx.QueryRow(ctx, `SELECT deleted_at IS NOT NULL, content, COALESCE(edited_at, created_at)
			FROM messages WHERE id = $1 FOR NO KEY UPDATE`, id).Scan(&deleted, &old, &written)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return ErrNotFound
		case err != nil:
			return err
		case deleted:
			return fmt.Errorf("message %d is deleted: %w", id, ErrGone)
		}
		_, err = tx.Exec(ctx, `
			WITH n AS (SELECT COALESCE(max(version), 0) + 1 AS v FROM message_versions WHERE message_id = $1),
			ins AS (INSERT INTO message_versions (message_id, version, content, written_at) SELECT $1, n.v, $2, $3 FROM n),
			trim AS (DELETE FROM message_versions WHERE message_id = $1 AND version <= (SELECT v FROM n) - $4)
			UPDATE messages SET content = $5, edited_at = $6 WHERE id = $1`,
			id, old, written, MaxEditHistory, content, s.nowUTC())
		return err
	})
	switch {
	case errors.Is(err, ErrNotFound):
		return Message{}, ErrNotFound
	case errors.Is(err, ErrGone):
		return Message{}, err
	case err != nil:
		return Message{}, fmt.Errorf("edit message %d: %w", id, err)
	}
	return s.Message(ctx, viewerID, id)
}

// MessageHistory returns the earlier versions of message id, the newest first (at most
// MaxEditHistory; none for a message never edited, or a tombstone).
func (s *Store) MessageHistory(ctx context.Context, id int64) ([]MessageVersion, error) {
	rows, err := s.pool.Query(ctx, `SELECT content, written_at FROM message_versions
		WHERE message_id = $1 ORDER BY version DESC`, id)
	if err != nil {
		return nil, fmt.Errorf("history of message %d: %w", id, err)
	}
	vs, err := collect(rows, func(row pgx.Row, v *MessageVersion) error { return row.Scan(&v.Content, &v.EditedAt.Time) })
	if err != nil {
		return nil, fmt.Errorf("history of message %d: %w", id, err)
	}
	return vs, nil
}
