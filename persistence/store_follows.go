package persistence

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// FollowedThread is one item of GET /api/threads (ADR 0040): a thread the caller follows,
// with its statistics and the caller's unread replies, counted by seq arithmetic: the live
// replies by others above the caller's thread marker.
type FollowedThread struct {
	Root          Message `json:"root"`
	ReplyCount    int     `json:"replyCount"`
	UnreadReplies int64   `json:"unreadReplies"`
	LastReplyAt   Time    `json:"lastReplyAt"`
	LastReplySeq  int64   `json:"lastReplySeq"`
	LastReadSeq   int64   `json:"lastReadSeq"`
	Participants  IDList  `json:"participants"`
}

// ThreadCursor is where a page of followed threads continues: after (LastReplyAt, RootID)
// in descending order. The zero value starts at the newest.
type ThreadCursor struct {
	LastReplyAt time.Time
	RootID      int64
}

// followedSQL lists a user's ($1) followed threads with at least one reply, in channels
// they can read now (the access rule of Access.CanRead, as SQL), most recent reply first.
// The inner query picks the page from thread_follows (the user's rows, by primary key)
// and threads, filtering unread ones ($6) by the existence of one unread reply; only the
// page's threads get their replies counted and their roots read. $2/$3 are thread markers
// that may be ahead of thread_reads (Redis's): the larger counts.
const followedSQL = `SELECT %s, p.reply_count, p.last_reply_at, p.last_reply_seq, p.floor, p.participants,
	(SELECT count(*) FROM messages r
	 WHERE r.parent_id = p.root_id AND r.seq > p.floor AND r.deleted_at IS NULL AND r.user_id <> $1)
FROM (
	SELECT f.root_id, t.reply_count, t.last_reply_at, t.last_reply_seq, t.participants,
	       GREATEST(tr.last_read_seq, newer.seq, 0) AS floor
	FROM thread_follows f
	JOIN threads t ON t.root_id = f.root_id
	JOIN channels c ON c.id = f.channel_id
	JOIN workspace_members wm ON wm.workspace_id = c.workspace_id AND wm.user_id = f.user_id
	LEFT JOIN thread_reads tr ON tr.user_id = f.user_id AND tr.root_id = f.root_id
	LEFT JOIN unnest($2::bigint[], $3::bigint[]) AS newer(root_id, seq) ON newer.root_id = f.root_id
	WHERE f.user_id = $1 AND f.following
	  AND (EXISTS (SELECT 1 FROM channel_members cm WHERE cm.channel_id = c.id AND cm.user_id = $1)
	       OR (c.type = 'public' AND wm.role <> 'guest'))
	  AND (t.last_reply_at, t.root_id) < ($4, $5)
	  AND (NOT $6 OR EXISTS (SELECT 1 FROM messages r
	       WHERE r.parent_id = f.root_id AND r.seq > GREATEST(tr.last_read_seq, newer.seq, 0)
	         AND r.deleted_at IS NULL AND r.user_id <> $1))
	ORDER BY t.last_reply_at DESC, t.root_id DESC
	LIMIT $7
) p
JOIN messages m ON m.id = p.root_id
LEFT JOIN threads t ON t.root_id = m.id
ORDER BY p.last_reply_at DESC, p.root_id DESC`

var followedQuery = fmt.Sprintf(followedSQL, messageColumns(1))

// FollowedThreads returns a page of userID's followed threads (unreadOnly: those with
// unread replies), at most limit, in one query. newer maps root ids to thread markers that
// may be ahead of PostgreSQL's (the Redis cache's); it may be nil.
func (s *Store) FollowedThreads(ctx context.Context, userID int64, unreadOnly bool, cur ThreadCursor, limit int, newer map[int64]int64) ([]FollowedThread, error) {
	roots, seqs := make([]int64, 0, len(newer)), make([]int64, 0, len(newer))
	for r, seq := range newer {
		roots, seqs = append(roots, r), append(seqs, seq)
	}
	at, rootID := cur.LastReplyAt, cur.RootID
	if at.IsZero() {
		at, rootID = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), 0
	}
	ts, err := readRows(ctx, s, func(row pgx.Row, t *FollowedThread) error { // a routed read (ADR 0044)
		var parts []int64
		if err := scanMessage(row, &t.Root, &t.ReplyCount, &t.LastReplyAt.Time, &t.LastReplySeq, &t.LastReadSeq, &parts, &t.UnreadReplies); err != nil {
			return err
		}
		t.Participants = IDList(parts)
		if t.Participants == nil {
			t.Participants = IDList{}
		}
		return nil
	}, followedQuery, userID, roots, seqs, at, rootID, unreadOnly, limit)
	if err != nil {
		return nil, fmt.Errorf("followed threads of %d: %w", userID, err)
	}
	return ts, nil
}

