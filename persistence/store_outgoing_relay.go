package persistence

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// RelayHook is a live outgoing webhook whose channel has messages past its cursor, as the
// relay sees it (ADR 0037).
type RelayHook struct {
	ID           int64
	ChannelID    int64
	BotUserID    int64
	CursorSeq    int64
	TriggerWords []string
}

// RelayBatch is what the relay hands on for one hook: the messages after its cursor in seq
// order (tombstones included: the relay decides), and which of their authors are bots.
type RelayBatch struct {
	Hook       RelayHook
	Messages   []Message
	BotAuthors map[int64]bool
}

// RelayOutgoing is the outgoing relay's PostgreSQL side: in one transaction it claims up to
// maxHooks live hooks whose channel's last seq is past their cursor (FOR UPDATE SKIP
// LOCKED: another node relaying at the same time takes other hooks), reads each one's next
// maxMessages messages, calls produce with all the batches, and moves each claimed hook's
// cursor to its last message's seq only if produce returned nil. produce returns nil once
// the batches are durable elsewhere (acknowledged by Kafka); a crash after that and before
// the commit produces them again, which is the "at least once" of ADR 0037. It returns how
// many hooks it claimed and the most messages it read for one of them: either at its bound
// means more may be waiting.
func (s *Store) RelayOutgoing(ctx context.Context, maxHooks, maxMessages int, produce func(context.Context, []RelayBatch) error) (hooksClaimed, mostMessages int, err error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("relay outgoing: begin: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	rows, err := tx.Query(ctx, `SELECT h.id, h.channel_id, h.bot_user_id, h.cursor_seq, h.trigger_words
		FROM outgoing_webhooks h JOIN channels c ON c.id = h.channel_id
		WHERE h.revoked_at IS NULL AND c.last_seq > h.cursor_seq
		ORDER BY h.id LIMIT $1 FOR UPDATE OF h SKIP LOCKED`, maxHooks)
	if err != nil {
		return 0, 0, fmt.Errorf("relay outgoing: claim: %w", err)
	}
	hooks, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (RelayHook, error) {
		var h RelayHook
		err := r.Scan(&h.ID, &h.ChannelID, &h.BotUserID, &h.CursorSeq, &h.TriggerWords)
		return h, err
	})
	if err != nil {
		return 0, 0, fmt.Errorf("relay outgoing: claim: %w", err)
	}
	if len(hooks) == 0 {
		return 0, 0, nil
	}
	batches := make([]RelayBatch, 0, len(hooks))
	authors := map[int64]bool{}
	most := 0
	for _, h := range hooks {
		ms, err := s.MessagesAfter(ctx, h.ChannelID, h.CursorSeq, maxMessages)
		if err != nil {
			return 0, 0, fmt.Errorf("relay outgoing: %w", err)
		}
		if len(ms) == 0 {
			continue
		}
		for _, m := range ms {
			authors[m.UserID] = false
		}
		most = max(most, len(ms))
		batches = append(batches, RelayBatch{Hook: h, Messages: ms})
	}
	ids := make([]int64, 0, len(authors))
	for id := range authors {
		ids = append(ids, id)
	}
	bots := map[int64]bool{}
	brows, err := tx.Query(ctx, `SELECT id FROM users WHERE id = ANY($1) AND is_bot`, ids)
	if err != nil {
		return 0, 0, fmt.Errorf("relay outgoing: bot authors: %w", err)
	}
	botIDs, err := pgx.CollectRows(brows, pgx.RowTo[int64])
	if err != nil {
		return 0, 0, fmt.Errorf("relay outgoing: bot authors: %w", err)
	}
	for _, id := range botIDs {
		bots[id] = true
	}
	for i := range batches {
		batches[i].BotAuthors = bots
	}
	if err := produce(ctx, batches); err != nil {
		return 0, 0, fmt.Errorf("relay outgoing: %w", err)
	}
	for _, b := range batches {
		last := b.Messages[len(b.Messages)-1].Seq
		if _, err := tx.Exec(ctx, `UPDATE outgoing_webhooks SET cursor_seq = $2 WHERE id = $1`, b.Hook.ID, last); err != nil {
			return 0, 0, fmt.Errorf("relay outgoing: move cursor of %d: %w", b.Hook.ID, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, 0, fmt.Errorf("relay outgoing: commit: %w", err)
	}
	return len(hooks), most, nil
}
