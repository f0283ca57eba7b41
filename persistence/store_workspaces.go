package persistence

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Workspace is a workspace as one of its members sees it (Role is theirs).
type Workspace struct {
	ID        int64  `json:"id,string"`
	Name      string `json:"name"`
	CreatedBy int64  `json:"createdBy,string"`
	CreatedAt Time   `json:"createdAt"`
	Role      Role   `json:"role"`
}

// Member is a workspace member with their profile. Presence is not the store's: the API
// fills it in from the presence source ("offline" without one).
type Member struct {
	UserID      int64  `json:"userId,string"`
	Username    string `json:"username"`
	DisplayName string `json:"displayName"`
	Role        Role   `json:"role"`
	JoinedAt    Time   `json:"joinedAt"`
	IsBot       bool   `json:"isBot"`
	Profile
	Presence string `json:"presence" openapi:"enum=online|away|offline"`
}

// GeneralChannel is the public channel every workspace starts with.
const GeneralChannel = "general"

// ValidateWorkspaceName checks a workspace name: 1..80 characters, not blank.
func ValidateWorkspaceName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" || len([]rune(name)) > 80 || strings.ContainsRune(name, 0) {
		return "", &ValidationError{Field: "name", Reason: "must be 1-80 characters"}
	}
	return name, nil
}

// CreateWorkspace creates a workspace owned by userID with its public general channel,
// userID in it.
func (s *Store) CreateWorkspace(ctx context.Context, userID int64, name string) (Workspace, error) {
	name, err := ValidateWorkspaceName(name)
	if err != nil {
		return Workspace{}, err
	}
	w := Workspace{ID: s.ids.Next(), Name: name, CreatedBy: userID, CreatedAt: Time{s.nowUTC()}, Role: RoleOwner}
	cid := s.ids.Next()
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		b.Queue(`INSERT INTO workspaces (id, name, created_by, created_at) VALUES ($1, $2, $3, $4)`, w.ID, w.Name, userID, w.CreatedAt.Time)
		b.Queue(`INSERT INTO workspace_members (workspace_id, user_id, role) VALUES ($1, $2, 'owner')`, w.ID, userID)
		b.Queue(`INSERT INTO channels (id, workspace_id, name, type, created_by) VALUES ($1, $2, $3, 'public', $4)`, cid, w.ID, GeneralChannel, userID)
		b.Queue(`INSERT INTO channel_members (channel_id, user_id) VALUES ($1, $2)`, cid, userID)
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return Workspace{}, fmt.Errorf("create workspace: %w", err)
	}
	return w, nil
}

const workspaceColumns = `w.id, w.name, w.created_by, w.created_at, wm.role`

func scanWorkspace(row pgx.Row, w *Workspace) error {
	return row.Scan(&w.ID, &w.Name, &w.CreatedBy, &w.CreatedAt.Time, &w.Role)
}

// Workspace returns workspace id as userID sees it; ErrNotFound unless userID is a member.
func (s *Store) Workspace(ctx context.Context, userID, id int64) (Workspace, error) {
	var w Workspace
	err := scanWorkspace(s.pool.QueryRow(ctx, `SELECT `+workspaceColumns+`
		FROM workspaces w JOIN workspace_members wm ON wm.workspace_id = w.id AND wm.user_id = $1
		WHERE w.id = $2`, userID, id), &w)
	if errors.Is(err, pgx.ErrNoRows) {
		return Workspace{}, ErrNotFound
	}
	if err != nil {
		return Workspace{}, fmt.Errorf("workspace %d: %w", id, err)
	}
	return w, nil
}

// Workspaces lists userID's workspaces by id, after afterID, at most limit.
func (s *Store) Workspaces(ctx context.Context, userID, afterID int64, limit int) ([]Workspace, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+workspaceColumns+`
		FROM workspace_members wm JOIN workspaces w ON w.id = wm.workspace_id
		WHERE wm.user_id = $1 AND w.id > $2 ORDER BY w.id LIMIT $3`, userID, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("workspaces of %d: %w", userID, err)
	}
	return collect(rows, scanWorkspace)
}

const memberColumns = `u.id, u.username, u.display_name, wm.role, wm.joined_at, u.is_bot, u.status_text, u.status_emoji, u.timezone, u.avatar_file_id`

