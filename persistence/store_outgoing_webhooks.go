package persistence

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// MaxOutgoingWebhooksPerChannel bounds the live outgoing webhooks of one channel: each one is
// a delivery per message (docs/LIMITS.md).
const MaxOutgoingWebhooksPerChannel = 20

// OutgoingWebhook is a channel's event subscription (ADR 0037). Secret is never rendered:
// it is shown once, in the creation response.
type OutgoingWebhook struct {
	ID           int64    `json:"id,string"`
	ChannelID    int64    `json:"channelId,string"`
	CreatorID    int64    `json:"creatorId,string"`
	BotUserID    int64    `json:"botUserId,string"`
	URL          string   `json:"url"`
	Events       []string `json:"events"`
	TriggerWords []string `json:"triggerWords"`
	CreatedAt    Time     `json:"createdAt"`
	Secret       string   `json:"-"`
	Revoked      bool     `json:"-"`
	WorkspaceID  int64    `json:"-"`
}

// NewOutgoingWebhook is a hook to store. Its cursor starts at the channel's last seq.
type NewOutgoingWebhook struct {
	ID           int64
	ChannelID    int64
	CreatorID    int64
	BotUserID    int64
	URL          string
	Secret       string
	Events       []string
	TriggerWords []string
}

const outgoingColumns = `h.id, h.channel_id, h.creator_id, h.bot_user_id, h.url, h.secret, h.events,
	h.trigger_words, h.created_at, h.revoked_at IS NOT NULL, c.workspace_id`

func scanOutgoing(row pgx.Row, h *OutgoingWebhook) error {
	return row.Scan(&h.ID, &h.ChannelID, &h.CreatorID, &h.BotUserID, &h.URL, &h.Secret, &h.Events,
		&h.TriggerWords, &h.CreatedAt.Time, &h.Revoked, &h.WorkspaceID)
}

// CreateOutgoingWebhook stores a hook whose cursor is the channel's last seq (it sees only
// later messages). A channel with MaxOutgoingWebhooksPerChannel live hooks gets a
// ValidationError and nothing is stored.
func (s *Store) CreateOutgoingWebhook(ctx context.Context, n NewOutgoingWebhook) (OutgoingWebhook, error) {
	if n.TriggerWords == nil {
		n.TriggerWords = []string{}
	}
	var h OutgoingWebhook
	err := scanOutgoing(s.pool.QueryRow(ctx, `
		WITH ins AS (
			INSERT INTO outgoing_webhooks (id, channel_id, creator_id, bot_user_id, url, secret, events, trigger_words, cursor_seq)
			SELECT $1, c.id, $3, $4, $5, $6, $7, $8, c.last_seq FROM channels c
			WHERE c.id = $2 AND (SELECT count(*) FROM outgoing_webhooks
				WHERE channel_id = $2 AND revoked_at IS NULL) < $9
			RETURNING *
		)
		SELECT `+outgoingColumns+` FROM ins h JOIN channels c ON c.id = h.channel_id`,
		n.ID, n.ChannelID, n.CreatorID, n.BotUserID, n.URL, n.Secret, n.Events, n.TriggerWords,
		MaxOutgoingWebhooksPerChannel), &h)
	if errors.Is(err, pgx.ErrNoRows) {
		return OutgoingWebhook{}, &ValidationError{Reason: fmt.Sprintf("at most %d outgoing webhooks per channel: revoke one first", MaxOutgoingWebhooksPerChannel)}
	}
	if err != nil {
		return OutgoingWebhook{}, fmt.Errorf("create outgoing webhook in %d: %w", n.ChannelID, err)
	}
	return h, nil
}

// OutgoingWebhooks lists a channel's live hooks, oldest first.
func (s *Store) OutgoingWebhooks(ctx context.Context, channelID int64) ([]OutgoingWebhook, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+outgoingColumns+` FROM outgoing_webhooks h
		JOIN channels c ON c.id = h.channel_id
		WHERE h.channel_id = $1 AND h.revoked_at IS NULL ORDER BY h.id`, channelID)
	if err != nil {
		return nil, fmt.Errorf("outgoing webhooks of %d: %w", channelID, err)
	}
	defer rows.Close()
	out := []OutgoingWebhook{}
	for rows.Next() {
		var h OutgoingWebhook
		if err := scanOutgoing(rows, &h); err != nil {
			return nil, fmt.Errorf("outgoing webhooks of %d: %w", channelID, err)
		}
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("outgoing webhooks of %d: %w", channelID, err)
	}
	return out, nil
}

// OutgoingWebhookByID loads a hook, revoked or not; unknown is ErrNotFound.
func (s *Store) OutgoingWebhookByID(ctx context.Context, id int64) (OutgoingWebhook, error) {
	var h OutgoingWebhook
	err := scanOutgoing(s.pool.QueryRow(ctx, `SELECT `+outgoingColumns+` FROM outgoing_webhooks h
		JOIN channels c ON c.id = h.channel_id WHERE h.id = $1`, id), &h)
	if errors.Is(err, pgx.ErrNoRows) {
		return OutgoingWebhook{}, ErrNotFound
	}
	if err != nil {
		return OutgoingWebhook{}, fmt.Errorf("outgoing webhook %d: %w", id, err)
	}
	return h, nil
}

