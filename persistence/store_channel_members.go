package persistence

import (
	"context"
	"fmt"
)

// AddChannelMember adds userID to channelID. The user must belong to the channel's
// workspace (else ErrNotFound: the caller cannot tell a stranger from a missing user).
// added is false when they already were a member.
func (s *Store) AddChannelMember(ctx context.Context, channelID, userID int64) (added bool, err error) {
	var inWorkspace bool
	err = s.pool.QueryRow(ctx, `
		WITH target AS (
			SELECT c.id FROM channels c
			JOIN workspace_members wm ON wm.workspace_id = c.workspace_id AND wm.user_id = $2
			WHERE c.id = $1
		), ins AS (
			INSERT INTO channel_members (channel_id, user_id) SELECT id, $2 FROM target
			ON CONFLICT DO NOTHING RETURNING 1
		)
		SELECT EXISTS (SELECT 1 FROM target), EXISTS (SELECT 1 FROM ins)`, channelID, userID).Scan(&inWorkspace, &added)
	if err != nil {
		return false, fmt.Errorf("add member %d to %d: %w", userID, channelID, err)
	}
	if !inWorkspace {
		return false, fmt.Errorf("user %d: %w in this workspace", userID, ErrNotFound)
	}
	return added, nil
}

// RemoveChannelMember removes userID from channelID; removed is false when they were not
// a member.
func (s *Store) RemoveChannelMember(ctx context.Context, channelID, userID int64) (removed bool, err error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM channel_members WHERE channel_id = $1 AND user_id = $2`, channelID, userID)
	if err != nil {
		return false, fmt.Errorf("remove member %d from %d: %w", userID, channelID, err)
	}
	return tag.RowsAffected() > 0, nil
}

// ChannelMembers lists a channel's members by user id after afterID, with their
// workspace role.
func (s *Store) ChannelMembers(ctx context.Context, channelID, afterID int64, limit int) ([]Member, error) {
	ms, err := readRows(ctx, s, scanMember, `SELECT `+memberColumns+`
		FROM channel_members cm
		JOIN channels c ON c.id = cm.channel_id
		JOIN workspace_members wm ON wm.workspace_id = c.workspace_id AND wm.user_id = cm.user_id
		JOIN users u ON u.id = cm.user_id
		WHERE cm.channel_id = $1 AND u.id > $2 ORDER BY u.id LIMIT $3`, channelID, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("members of channel %d: %w", channelID, err)
	}
	return ms, nil
}
