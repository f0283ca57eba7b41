package persistence

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
)

// messageColumns selects a message in its current state for the reader whose id is the
// query parameter $<viewer> (0: nobody, e.g. a broadcast, so every Reaction.Me is false).
// Reactions are aggregated in the same query, first-used emoji first.
func messageColumns(viewer int) string {
	v := "$" + strconv.Itoa(viewer)
	return `m.id, m.channel_id, m.seq, m.user_id, m.parent_id, m.content, COALESCE(m.client_msg_id, ''),
		m.created_at, m.edited_at, m.deleted_at, COALESCE(t.reply_count, 0), t.last_reply_at,
		COALESCE((SELECT json_agg(json_build_object('emoji', r.emoji, 'count', r.n, 'me', r.me) ORDER BY r.first, r.emoji)
		          FROM (SELECT emoji, count(*) AS n, bool_or(user_id = ` + v + `) AS me, min(created_at) AS first
		                FROM reactions WHERE message_id = m.id GROUP BY emoji) r), '[]'),
		` + messageFilesColumn
}

// messageFrom is the FROM clause matching messageColumns.
const messageFrom = ` FROM messages m LEFT JOIN threads t ON t.root_id = m.id `

// scanMessage scans the columns of messageColumns (plus extra destinations after them).
func scanMessage(row pgx.Row, m *Message, extra ...any) error {
	var edited, deleted, lastReply *time.Time
	dest := []any{&m.ID, &m.ChannelID, &m.Seq, &m.UserID, &m.ParentID, &m.Content, &m.ClientMsgID,
		&m.CreatedAt.Time, &edited, &deleted, &m.ReplyCount, &lastReply, &m.Reactions, &m.Files}
	if err := row.Scan(append(dest, extra...)...); err != nil {
		return err
	}
	m.EditedAt, m.LastReplyAt = optTime(edited), optTime(lastReply)
	m.Deleted = deleted != nil
	if m.Reactions == nil {
		m.Reactions = []Reaction{}
	}
	return nil
}

func optTime(t *time.Time) *Time {
	if t == nil {
		return nil
	}
	return &Time{*t}
}

// queryMessages runs a message query whose select list is messageColumns.
func (s *Store) queryMessages(ctx context.Context, sql string, args ...any) ([]Message, error) {
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(row pgx.Row, m *Message) error { return scanMessage(row, m) })
}

// MessagesAfter returns up to limit messages (roots and replies) of channelID with
// seq > afterSeq, ascending, in their current state (edits, tombstones, reactions with
// Me false): what a since-seq replay and a gap fill send.
func (s *Store) MessagesAfter(ctx context.Context, channelID, afterSeq int64, limit int) ([]Message, error) {
	ms, err := s.queryMessages(ctx, `SELECT `+messageColumns(4)+messageFrom+`
		WHERE m.channel_id = $1 AND m.seq > $2 ORDER BY m.seq LIMIT $3`, channelID, afterSeq, limit, 0)
	if err != nil {
		return nil, fmt.Errorf("messages of %d after %d: %w", channelID, afterSeq, err)
	}
	return ms, nil
}

// ChannelMessages lists channelID's messages for viewerID: with afterSeq >= 0 ascending
// above it, with afterSeq < 0 descending (newest first) below beforeSeq (0: from the newest).
func (s *Store) ChannelMessages(ctx context.Context, viewerID, channelID, beforeSeq, afterSeq int64, limit int) ([]Message, error) {
	var ms []Message
	var err error
	if afterSeq >= 0 {
		ms, err = s.queryMessages(ctx, `SELECT `+messageColumns(4)+messageFrom+`
			WHERE m.channel_id = $1 AND m.seq > $2 ORDER BY m.seq LIMIT $3`, channelID, afterSeq, limit, viewerID)
	} else {
		if beforeSeq <= 0 {
			beforeSeq = 1<<63 - 1
		}
		// A page going back may come from a replica; a page going forward is a catch-up
		// and reads the primary (ADR 0044).
		ms, err = s.readMessages(ctx, `SELECT `+messageColumns(4)+messageFrom+`
			WHERE m.channel_id = $1 AND m.seq < $2 ORDER BY m.seq DESC LIMIT $3`, channelID, beforeSeq, limit, viewerID)
	}
	if err != nil {
		return nil, fmt.Errorf("messages of channel %d: %w", channelID, err)
	}
	return ms, nil
}

