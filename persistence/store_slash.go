package persistence

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/jackc/pgx/v5"
)

// MaxSlashCommandsPerWorkspace bounds the commands one workspace may register
// (docs/LIMITS.md).
const MaxSlashCommandsPerWorkspace = 100

// slashName is a command's name: a slash, then 1-32 of a-z, 0-9, _ and - (ADR 0038). The
// migration checks the same.
var slashName = regexp.MustCompile(`^/[a-z0-9_-]{1,32}$`)

// ValidateSlashName checks a command's name ("/deploy").
func ValidateSlashName(name string) error {
	if !slashName.MatchString(name) {
		return &ValidationError{Field: "command", Reason: `a slash then 1-32 of a-z, 0-9, "_" and "-", e.g. "/deploy"`}
	}
	return nil
}

// SlashCommand is a workspace's registered command as listed: never its secret.
type SlashCommand struct {
	ID          int64  `json:"id,string"`
	WorkspaceID int64  `json:"workspaceId,string"`
	Command     string `json:"command"`
	URL         string `json:"url"`
	BotUserID   int64  `json:"botUserId,string"`
	CreatedBy   int64  `json:"createdBy,string"`
	CreatedAt   Time   `json:"createdAt"`
	// Secret signs the calls; only Store.SlashCommandFor fills it, never a list.
	Secret string `json:"-"`
}

// NewSlashCommand is a command to register.
type NewSlashCommand struct {
	WorkspaceID int64
	Name        string // "/deploy", valid (ValidateSlashName)
	URL         string // checked by the caller (integrations.Client.CheckURL)
	Secret      string
	CreatedBy   int64
}

const slashColumns = `s.id, s.workspace_id, s.name, s.url, s.bot_user_id, s.created_by, s.created_at`

func scanSlash(row pgx.Row, c *SlashCommand, extra ...any) error {
	return row.Scan(append([]any{&c.ID, &c.WorkspaceID, &c.Command, &c.URL, &c.BotUserID, &c.CreatedBy, &c.CreatedAt.Time}, extra...)...)
}

