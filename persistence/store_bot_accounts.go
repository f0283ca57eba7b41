package persistence

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/parley-chat/parley/errcode"
)

// MaxBotsPerWorkspace bounds the bot accounts of one workspace, deactivated ones included.
const MaxBotsPerWorkspace = 200

// Bot is a bot account (ADR 0036): a user with isBot that a workspace's owner or admin made,
// who authenticates with the API tokens those managers mint for it.
type Bot struct {
	User          User  `json:"user"`
	WorkspaceID   int64 `json:"workspaceId,string"`
	CreatedBy     int64 `json:"createdBy,string"`
	CreatedAt     Time  `json:"createdAt"`
	DeactivatedAt *Time `json:"deactivatedAt,omitempty"`
}

// ErrBotDeactivated refuses new tokens for a deactivated bot (409).
var ErrBotDeactivated error = errcode.New(errcode.Conflict, "the bot is deactivated").Within(ErrConflict)

// scanUserWith scans userColumns (as scanUser) followed by extra.
func scanUserWith(row pgx.Row, u *User, extra ...any) error {
	var em *string
	if err := row.Scan(append(userDest(u, &em), extra...)...); err != nil {
		return err
	}
	if em != nil {
		u.Email = *em
	}
	return nil
}

const botColumns = `b.workspace_id, b.created_by, b.created_at, b.deactivated_at`

func scanBot(row pgx.Row, b *Bot) error {
	var deact *time.Time
	if err := scanUserWith(row, &b.User, &b.WorkspaceID, &b.CreatedBy, &b.CreatedAt.Time, &deact); err != nil {
		return err
	}
	if deact != nil {
		b.DeactivatedAt = &Time{*deact}
	}
	return nil
}

// CreateBot makes a bot account in workspaceID: a bot user (CreateBotUser, a member of the
// workspace) and its bots row naming who made it. A username already taken is ErrConflict.
func (s *Store) CreateBot(ctx context.Context, workspaceID, createdBy int64, username, displayName string) (Bot, error) {
	var n int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM bots WHERE workspace_id = $1`, workspaceID).Scan(&n); err != nil {
		return Bot{}, fmt.Errorf("bots of %d: %w", workspaceID, err)
	}
	if n >= MaxBotsPerWorkspace {
		return Bot{}, &ValidationError{Reason: fmt.Sprintf("at most %d bots per workspace", MaxBotsPerWorkspace)}
	}
	u, err := s.CreateBotUser(ctx, workspaceID, username, displayName)
	if err != nil {
		return Bot{}, err
	}
	b := Bot{User: u, WorkspaceID: workspaceID, CreatedBy: createdBy}
	if err := s.pool.QueryRow(ctx, `INSERT INTO bots (user_id, workspace_id, created_by) VALUES ($1, $2, $3)
		RETURNING created_at`, u.ID, workspaceID, createdBy).Scan(&b.CreatedAt.Time); err != nil {
		return Bot{}, fmt.Errorf("create bot %d: %w", u.ID, err)
	}
	return b, nil
}

// Bots lists workspaceID's bot accounts by user id.
func (s *Store) Bots(ctx context.Context, workspaceID int64) ([]Bot, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+userColumns+`, `+botColumns+`
		FROM bots b JOIN users u ON u.id = b.user_id
		WHERE b.workspace_id = $1 ORDER BY b.user_id LIMIT $2`, workspaceID, MaxBotsPerWorkspace)
	if err != nil {
		return nil, fmt.Errorf("bots of %d: %w", workspaceID, err)
	}
	bs, err := collect(rows, scanBot)
	if err != nil {
		return nil, fmt.Errorf("bots of %d: %w", workspaceID, err)
	}
	return bs, nil
}

// Bot returns the bot account of userID (ErrNotFound when userID is not one: a person, or
// an incoming webhook's bot).
func (s *Store) Bot(ctx context.Context, userID int64) (Bot, error) {
	var b Bot
	err := scanBot(s.pool.QueryRow(ctx, `SELECT `+userColumns+`, `+botColumns+`
		FROM bots b JOIN users u ON u.id = b.user_id WHERE b.user_id = $1`, userID), &b)
	if errors.Is(err, pgx.ErrNoRows) {
		return Bot{}, ErrNotFound
	}
	if err != nil {
		return Bot{}, fmt.Errorf("bot %d: %w", userID, err)
	}
	return b, nil
}

// DeactivateBot marks bot userID deactivated and deletes its API tokens in one
// transaction, returning their ids (for the caller to end their sessions). Deactivating
// again revokes what is left and is not an error.
func (s *Store) DeactivateBot(ctx context.Context, userID int64) ([]int64, error) {
	var ids []int64
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE bots SET deactivated_at = COALESCE(deactivated_at, now()) WHERE user_id = $1`, userID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return ErrNotFound
		}
		rows, err := tx.Query(ctx, `DELETE FROM api_tokens WHERE user_id = $1 RETURNING id`, userID)
		if err != nil {
			return err
		}
		ids, err = pgx.CollectRows(rows, pgx.RowTo[int64])
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("deactivate bot %d: %w", userID, err)
	}
	return ids, nil
}

// IsBotUsername reports whether username names a bot user (dev login refuses those).
func (s *Store) IsBotUsername(ctx context.Context, username string) (bool, error) {
	if ValidateUsername(username) != nil {
		return false, nil // no bot has it: every bot's name passed ValidateUsername
	}
	var bot bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE username = $1 AND is_bot)`, username).Scan(&bot)
	if err != nil {
		return false, fmt.Errorf("user %q: %w", username, err)
	}
	return bot, nil
}
