package persistence

import (
	"context"
	"fmt"
)

// MarkRead raises userID's read marker in channelID to seq, clamped to the channel's last
// seq, never lowering it (GREATEST), and returns the marker after the write.
func (s *Store) MarkRead(ctx context.Context, userID, channelID, seq int64) (int64, error) {
	var marker int64
	err := s.pool.QueryRow(ctx, `
		INSERT INTO read_receipts (user_id, channel_id, last_read_seq, updated_at)
		SELECT $1, c.id, LEAST(GREATEST($3::bigint, 0), c.last_seq), now() FROM channels c WHERE c.id = $2
		ON CONFLICT (user_id, channel_id) DO UPDATE
		   SET last_read_seq = GREATEST(read_receipts.last_read_seq, EXCLUDED.last_read_seq),
		       updated_at = CASE WHEN EXCLUDED.last_read_seq > read_receipts.last_read_seq
		                         THEN EXCLUDED.updated_at ELSE read_receipts.updated_at END
		RETURNING last_read_seq`, userID, channelID, seq).Scan(&marker)
	if err != nil {
		if isNoRows(err) {
			return 0, ErrNotFound
		}
		return 0, fmt.Errorf("mark read %d/%d: %w", userID, channelID, err)
	}
	return marker, nil
}

// ReadReceipts returns every channel member's read marker (0 for members who never read).
func (s *Store) ReadReceipts(ctx context.Context, channelID int64) (map[int64]int64, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT cm.user_id, COALESCE(rr.last_read_seq, 0)
		FROM channel_members cm
		LEFT JOIN read_receipts rr ON rr.user_id = cm.user_id AND rr.channel_id = cm.channel_id
		WHERE cm.channel_id = $1`, channelID)
	if err != nil {
		return nil, fmt.Errorf("read receipts of %d: %w", channelID, err)
	}
	defer rows.Close()
	out := map[int64]int64{}
	for rows.Next() {
		var u, seq int64
		if err := rows.Scan(&u, &seq); err != nil {
			return nil, err
		}
		out[u] = seq
	}
	return out, rows.Err()
}

// ReadMarker returns userID's marker in channelID (0 without one).
func (s *Store) ReadMarker(ctx context.Context, userID, channelID int64) (int64, error) {
	var seq int64
	err := s.pool.QueryRow(ctx, `SELECT COALESCE((SELECT last_read_seq FROM read_receipts WHERE user_id = $1 AND channel_id = $2), 0)`,
		userID, channelID).Scan(&seq)
	if err != nil {
		return 0, fmt.Errorf("read marker: %w", err)
	}
	return seq, nil
}