// CreateSlashCommand registers a command with its own bot user (CreateBotUser), which
// posts its "channel" responses. The name is taken first, so a name in use (ErrConflict)
// makes no bot; a bot that cannot be made releases the name.
func (s *Store) CreateSlashCommand(ctx context.Context, nc NewSlashCommand) (SlashCommand, error) {
	if err := ValidateSlashName(nc.Name); err != nil {
		return SlashCommand{}, err
	}
	id := s.ids.Next()
	tag, err := s.pool.Exec(ctx, `
		INSERT INTO slash_commands (id, workspace_id, name, url, secret, created_by)
		SELECT $1, $2, $3, $4, $5, $6
		WHERE (SELECT count(*) FROM slash_commands WHERE workspace_id = $2) < $7`,
		id, nc.WorkspaceID, nc.Name, nc.URL, nc.Secret, nc.CreatedBy, MaxSlashCommandsPerWorkspace)
	if pgCode(err) == pgUniqueViolation {
		return SlashCommand{}, fmt.Errorf("command %s: %w: already registered in this workspace", nc.Name, ErrConflict)
	}
	if err != nil {
		return SlashCommand{}, fmt.Errorf("create slash command: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return SlashCommand{}, &ValidationError{Reason: fmt.Sprintf("at most %d slash commands per workspace: delete one first", MaxSlashCommandsPerWorkspace)}
	}
	// Bot usernames are global; the command id keeps them apart across workspaces.
	bot, err := s.CreateBotUser(ctx, nc.WorkspaceID, fmt.Sprintf("cmd-%s-%d", nc.Name[1:], id), nc.Name)
	if err == nil {
		_, err = s.pool.Exec(ctx, `UPDATE slash_commands SET bot_user_id = $2 WHERE id = $1`, id, bot.ID)
	}
	if err != nil {
		_, _ = s.pool.Exec(context.WithoutCancel(ctx), `DELETE FROM slash_commands WHERE id = $1`, id)
		return SlashCommand{}, fmt.Errorf("create slash command %s: bot user: %w", nc.Name, err)
	}
	var c SlashCommand
	if err := scanSlash(s.pool.QueryRow(ctx, `SELECT `+slashColumns+` FROM slash_commands s WHERE s.id = $1`, id), &c); err != nil {
		return SlashCommand{}, fmt.Errorf("create slash command: %w", err)
	}
	return c, nil
}

// SlashCommands lists a workspace's commands by name (without secrets).
func (s *Store) SlashCommands(ctx context.Context, workspaceID int64) ([]SlashCommand, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+slashColumns+` FROM slash_commands s
		WHERE s.workspace_id = $1 AND s.bot_user_id IS NOT NULL ORDER BY s.name`, workspaceID)
	if err != nil {
		return nil, fmt.Errorf("slash commands of %d: %w", workspaceID, err)
	}
	defer rows.Close()
	out := []SlashCommand{}
	for rows.Next() {
		var c SlashCommand
		if err := scanSlash(rows, &c); err != nil {
			return nil, fmt.Errorf("slash commands of %d: %w", workspaceID, err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// DeleteSlashCommand removes a workspace's command (another workspace's: ErrNotFound); its
// response URLs stop working with it. Its bot user stays, as the author of what it posted.
func (s *Store) DeleteSlashCommand(ctx context.Context, workspaceID, id int64) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM slash_commands WHERE id = $1 AND workspace_id = $2`, id, workspaceID)
	if err != nil {
		return fmt.Errorf("delete slash command %d: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("slash command %d: %w", id, ErrNotFound)
	}
	return nil
}

// SlashCommandFor finds the command name of channelID's workspace, with its secret
// (ErrNotFound: none, or the channel does not exist).
func (s *Store) SlashCommandFor(ctx context.Context, channelID int64, name string) (SlashCommand, error) {
	var c SlashCommand
	err := scanSlash(s.pool.QueryRow(ctx, `SELECT `+slashColumns+`, s.secret FROM slash_commands s
		JOIN channels ch ON ch.workspace_id = s.workspace_id
		WHERE ch.id = $1 AND s.name = $2 AND s.bot_user_id IS NOT NULL`, channelID, name), &c, &c.Secret)
	if errors.Is(err, pgx.ErrNoRows) {
		return SlashCommand{}, fmt.Errorf("command %s: %w", name, ErrNotFound)
	}
	if err != nil {
		return SlashCommand{}, fmt.Errorf("slash command %s in channel %d: %w", name, channelID, err)
	}
	return c, nil
}

// SlashResponse is the call a response URL answers.
type SlashResponse struct {
	CommandID, UserID, ChannelID, ParentID int64
	Command                                string
	BotUserID                              int64
}

// CreateSlashResponse stores a response URL's token hash (SHA-256, 32 bytes) for r, usable
// uses times until expires. Expired rows are deleted on the way, a few at a time.
func (s *Store) CreateSlashResponse(ctx context.Context, hash []byte, r SlashResponse, uses int, expires time.Time) error {
	b := &pgx.Batch{}
	b.Queue(`INSERT INTO slash_responses (token_hash, command_id, user_id, channel_id, parent_id, uses_left, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, hash, r.CommandID, r.UserID, r.ChannelID, r.ParentID, uses, expires)
	b.Queue(`DELETE FROM slash_responses WHERE token_hash IN (
		SELECT token_hash FROM slash_responses WHERE expires_at < now() ORDER BY expires_at LIMIT 100)`)
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("create slash response: %w", err)
	}
	return nil
}

// RedeemSlashResponse spends one use of the response URL whose token hashes to hash:
// unknown (or its command deleted) ErrNotFound; expired or used up ErrGone.
func (s *Store) RedeemSlashResponse(ctx context.Context, hash []byte) (SlashResponse, error) {
	var r SlashResponse
	err := s.pool.QueryRow(ctx, `
		UPDATE slash_responses AS r SET uses_left = r.uses_left - 1
		FROM slash_commands s
		WHERE r.token_hash = $1 AND s.id = r.command_id AND r.uses_left > 0 AND r.expires_at > now()
		  AND s.bot_user_id IS NOT NULL
		RETURNING r.command_id, r.user_id, r.channel_id, r.parent_id, s.name, s.bot_user_id`, hash).
		Scan(&r.CommandID, &r.UserID, &r.ChannelID, &r.ParentID, &r.Command, &r.BotUserID)
	if errors.Is(err, pgx.ErrNoRows) {
		var exists bool
		if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM slash_responses WHERE token_hash = $1)`, hash).Scan(&exists); err != nil {
			return SlashResponse{}, fmt.Errorf("slash response: %w", err)
		}
		if exists {
			return SlashResponse{}, fmt.Errorf("response URL expired or used up: %w", ErrGone)
		}
		return SlashResponse{}, fmt.Errorf("response URL: %w", ErrNotFound)
	}
	if err != nil {
		return SlashResponse{}, fmt.Errorf("redeem slash response: %w", err)
	}
	return r, nil
}
