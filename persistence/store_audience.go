package persistence

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// The audiences of live-workspace notifications (ADR 0034): who is told, in one indexed
// query each, whatever the workspace's size. The caller posts one user event per id, so
// every list stops at limit ids and says whether it was cut.

// ChannelAudience returns up to limit users who can see channelID (Access.CanSee): its
// members, every non-guest member of the workspace for a public channel, its owner and
// admins for a private one. more is true when there were more.
func (s *Store) ChannelAudience(ctx context.Context, channelID int64, limit int) (ids []int64, more bool, err error) {
	rows, err := s.pool.Query(ctx, `SELECT wm.user_id
		FROM channels c JOIN workspace_members wm ON wm.workspace_id = c.workspace_id
		WHERE c.id = $1
		  AND (EXISTS (SELECT 1 FROM channel_members cm WHERE cm.channel_id = c.id AND cm.user_id = wm.user_id)
		       OR c.type = 'public' AND wm.role <> 'guest'
		       OR c.type = 'private' AND wm.role IN ('owner', 'admin'))
		LIMIT $2`, channelID, limit+1)
	if err != nil {
		return nil, false, fmt.Errorf("audience of channel %d: %w", channelID, err)
	}
	return cutIDs(rows, limit)
}

// WorkspaceAudience returns up to limit members of workspaceID; more is true when there
// were more.
func (s *Store) WorkspaceAudience(ctx context.Context, workspaceID int64, limit int) (ids []int64, more bool, err error) {
	rows, err := s.pool.Query(ctx, `SELECT user_id FROM workspace_members WHERE workspace_id = $1 LIMIT $2`,
		workspaceID, limit+1)
	if err != nil {
		return nil, false, fmt.Errorf("audience of workspace %d: %w", workspaceID, err)
	}
	return cutIDs(rows, limit)
}

func cutIDs(rows pgx.Rows, limit int) ([]int64, bool, error) {
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, false, err
	}
	if len(ids) > limit {
		return ids[:limit], true, nil
	}
	return ids, false, nil
}

// Invitee finds the user an invitation addresses (by username, or by e-mail,
// case-insensitively) and the workspace's name. ok is false when no such user exists yet:
// they learn of it when they sign up and are told out of band.
func (s *Store) Invitee(ctx context.Context, inv Invitation) (userID int64, workspaceName string, ok bool, err error) {
	err = s.pool.QueryRow(ctx, `SELECT u.id, w.name FROM users u, workspaces w
		WHERE w.id = $1 AND (u.username = $2 OR $3::text IS NOT NULL AND lower(u.email) = lower($3))
		ORDER BY u.username = $2 DESC LIMIT 1`, inv.WorkspaceID, inv.Username, inv.Email).Scan(&userID, &workspaceName)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, "", false, nil
	}
	if err != nil {
		return 0, "", false, fmt.Errorf("invitee of %d: %w", inv.ID, err)
	}
	return userID, workspaceName, true, nil
}
