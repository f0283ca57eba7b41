package persistence

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/parley-chat/parley/errcode"
)

// MaxPinsPerChannel bounds a channel's pins: GET …/pins answers them all in one response,
// with every pinned message in full (ADR 0042).
const MaxPinsPerChannel = 100

// ErrTooManyPins: pinning one more message in a channel that has MaxPinsPerChannel.
var ErrTooManyPins error = errcode.New(errcode.Conflict, fmt.Sprintf("a channel has at most %d pinned messages; unpin one first", MaxPinsPerChannel))

// pinLockSpace is the first key of the transaction-scoped advisory lock that makes pins of
// one channel take turns (the second key is the channel id folded to 31 bits; two channels
// that fold alike only take turns needlessly).
const pinLockSpace = 42042

// Pin says that message MessageID (at Seq in ChannelID) is pinned.
type Pin struct {
	MessageID int64 `json:"messageId,string"`
	ChannelID int64 `json:"channelId,string"`
	Seq       int64 `json:"seq"`
	PinnedBy  int64 `json:"pinnedBy,string"`
	PinnedAt  Time  `json:"pinnedAt"`
}

// PinnedMessage is one entry of a channel's pins: the message as the reader sees it now.
type PinnedMessage struct {
	PinnedBy int64   `json:"pinnedBy,string"`
	PinnedAt Time    `json:"pinnedAt"`
	Message  Message `json:"message"`
}

// PinMessage pins message id for userID. changed is false when it was pinned already (the
// pin is then the existing one). A tombstone is ErrGone; a channel with MaxPinsPerChannel
// pins is ErrTooManyPins.
func (s *Store) PinMessage(ctx context.Context, id, userID int64) (pin Pin, changed bool, err error) {
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		// FOR SHARE waits for a deletion in flight (which takes the row FOR NO KEY UPDATE),
		// so that a tombstone never keeps a pin: DeleteMessage removes pins in its own
		// transaction.
		var deleted bool
		err := tx.QueryRow(ctx, `SELECT channel_id, seq, deleted_at IS NOT NULL FROM messages WHERE id = $1 FOR SHARE`, id).
			Scan(&pin.ChannelID, &pin.Seq, &deleted)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if deleted {
			return ErrGone
		}
		pin.MessageID = id
		// Pins of one channel take turns, so that the count below sees every pin committed
		// before: two pins at once cannot both be the 101st.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1::int, ($2::bigint % 2147483647)::int)`, pinLockSpace, pin.ChannelID); err != nil {
			return err
		}
		var at time.Time
		err = tx.QueryRow(ctx, `SELECT pinned_by, pinned_at FROM pins WHERE message_id = $1`, id).Scan(&pin.PinnedBy, &at)
		if err == nil {
			pin.PinnedAt = Time{at}
			return nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM pins WHERE channel_id = $1`, pin.ChannelID).Scan(&n); err != nil {
			return err
		}
		if n >= MaxPinsPerChannel {
			return ErrTooManyPins
		}
		pin.PinnedBy, pin.PinnedAt, changed = userID, Time{s.nowUTC()}, true
		_, err = tx.Exec(ctx, `INSERT INTO pins (message_id, channel_id, pinned_by, pinned_at) VALUES ($1, $2, $3, $4)`,
			id, pin.ChannelID, userID, pin.PinnedAt.Time)
		return err
	})
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrGone) || errors.Is(err, ErrTooManyPins) {
		return Pin{}, false, err
	}
	if err != nil {
		return Pin{}, false, fmt.Errorf("pin message %d: %w", id, err)
	}
	return pin, changed, nil
}

// UnpinMessage removes message id's pin; changed is false when it had none.
func (s *Store) UnpinMessage(ctx context.Context, id int64) (changed bool, err error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM pins WHERE message_id = $1`, id)
	if err != nil {
		return false, fmt.Errorf("unpin message %d: %w", id, err)
	}
	return tag.RowsAffected() > 0, nil
}

// ChannelPins lists channelID's pinned messages for viewerID, the latest pinned first (at
// most MaxPinsPerChannel).
func (s *Store) ChannelPins(ctx context.Context, viewerID, channelID int64) ([]PinnedMessage, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+messageColumns(2)+`, p.pinned_by, p.pinned_at
		FROM pins p JOIN messages m ON m.id = p.message_id LEFT JOIN threads t ON t.root_id = m.id
		WHERE p.channel_id = $1 ORDER BY p.pinned_at DESC, p.message_id DESC LIMIT $3`, channelID, viewerID, MaxPinsPerChannel)
	if err != nil {
		return nil, fmt.Errorf("pins of channel %d: %w", channelID, err)
	}
	ps, err := collect(rows, func(row pgx.Row, p *PinnedMessage) error {
		return scanMessage(row, &p.Message, &p.PinnedBy, &p.PinnedAt.Time)
	})
	if err != nil {
		return nil, fmt.Errorf("pins of channel %d: %w", channelID, err)
	}
	return ps, nil
}