// SetFollow makes userID follow (or, following false, unfollow) the thread of root rootID
// in channelID. An unfollow is kept as a row, so that being mentioned or the root's first
// reply does not make the user a follower again; replying does.
func (s *Store) SetFollow(ctx context.Context, userID, channelID, rootID int64, following bool) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO thread_follows (user_id, root_id, channel_id, following, updated_at)
		VALUES ($1, $2, $3, $4, now())
		ON CONFLICT (user_id, root_id) DO UPDATE SET following = EXCLUDED.following, updated_at = EXCLUDED.updated_at
		WHERE thread_follows.following <> EXCLUDED.following`, userID, rootID, channelID, following)
	if err != nil {
		return fmt.Errorf("follow %d/%d: %w", userID, rootID, err)
	}
	return nil
}

// Following reports whether userID follows the thread of rootID.
func (s *Store) Following(ctx context.Context, userID, rootID int64) (bool, error) {
	var f bool
	err := s.pool.QueryRow(ctx, `SELECT COALESCE((SELECT following FROM thread_follows WHERE user_id = $1 AND root_id = $2), false)`,
		userID, rootID).Scan(&f)
	if err != nil {
		return false, fmt.Errorf("following %d/%d: %w", userID, rootID, err)
	}
	return f, nil
}

// MarkThreadRead raises userID's marker in the thread of rootID (in channelID) to seq,
// clamped to the channel's last seq, never lowering it, and returns the marker after the
// write: the PostgreSQL-only twin of MarkRead for threads.
func (s *Store) MarkThreadRead(ctx context.Context, userID, channelID, rootID, seq int64) (int64, error) {
	var marker int64
	err := s.pool.QueryRow(ctx, `
		INSERT INTO thread_reads (user_id, root_id, channel_id, last_read_seq, updated_at)
		SELECT $1, m.id, m.channel_id, LEAST(GREATEST($4::bigint, 0), c.last_seq), now()
		FROM messages m JOIN channels c ON c.id = m.channel_id
		WHERE m.id = $3 AND m.channel_id = $2 AND m.parent_id IS NULL
		ON CONFLICT (user_id, root_id) DO UPDATE
		   SET last_read_seq = GREATEST(thread_reads.last_read_seq, EXCLUDED.last_read_seq),
		       updated_at = CASE WHEN EXCLUDED.last_read_seq > thread_reads.last_read_seq
		                         THEN EXCLUDED.updated_at ELSE thread_reads.updated_at END
		RETURNING last_read_seq`, userID, channelID, rootID, seq).Scan(&marker)
	if err != nil {
		if isNoRows(err) {
			return 0, ErrNotFound
		}
		return 0, fmt.Errorf("mark thread read %d/%d: %w", userID, rootID, err)
	}
	return marker, nil
}

// ThreadReadMarker returns userID's marker in the thread of rootID (0 without one).
func (s *Store) ThreadReadMarker(ctx context.Context, userID, rootID int64) (int64, error) {
	var seq int64
	err := s.pool.QueryRow(ctx, `SELECT COALESCE((SELECT last_read_seq FROM thread_reads WHERE user_id = $1 AND root_id = $2), 0)`,
		userID, rootID).Scan(&seq)
	if err != nil {
		return 0, fmt.Errorf("thread read marker: %w", err)
	}
	return seq, nil
}

// ThreadUnread counts the live replies by others to rootID above floor: what
// unreadReplies is for a marker at floor.
func (s *Store) ThreadUnread(ctx context.Context, userID, rootID, floor int64) (int64, error) {
	var n int64
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM messages
		WHERE parent_id = $2 AND seq > $3 AND deleted_at IS NULL AND user_id <> $1`, userID, rootID, floor).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("unread replies of %d: %w", rootID, err)
	}
	return n, nil
}
