package persistence

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// MaxIncomingWebhooksPerChannel bounds the incoming webhooks of one channel (each has a bot
// user of its own).
const MaxIncomingWebhooksPerChannel = 100

// IncomingWebhook is a channel's incoming webhook as listed: never its secret, which only
// its URL (shown once, at creation) holds (ADR 0036).
type IncomingWebhook struct {
	ID        int64  `json:"id,string"`
	ChannelID int64  `json:"channelId,string"`
	BotUserID int64  `json:"botUserId,string"`
	Name      string `json:"name"`
	CreatedBy int64  `json:"createdBy,string"`
	CreatedAt Time   `json:"createdAt"`
}

// NewIncomingWebhook is a hook to store: the SHA-256 of its secret, never the secret.
type NewIncomingWebhook struct {
	ID         int64
	ChannelID  int64
	BotUserID  int64
	Name       string
	SecretHash []byte // 32 bytes
	CreatedBy  int64
}

const incomingWebhookColumns = `h.id, h.channel_id, h.bot_user_id, h.name, h.created_by, h.created_at`

func scanIncomingWebhook(row pgx.Row, h *IncomingWebhook, extra ...any) error {
	return row.Scan(append([]any{&h.ID, &h.ChannelID, &h.BotUserID, &h.Name, &h.CreatedBy, &h.CreatedAt.Time}, extra...)...)
}

// CreateIncomingWebhook stores a hook; a channel already holding
// MaxIncomingWebhooksPerChannel gets a ValidationError and nothing is stored.
func (s *Store) CreateIncomingWebhook(ctx context.Context, nh NewIncomingWebhook) (IncomingWebhook, error) {
	var h IncomingWebhook
	err := scanIncomingWebhook(s.pool.QueryRow(ctx, `
		INSERT INTO incoming_webhooks AS h (id, channel_id, bot_user_id, name, secret_hash, created_by)
		SELECT $1, $2, $3, $4, $5, $6
		WHERE (SELECT count(*) FROM incoming_webhooks WHERE channel_id = $2) < $7
		RETURNING `+incomingWebhookColumns,
		nh.ID, nh.ChannelID, nh.BotUserID, nh.Name, nh.SecretHash, nh.CreatedBy, MaxIncomingWebhooksPerChannel), &h)
	if errors.Is(err, pgx.ErrNoRows) {
		return IncomingWebhook{}, &ValidationError{Reason: fmt.Sprintf("at most %d incoming webhooks per channel: revoke one first", MaxIncomingWebhooksPerChannel)}
	}
	if err != nil {
		return IncomingWebhook{}, fmt.Errorf("create incoming webhook in %d: %w", nh.ChannelID, err)
	}
	return h, nil
}

// IncomingWebhooks lists a channel's hooks, newest first.
func (s *Store) IncomingWebhooks(ctx context.Context, channelID int64) ([]IncomingWebhook, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+incomingWebhookColumns+` FROM incoming_webhooks h
		WHERE h.channel_id = $1 ORDER BY h.id DESC LIMIT $2`, channelID, MaxIncomingWebhooksPerChannel)
	if err != nil {
		return nil, fmt.Errorf("incoming webhooks of %d: %w", channelID, err)
	}
	hs, err := collect(rows, func(row pgx.Row, h *IncomingWebhook) error { return scanIncomingWebhook(row, h) })
	if err != nil {
		return nil, fmt.Errorf("incoming webhooks of %d: %w", channelID, err)
	}
	return hs, nil
}

// IncomingWebhookByID returns hook id and the SHA-256 of its secret, for the caller to
// compare in constant time; ErrNotFound when there is no such hook (never made, or
// revoked). It is read on every post, so that a revocation holds at once on every node.
func (s *Store) IncomingWebhookByID(ctx context.Context, id int64) (IncomingWebhook, []byte, error) {
	var h IncomingWebhook
	var hash []byte
	err := scanIncomingWebhook(s.pool.QueryRow(ctx, `SELECT `+incomingWebhookColumns+`, h.secret_hash
		FROM incoming_webhooks h WHERE h.id = $1`, id), &h, &hash)
	if errors.Is(err, pgx.ErrNoRows) {
		return IncomingWebhook{}, nil, ErrNotFound
	}
	if err != nil {
		return IncomingWebhook{}, nil, fmt.Errorf("incoming webhook %d: %w", id, err)
	}
	return h, hash, nil
}

// RevokeIncomingWebhook deletes hook id (ErrNotFound when there is none). Its bot user
// stays: it is the author of the hook's messages.
func (s *Store) RevokeIncomingWebhook(ctx context.Context, id int64) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM incoming_webhooks WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("revoke incoming webhook %d: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}