func scanMember(row pgx.Row, m *Member) error {
	return row.Scan(append([]any{&m.UserID, &m.Username, &m.DisplayName, &m.Role, &m.JoinedAt.Time, &m.IsBot}, profileDest(&m.Profile)...)...)
}

// Members lists a workspace's members by user id, after afterID, at most limit.
func (s *Store) Members(ctx context.Context, workspaceID, afterID int64, limit int) ([]Member, error) {
	ms, err := readRows(ctx, s, scanMember, `SELECT `+memberColumns+`
		FROM workspace_members wm JOIN users u ON u.id = wm.user_id
		WHERE wm.workspace_id = $1 AND u.id > $2 ORDER BY u.id LIMIT $3`, workspaceID, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("members of %d: %w", workspaceID, err)
	}
	return ms, nil
}

// Member returns one workspace member; ErrNotFound if userID is not one.
func (s *Store) Member(ctx context.Context, workspaceID, userID int64) (Member, error) {
	var m Member
	err := scanMember(s.pool.QueryRow(ctx, `SELECT `+memberColumns+`
		FROM workspace_members wm JOIN users u ON u.id = wm.user_id
		WHERE wm.workspace_id = $1 AND wm.user_id = $2`, workspaceID, userID), &m)
	if errors.Is(err, pgx.ErrNoRows) {
		return Member{}, ErrNotFound
	}
	if err != nil {
		return Member{}, fmt.Errorf("member %d of %d: %w", userID, workspaceID, err)
	}
	return m, nil
}

// SetRole changes a non-owner member's role (never to owner: see TransferOwnership).
func (s *Store) SetRole(ctx context.Context, workspaceID, userID int64, role Role) (Member, error) {
	if role == RoleOwner || role == RoleNone {
		return Member{}, &ValidationError{Field: "role", Reason: "use an ownership transfer"}
	}
	tag, err := s.pool.Exec(ctx, `UPDATE workspace_members SET role = $3
		WHERE workspace_id = $1 AND user_id = $2 AND role <> 'owner'`, workspaceID, userID, string(role))
	if err != nil {
		return Member{}, fmt.Errorf("set role: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return Member{}, ErrNotFound
	}
	return s.Member(ctx, workspaceID, userID)
}

// TransferOwnership makes to the owner and the current owner from an admin, atomically.
func (s *Store) TransferOwnership(ctx context.Context, workspaceID, from, to int64) (Member, error) {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		// Demote first: the partial unique index allows one owner at a time.
		tag, err := tx.Exec(ctx, `UPDATE workspace_members SET role = 'admin' WHERE workspace_id = $1 AND user_id = $2 AND role = 'owner'`, workspaceID, from)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return ErrForbidden
		}
		tag, err = tx.Exec(ctx, `UPDATE workspace_members SET role = 'owner' WHERE workspace_id = $1 AND user_id = $2`, workspaceID, to)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return ErrNotFound
		}
		return nil
	})
	if err != nil {
		return Member{}, fmt.Errorf("transfer ownership of %d: %w", workspaceID, err)
	}
	return s.Member(ctx, workspaceID, to)
}

// RemoveMember removes userID from the workspace and from its channels but its direct
// messages, returning the channels they left. The owner cannot be removed (ErrConflict).
func (s *Store) RemoveMember(ctx context.Context, workspaceID, userID int64) ([]int64, error) {
	var left []int64
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var role string
		err := tx.QueryRow(ctx, `DELETE FROM workspace_members WHERE workspace_id = $1 AND user_id = $2 RETURNING role`, workspaceID, userID).Scan(&role)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if Role(role) == RoleOwner {
			return ErrConflict
		}
		// Direct messages keep their fixed members (their key, ADR 0032): without a role in
		// the workspace the user no longer sees them, and sees them again on rejoining.
		rows, err := tx.Query(ctx, `DELETE FROM channel_members cm USING channels c
			WHERE c.id = cm.channel_id AND c.workspace_id = $1 AND cm.user_id = $2 AND c.type <> 'dm'
			RETURNING cm.channel_id`, workspaceID, userID)
		if err != nil {
			return err
		}
		left, err = pgx.CollectRows(rows, pgx.RowTo[int64])
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("remove member %d of %d: %w", userID, workspaceID, err)
	}
	return left, nil
}

// collect scans every row with scan.
func collect[T any](rows pgx.Rows, scan func(pgx.Row, *T) error) ([]T, error) {
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		var v T
		if err := scan(rows, &v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}
