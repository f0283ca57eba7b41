package persistence

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Invitation is an invitation to a workspace, by username or by e-mail. Token is shown
// only to the inviter (it is what the invitee presents to accept).
type Invitation struct {
	ID          int64   `json:"id,string"`
	WorkspaceID int64   `json:"workspaceId,string"`
	Token       string  `json:"token,omitempty"`
	Email       *string `json:"email,omitempty"`
	Username    *string `json:"username,omitempty"`
	Role        Role    `json:"role"`
	Status      string  `json:"status"` // pending, accepted, revoked
	InvitedBy   int64   `json:"invitedBy,string"`
	CreatedAt   Time    `json:"createdAt"`
	ExpiresAt   Time    `json:"expiresAt"`
}

// NewInvitation is what CreateInvitation needs: exactly one of Email and Username.
type NewInvitation struct {
	WorkspaceID int64
	InvitedBy   int64
	Email       string
	Username    string
	Role        Role
	TTL         time.Duration
}

// CreateInvitation stores a pending invitation with a fresh token. An invitee who is
// already a member, or already has a pending invitation, is ErrConflict.
func (s *Store) CreateInvitation(ctx context.Context, n NewInvitation) (Invitation, error) {
	n.Email = strings.TrimSpace(n.Email)
	n.Username = strings.ToLower(strings.TrimSpace(n.Username))
	if (n.Email == "") == (n.Username == "") {
		return Invitation{}, &ValidationError{Reason: "exactly one of email and username is required"}
	}
	if n.Email != "" && (len(n.Email) > 320 || !strings.Contains(n.Email, "@") || strings.ContainsRune(n.Email, 0)) {
		return Invitation{}, &ValidationError{Field: "email", Reason: "not an e-mail address"}
	}
	if n.Username != "" && !validUsername(n.Username) {
		return Invitation{}, &ValidationError{Field: "username", Reason: "1-64 characters of a-z, 0-9, '_', '.', '-'"}
	}
	if n.Role == RoleNone {
		n.Role = RoleMember
	}
	if n.Role == RoleOwner {
		return Invitation{}, &ValidationError{Field: "role", Reason: "one of admin, member, guest"}
	}
	tok := make([]byte, 24)
	_, _ = rand.Read(tok)
	now := s.nowUTC()
	inv := Invitation{
		ID: s.ids.Next(), WorkspaceID: n.WorkspaceID, Token: hex.EncodeToString(tok), Role: n.Role,
		Status: "pending", InvitedBy: n.InvitedBy, CreatedAt: Time{now}, ExpiresAt: Time{now.Add(n.TTL)},
	}
	if n.Email != "" {
		inv.Email = &n.Email
	} else {
		inv.Username = &n.Username
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var member bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM workspace_members wm JOIN users u ON u.id = wm.user_id
			WHERE wm.workspace_id = $1 AND (u.username = $2 OR lower(u.email) = lower($3)))`,
			n.WorkspaceID, inv.Username, inv.Email).Scan(&member); err != nil {
			return err
		}
		if member {
			return fmt.Errorf("%w: already a member", ErrConflict)
		}
		// An expired invitation no longer blocks a new one.
		if _, err := tx.Exec(ctx, `UPDATE invitations SET status = 'revoked'
			WHERE workspace_id = $1 AND status = 'pending' AND expires_at <= $4
			  AND (username = $2 OR lower(email) = lower($3))`, n.WorkspaceID, inv.Username, inv.Email, now); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO invitations (id, workspace_id, token, email, username, role, invited_by, created_at, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			inv.ID, inv.WorkspaceID, inv.Token, inv.Email, inv.Username, string(inv.Role), inv.InvitedBy, now, inv.ExpiresAt.Time)
		if pgCode(err) == pgUniqueViolation {
			return fmt.Errorf("%w: a pending invitation exists", ErrConflict)
		}
		return err
	})
	if err != nil {
		return Invitation{}, fmt.Errorf("invite: %w", err)
	}
	return inv, nil
}

// PendingInvitations lists a workspace's pending, unexpired invitations (without tokens)
// by id, after afterID.
func (s *Store) PendingInvitations(ctx context.Context, workspaceID, afterID int64, limit int) ([]Invitation, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, workspace_id, email, username, role, status, invited_by, created_at, expires_at
		FROM invitations WHERE workspace_id = $1 AND status = 'pending' AND expires_at > now() AND id > $2
		ORDER BY id LIMIT $3`, workspaceID, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("invitations of %d: %w", workspaceID, err)
	}
	return collect(rows, func(row pgx.Row, inv *Invitation) error {
		return row.Scan(&inv.ID, &inv.WorkspaceID, &inv.Email, &inv.Username, &inv.Role, &inv.Status,
			&inv.InvitedBy, &inv.CreatedAt.Time, &inv.ExpiresAt.Time)
	})
}

// AcceptInvitation makes u a member as the invitation with token says. Unknown token:
// ErrNotFound; used, revoked or expired: ErrGone; addressed to someone else (another
// username, another e-mail): ErrForbidden. Accepting when already a member keeps the
// current role. Non-guests join the general channel, whose id is returned as joined (0 when
// they did not join it now); newMember says u joined the workspace now.
func (s *Store) AcceptInvitation(ctx context.Context, token string, u User) (w Workspace, joined int64, newMember bool, err error) {
	var wid int64
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		var inv Invitation
		err := tx.QueryRow(ctx, `SELECT id, workspace_id, email, username, role, status, expires_at
			FROM invitations WHERE token = $1 FOR UPDATE`, token).
			Scan(&inv.ID, &inv.WorkspaceID, &inv.Email, &inv.Username, &inv.Role, &inv.Status, &inv.ExpiresAt.Time)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if inv.Status != "pending" {
			return fmt.Errorf("%w: invitation %s", ErrGone, inv.Status)
		}
		if !s.now().Before(inv.ExpiresAt.Time) {
			return fmt.Errorf("%w: invitation expired", ErrGone)
		}
		if inv.Username != nil && *inv.Username != u.Username ||
			inv.Email != nil && !strings.EqualFold(*inv.Email, u.Email) {
			return fmt.Errorf("%w: invitation is for someone else", ErrForbidden)
		}
		wid = inv.WorkspaceID
		b := &pgx.Batch{}
		b.Queue(`INSERT INTO workspace_members (workspace_id, user_id, role) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
			inv.WorkspaceID, u.ID, string(inv.Role)).Exec(func(ct pgconn.CommandTag) error {
			newMember = ct.RowsAffected() == 1
			return nil
		})
		// Like Slack, members (not guests) start in the general channel.
		b.Queue(`INSERT INTO channel_members (channel_id, user_id)
			SELECT c.id, $2 FROM channels c WHERE c.workspace_id = $1 AND c.name = $3 AND $4 <> 'guest'
			ON CONFLICT DO NOTHING RETURNING channel_id`, inv.WorkspaceID, u.ID, GeneralChannel, string(inv.Role)).
			Query(func(rows pgx.Rows) error {
				for rows.Next() {
					if err := rows.Scan(&joined); err != nil {
						return err
					}
				}
				return rows.Err()
			})
		b.Queue(`UPDATE invitations SET status = 'accepted', accepted_by = $2, accepted_at = now() WHERE id = $1`, inv.ID, u.ID)
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return Workspace{}, 0, false, fmt.Errorf("accept invitation: %w", err)
	}
	w, err = s.Workspace(ctx, u.ID, wid)
	return w, joined, newMember, err
}

func validUsername(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-') {
			return false
		}
	}
	return true
}
