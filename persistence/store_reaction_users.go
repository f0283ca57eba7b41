package persistence

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// MaxReactionUsers bounds the userIds listed per emoji by MessageReactionUsers: a
// who-reacted tooltip names a few people, and 50 emojis × 50 users keep the answer small
// whatever the audience (ADR 0042).
const MaxReactionUsers = 50

// ReactionUsers is one emoji's tally on a message with who reacted: the first
// MaxReactionUsers of them in the order they reacted (Count counts everyone).
type ReactionUsers struct {
	Emoji   string `json:"emoji"`
	Count   int    `json:"count"`
	UserIDs IDList `json:"userIds"`
}

// MessageReactionUsers lists the reactions on message id, first-used emoji first (the order
// of Message.Reactions), each with who reacted.
func (s *Store) MessageReactionUsers(ctx context.Context, id int64) ([]ReactionUsers, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT emoji, count(*), (array_agg(user_id ORDER BY created_at, user_id))[1:$2]
		FROM reactions WHERE message_id = $1 GROUP BY emoji ORDER BY min(created_at), emoji`, id, MaxReactionUsers)
	if err != nil {
		return nil, fmt.Errorf("reactions on %d: %w", id, err)
	}
	rs, err := collect(rows, func(row pgx.Row, r *ReactionUsers) error {
		var ids []int64
		if err := row.Scan(&r.Emoji, &r.Count, &ids); err != nil {
			return err
		}
		r.UserIDs = ids
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reactions on %d: %w", id, err)
	}
	return rs, nil
}
