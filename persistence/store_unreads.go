package persistence

import (
	"context"
	"fmt"
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
// of (and so can read), above their marker, written by others, not deleted.
const unreadFrom = `
	FROM channel_members cm
	JOIN channels c ON c.id = cm.channel_id
	JOIN workspace_members wm ON wm.workspace_id = c.workspace_id AND wm.user_id = cm.user_id
	LEFT JOIN read_receipts rr ON rr.user_id = cm.user_id AND rr.channel_id = cm.channel_id
	JOIN messages m ON m.channel_id = cm.channel_id AND m.seq > COALESCE(rr.last_read_seq, 0)
	LEFT JOIN threads t ON t.root_id = m.id
	WHERE cm.user_id = $1 AND m.user_id <> $1 AND m.deleted_at IS NULL`

// Unreads returns a page of userID's unread messages in order sort, and how many there are
// in all.
func (s *Store) Unreads(ctx context.Context, userID int64, sort string, cur UnreadCursor, limit int) ([]Message, int64, error) {
	var where, order string
	args := []any{userID}
	switch sort {
	case SortNewest:
		before := cur.ID
		if before <= 0 {
			before = 1<<63 - 1
		}
		where, order = ` AND m.id < $2`, ` ORDER BY m.id DESC LIMIT $3`
		args = append(args, before, limit)
	case SortOldest:
		where, order = ` AND m.id > $2`, ` ORDER BY m.id LIMIT $3`
		args = append(args, cur.ID, limit)
	case SortChannel:
		where, order = ` AND (m.channel_id, m.seq) > ($2, $3)`, ` ORDER BY m.channel_id, m.seq LIMIT $4`
		args = append(args, cur.ChannelID, cur.Seq, limit)
	default:
		return nil, 0, &ValidationError{Field: "sort", Reason: "one of newest, oldest, channel"}
	}
	ms, err := s.queryMessages(ctx, `SELECT `+messageColumns(1)+unreadFrom+where+order, args...)
	if err != nil {
		return nil, 0, fmt.Errorf("unreads of %d: %w", userID, err)
	}
	var total int64
	if err := s.pool.QueryRow(ctx, `SELECT count(*)`+unreadFrom, userID).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("unread count of %d: %w", userID, err)
	}
	return ms, total, nil
}
