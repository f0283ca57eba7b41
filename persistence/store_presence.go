package persistence

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// WorkspacePeers returns those of candidates who share at least one workspace with userID
// (userID among them when it is in any workspace): the users whose presence it may watch.
func (s *Store) WorkspacePeers(ctx context.Context, userID int64, candidates []int64) ([]int64, error) {
	if len(candidates) == 0 {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT DISTINCT peer.user_id
		FROM workspace_members me JOIN workspace_members peer ON peer.workspace_id = me.workspace_id
		WHERE me.user_id = $1 AND peer.user_id = ANY($2)`, userID, candidates)
	if err != nil {
		return nil, fmt.Errorf("workspace peers of %d: %w", userID, err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("workspace peers of %d: %w", userID, err)
	}
	return ids, nil
}

// WorkspaceMemberIDs returns those of userIDs who are members of workspaceID.
func (s *Store) WorkspaceMemberIDs(ctx context.Context, workspaceID int64, userIDs []int64) ([]int64, error) {
	if len(userIDs) == 0 {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT user_id FROM workspace_members
		WHERE workspace_id = $1 AND user_id = ANY($2)`, workspaceID, userIDs)
	if err != nil {
		return nil, fmt.Errorf("members among %d ids of %d: %w", len(userIDs), workspaceID, err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("members of %d: %w", workspaceID, err)
	}
	return ids, nil
}