// RevokeOutgoingWebhook stops a hook: the relay produces nothing more for it and the
// consumer drops what is queued. Unknown or already revoked is ErrNotFound.
func (s *Store) RevokeOutgoingWebhook(ctx context.Context, id int64) error {
	tag, err := s.pool.Exec(ctx, `UPDATE outgoing_webhooks SET revoked_at = now()
		WHERE id = $1 AND revoked_at IS NULL`, id)
	if err != nil {
		return fmt.Errorf("revoke outgoing webhook %d: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

// OutgoingDelivery is one row of a hook's delivery log.
type OutgoingDelivery struct {
	DeliveryID  string `json:"deliveryId"`
	Seq         int64  `json:"seq"`
	Status      string `json:"status"` // pending, delivered or failed
	Attempts    int    `json:"attempts"`
	LastError   string `json:"lastError,omitempty"`
	LatencyMS   *int64 `json:"latencyMs,omitempty"`
	CreatedAt   Time   `json:"createdAt"`
	DeliveredAt *Time  `json:"deliveredAt,omitempty"`
}

// Delivery statuses.
const (
	DeliveryPending   = "pending"
	DeliveryDelivered = "delivered"
	DeliveryFailed    = "failed"
)

// OutgoingDeliveryState is a delivery's status and attempts so far from the log, or
// ("", 0) when the log has no row for it: a delivery read again from Kafka after a restart
// or a rebalance that the log says is done is not sent again, and one that was being retried
// resumes its count.
func (s *Store) OutgoingDeliveryState(ctx context.Context, hookID int64, deliveryID string) (status string, attempts int, err error) {
	err = s.pool.QueryRow(ctx, `SELECT status, attempts FROM outgoing_deliveries WHERE hook_id = $1 AND delivery_id = $2`,
		hookID, deliveryID).Scan(&status, &attempts)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", 0, nil
	}
	if err != nil {
		return "", 0, fmt.Errorf("delivery %s: %w", deliveryID, err)
	}
	return status, attempts, nil
}

// DeliveryAttempt is the outcome of one attempt, or the final one.
type DeliveryAttempt struct {
	Status    string
	Attempts  int
	LastError string
	Latency   time.Duration // from the message's creation to the receiver's 2xx
	At        time.Time     // delivered at (Status delivered)
}

// RecordOutgoingDelivery writes an attempt's outcome (one statement: the row is made by
// the first attempt's outcome).
func (s *Store) RecordOutgoingDelivery(ctx context.Context, hookID int64, deliveryID string, seq int64, a DeliveryAttempt) error {
	var lastErr *string
	if a.LastError != "" {
		lastErr = &a.LastError
	}
	var latency *int64
	var at *time.Time
	if a.Status == DeliveryDelivered {
		ms := a.Latency.Milliseconds()
		latency, at = &ms, &a.At
	}
	if _, err := s.pool.Exec(ctx, `INSERT INTO outgoing_deliveries AS d
		(hook_id, delivery_id, seq, status, attempts, last_error, latency_ms, delivered_at)
		VALUES ($1, $2, $8, $3, $4, $5, $6, $7)
		ON CONFLICT (hook_id, delivery_id) DO UPDATE SET status = $3, attempts = $4,
			last_error = COALESCE($5, d.last_error), latency_ms = $6, delivered_at = $7`,
		hookID, deliveryID, a.Status, a.Attempts, lastErr, latency, at, seq); err != nil {
		return fmt.Errorf("record delivery %s: %w", deliveryID, err)
	}
	return nil
}

// TrimOutgoingDeliveries deletes a hook's finished log rows past its newest keep rows.
func (s *Store) TrimOutgoingDeliveries(ctx context.Context, hookID int64, keep int) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM outgoing_deliveries WHERE hook_id = $1 AND status <> 'pending'
		AND (created_at, delivery_id) < (SELECT created_at, delivery_id FROM outgoing_deliveries
			WHERE hook_id = $1 ORDER BY created_at DESC, delivery_id DESC OFFSET $2 - 1 LIMIT 1)`, hookID, keep); err != nil {
		return fmt.Errorf("trim delivery log of %d: %w", hookID, err)
	}
	return nil
}

// OutgoingDeliveries lists a hook's newest deliveries first, at most limit.
func (s *Store) OutgoingDeliveries(ctx context.Context, hookID int64, limit int) ([]OutgoingDelivery, error) {
	rows, err := s.pool.Query(ctx, `SELECT delivery_id, seq, status, attempts, COALESCE(last_error, ''),
		latency_ms, created_at, delivered_at FROM outgoing_deliveries WHERE hook_id = $1
		ORDER BY created_at DESC, delivery_id DESC LIMIT $2`, hookID, limit)
	if err != nil {
		return nil, fmt.Errorf("deliveries of %d: %w", hookID, err)
	}
	defer rows.Close()
	out := []OutgoingDelivery{}
	for rows.Next() {
		var d OutgoingDelivery
		var at *time.Time
		if err := rows.Scan(&d.DeliveryID, &d.Seq, &d.Status, &d.Attempts, &d.LastError, &d.LatencyMS, &d.CreatedAt.Time, &at); err != nil {
			return nil, fmt.Errorf("deliveries of %d: %w", hookID, err)
		}
		if at != nil {
			d.DeliveredAt = &Time{*at}
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("deliveries of %d: %w", hookID, err)
	}
	return out, nil
}
