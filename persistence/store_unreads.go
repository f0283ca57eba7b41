package persistence

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Unread sort orders.
const (
	SortNewest  = "newest"
	SortOldest  = "oldest"
	SortChannel = "channel"
)

// UnreadCursor is where a page of unreads continues: after message ID (newest, oldest) or
// after (ChannelID, Seq) (channel). The zero value starts at the beginning.
type UnreadCursor struct {
	ID        int64
	ChannelID int64
	Seq       int64
}

// unreadFrom selects the messages userID ($1) has not read: in channels they are a member
// of (and so can read), above their marker, written by others, not deleted. The marker is
// the larger of read_receipts' and the one given for the channel in the parallel arrays of
// channel ids ($2) and seqs ($3); GREATEST ignores the NULL of a missing side.
//
// The shape is the plan: first the caller's ~20 channels and their markers (mine), then
// each channel's unread range on messages' (channel_id, seq) index. The OFFSET 0s keep
// PostgreSQL from flattening the two into one join, which it then ordered by its row
// estimates: with statistics older than the messages table (a young or bulk-loaded
// database, autovacuum behind or off) it started from messages and joined every message
// of the workspace to the caller's memberships — 20 ms per call at 7,500 messages and
// growing with the table, most of PostgreSQL's CPU at 10,000 users (docs/BENCHMARKS.md).
// This way a call costs the caller's channels plus their unread messages, whatever the
// statistics say.
const unreadFrom = `
	FROM (SELECT cm.channel_id, GREATEST(rr.last_read_seq, newer.seq, 0) AS floor
	      FROM channel_members cm
	      JOIN channels c ON c.id = cm.channel_id
	      JOIN workspace_members wm ON wm.workspace_id = c.workspace_id AND wm.user_id = cm.user_id
	      LEFT JOIN read_receipts rr ON rr.user_id = cm.user_id AND rr.channel_id = cm.channel_id
	      LEFT JOIN unnest($2::bigint[], $3::bigint[]) AS newer(channel_id, seq) ON newer.channel_id = cm.channel_id
	      WHERE cm.user_id = $1
	      OFFSET 0) mine
	CROSS JOIN LATERAL (SELECT * FROM messages m
	      WHERE m.channel_id = mine.channel_id AND m.seq > mine.floor
	        AND m.user_id <> $1 AND m.deleted_at IS NULL
	      OFFSET 0) m
	LEFT JOIN threads t ON t.root_id = m.id
	WHERE TRUE`

// Unreads returns a page of userID's unread messages in order sort, and how many there are
// in all. newer maps channel ids to read markers that may be ahead of read_receipts (the
// Redis cache's); in each channel the larger marker counts. It may be nil.
func (s *Store) Unreads(ctx context.Context, userID int64, sort string, cur UnreadCursor, limit int, newer map[int64]int64) ([]Message, int64, error) {
	chans, seqs := make([]int64, 0, len(newer)), make([]int64, 0, len(newer))
	for c, seq := range newer {
		chans, seqs = append(chans, c), append(seqs, seq)
	}
	var where, order string
	args := []any{userID, chans, seqs}
	switch sort {
	case SortNewest:
		before := cur.ID
		if before <= 0 {
			before = 1<<63 - 1
		}
		where, order = ` AND m.id < $4`, ` ORDER BY m.id DESC LIMIT $5`
		args = append(args, before, limit)
	case SortOldest:
		where, order = ` AND m.id > $4`, ` ORDER BY m.id LIMIT $5`
		args = append(args, cur.ID, limit)
	case SortChannel:
		where, order = ` AND (m.channel_id, m.seq) > ($4, $5)`, ` ORDER BY m.channel_id, m.seq LIMIT $6`
		args = append(args, cur.ChannelID, cur.Seq, limit)
	default:
		return nil, 0, &ValidationError{Field: "sort", Reason: "one of newest, oldest, channel"}
	}
	ms, err := s.readMessages(ctx, `SELECT `+messageColumns(1)+unreadFrom+where+order, args...)
	if err != nil {
		return nil, 0, fmt.Errorf("unreads of %d: %w", userID, err)
	}
	totals, err := readRows(ctx, s, func(row pgx.Row, n *int64) error { return row.Scan(n) }, `SELECT count(*)`+unreadFrom, args[:3]...)
	if err != nil {
		return nil, 0, fmt.Errorf("unread count of %d: %w", userID, err)
	}
	return ms, totals[0], nil
}

// MemberChannelIDs returns the ids of the channels userID is a member of, in every
// workspace: the channels whose cached read markers the unreads list needs.
func (s *Store) MemberChannelIDs(ctx context.Context, userID int64) ([]int64, error) {
	rows, err := s.pool.Query(ctx, `SELECT channel_id FROM channel_members WHERE user_id = $1`, userID)
	if err != nil {
		return nil, fmt.Errorf("channels of user %d: %w", userID, err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("channels of user %d: %w", userID, err)
	}
	return ids, nil
}
