package persistence

import (
	"context"
	"fmt"
)

// MessagesAround returns up to limit messages of channelID centred on seq aroundSeq,
// ascending: the message at aroundSeq (if any) and those just before it, limit/2 rounded
// up in all, then the rest after it. Search results open a channel here (SPEC.md "Search":
// around_seq), so the hit shows with its context above and below.
func (s *Store) MessagesAround(ctx context.Context, viewerID, channelID, aroundSeq int64, limit int) ([]Message, error) {
	before := (limit + 1) / 2
	ms, err := s.queryMessages(ctx, `SELECT * FROM (
		(SELECT `+messageColumns(5)+messageFrom+`
		 WHERE m.channel_id = $1 AND m.seq <= $2 ORDER BY m.seq DESC LIMIT $3)
		UNION ALL
		(SELECT `+messageColumns(5)+messageFrom+`
		 WHERE m.channel_id = $1 AND m.seq > $2 ORDER BY m.seq LIMIT $4)) w ORDER BY 3`,
		channelID, aroundSeq, before, limit-before, viewerID)
	if err != nil {
		return nil, fmt.Errorf("messages of channel %d around %d: %w", channelID, aroundSeq, err)
	}
	return ms, nil
}
