package persistence

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Thread is a thread root with its statistics (kept by AppendMessages in the threads
// table, so listing threads is one indexed read, not one count per root).
type Thread struct {
	Message
	LastReplySeq int64  `json:"lastReplySeq"`
	Participants IDList `json:"participants"` // up to 5 repliers, first come first
}

// Threads lists channelID's threads with the most recent reply first, those whose last
// reply is below beforeSeq (0: all), at most limit, in ONE query whatever limit is.
func (s *Store) Threads(ctx context.Context, viewerID, channelID, beforeSeq int64, limit int) ([]Thread, error) {
	if beforeSeq <= 0 {
		beforeSeq = 1<<63 - 1
	}
	ts, err := readRows(ctx, s, func(row pgx.Row, t *Thread) error { // a routed read (ADR 0044)
		var parts []int64
		if err := scanMessage(row, &t.Message, &t.LastReplySeq, &parts); err != nil {
			return err
		}
		t.Participants = IDList(parts)
		if t.Participants == nil {
			t.Participants = IDList{}
		}
		return nil
	}, `SELECT `+messageColumns(4)+`, t.last_reply_seq, t.participants
		FROM threads t JOIN messages m ON m.id = t.root_id
		WHERE t.channel_id = $1 AND t.last_reply_seq < $2
		ORDER BY t.last_reply_seq DESC LIMIT $3`, channelID, beforeSeq, limit, viewerID)
	if err != nil {
		return nil, fmt.Errorf("threads of %d: %w", channelID, err)
	}
	return ts, nil
}

// Replies lists the replies of rootID ascending by seq after afterSeq, at most limit.
func (s *Store) Replies(ctx context.Context, viewerID, rootID, afterSeq int64, limit int) ([]Message, error) {
	ms, err := s.queryMessages(ctx, `SELECT `+messageColumns(4)+messageFrom+`
		WHERE m.parent_id = $1 AND m.seq > $2 ORDER BY m.seq LIMIT $3`, rootID, afterSeq, limit, viewerID)
	if err != nil {
		return nil, fmt.Errorf("replies of %d: %w", rootID, err)
	}
	return ms, nil
}

// RepliesBefore lists the replies of rootID descending by seq below beforeSeq, at most
// limit: the other direction of Replies, for a client that opens a thread at its end.
func (s *Store) RepliesBefore(ctx context.Context, viewerID, rootID, beforeSeq int64, limit int) ([]Message, error) {
	ms, err := s.queryMessages(ctx, `SELECT `+messageColumns(4)+messageFrom+`
		WHERE m.parent_id = $1 AND m.seq < $2 ORDER BY m.seq DESC LIMIT $3`, rootID, beforeSeq, limit, viewerID)
	if err != nil {
		return nil, fmt.Errorf("replies of %d: %w", rootID, err)
	}
	return ms, nil
}