// Message returns message id for viewerID.
func (s *Store) Message(ctx context.Context, viewerID, id int64) (Message, error) {
	ms, err := s.queryMessages(ctx, `SELECT `+messageColumns(2)+messageFrom+` WHERE m.id = $1`, id, viewerID)
	if err != nil {
		return Message{}, fmt.Errorf("message %d: %w", id, err)
	}
	if len(ms) == 0 {
		return Message{}, ErrNotFound
	}
	return ms[0], nil
}

// MessageRef is what a decision about a message needs: where it is and who wrote it.
type MessageRef struct {
	ID        int64
	ChannelID int64
	Seq       int64
	UserID    int64
	ParentID  *int64
	Deleted   bool
}

// MessageAccess loads message id and what userID is in its channel, in one query. A
// missing message is ErrNotFound.
func (s *Store) MessageAccess(ctx context.Context, userID, id int64) (Access, MessageRef, error) {
	a := Access{UserID: userID}
	var ref MessageRef
	var role *string
	var creator int64
	err := s.pool.QueryRow(ctx, `
		SELECT m.id, m.channel_id, m.seq, m.user_id, m.parent_id, m.deleted_at IS NOT NULL,
		       c.workspace_id, c.type, c.archived, c.created_by, c.last_seq, wm.role,
		       EXISTS (SELECT 1 FROM channel_members cm WHERE cm.channel_id = c.id AND cm.user_id = $1)
		FROM messages m
		JOIN channels c ON c.id = m.channel_id
		LEFT JOIN workspace_members wm ON wm.workspace_id = c.workspace_id AND wm.user_id = $1
		WHERE m.id = $2`, userID, id).
		Scan(&ref.ID, &ref.ChannelID, &ref.Seq, &ref.UserID, &ref.ParentID, &ref.Deleted,
			&a.WorkspaceID, &a.Type, &a.Archived, &creator, &a.LastSeq, &role, &a.Member)
	if errors.Is(err, pgx.ErrNoRows) {
		return Access{}, MessageRef{}, ErrNotFound
	}
	if err != nil {
		return Access{}, MessageRef{}, fmt.Errorf("message access: %w", err)
	}
	a.ChannelID = ref.ChannelID
	a.intern(role)
	a.Creator = creator == userID
	return a, ref, nil
}

// DeleteMessage turns message id into a tombstone (empty content, its reactions, mentions,
// pin, edit history and attachments removed, a file no other message or avatar uses marked
// deleted for the janitor; replies and thread statistics stay). deleted is false when it
// already was one.
func (s *Store) DeleteMessage(ctx context.Context, id int64) (deleted bool, err error) {
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE messages SET content = '', deleted_at = $2 WHERE id = $1 AND deleted_at IS NULL`, id, s.nowUTC())
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		deleted = true
		b := &pgx.Batch{}
		b.Queue(`DELETE FROM reactions WHERE message_id = $1`, id)
		b.Queue(`DELETE FROM mentions WHERE message_id = $1`, id)
		b.Queue(`DELETE FROM pins WHERE message_id = $1`, id)             // ADR 0042
		b.Queue(`DELETE FROM message_versions WHERE message_id = $1`, id) // ADR 0042
		queueDetach(b, id, s.nowUTC())
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return false, fmt.Errorf("delete message %d: %w", id, err)
	}
	return deleted, nil
}
