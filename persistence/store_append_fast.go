package persistence

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// AppendStatement is appendFastSQL, for `parley bench --pg-floor` (ADR 0047), which times
// PostgreSQL's own commit of the node's statement: an alias, so the two cannot drift apart.
const AppendStatement = appendFastSQL

// appendFastSQL is the whole common-case append as one statement, run in the implicit
// transaction of one round trip (the reply comes after the commit). Seqs travel relative to
// the channel's last_seq before the append ($5, $11) and become absolute here, so the
// application needs nothing from the database beforehand.
//
// The UPDATE's row lock orders concurrent appenders of a channel; after waiting for it, the
// UPDATE reads the newest last_seq (READ COMMITTED re-checks the locked row), so seqs stay
// gapless. The statement does not look for stored clientMsgIds first: the unique index
// messages_client_msg_id finds a retry while inserting, the whole statement rolls back, and
// the caller falls back to the general path, which locks before it looks. A lookup per
// message on every batch cost about 8 % of PostgreSQL's time per row to spare a retry, which
// is rare, one wasted statement (and a unique-violation line in the server's log).
const appendFastSQL = `WITH ch AS (
	UPDATE channels SET last_seq = last_seq + $2
	WHERE id = $1 AND NOT archived
	RETURNING last_seq - $2 AS base
), ins AS (
	INSERT INTO messages (id, channel_id, seq, user_id, content, client_msg_id, created_at)
	SELECT x.id, $1, ch.base + x.rel, x.u, x.content, x.cmid, $8
	FROM ch, unnest($3::bigint[], $4::bigint[], $5::bigint[], $6::text[], $7::text[]) AS x(id, rel, u, content, cmid)
), rr AS (
	INSERT INTO read_receipts (user_id, channel_id, last_read_seq, updated_at)
	SELECT r.u, $1, ch.base + r.rel, $8 FROM ch, unnest($9::bigint[], $10::bigint[]) AS r(u, rel)
	ON CONFLICT (user_id, channel_id) DO UPDATE
	   SET last_read_seq = GREATEST(read_receipts.last_read_seq, EXCLUDED.last_read_seq),
	       updated_at = EXCLUDED.updated_at
)
SELECT base FROM ch`

// appendFast tries the one-statement path. ok is false, with nothing written, when the
// batch needs the general path: a clientMsgId already stored, a missing or archived
// channel, a concurrent retry caught by the unique index, or nothing to insert.
func (s *Store) appendFast(ctx context.Context, conn *pgx.Conn, channelID int64, batch []NewMessage, in appendInput) (_ []AppendResult, ok bool, _ error) {
	// Planned as if the channel were empty (seqs 1…n): the statement returns the real base.
	st := &appendState{dups: map[dupKey]Message{}, parents: map[int64]parentInfo{}, users: map[string]mentionCandidate{}}
	p := s.planAppend(channelID, batch, in, st)
	n := len(p.newMsgs)
	if n == 0 {
		return nil, false, nil
	}
	ids, rels, users := make([]int64, n), make([]int64, n), make([]int64, n)
	contents, cmids := make([]string, n), make([]*string, n)
	for k, i := range p.newMsgs {
		m := &p.results[i].Message
		ids[k], rels[k], users[k], contents[k] = m.ID, m.Seq, m.UserID, m.Content
		if m.ClientMsgID != "" {
			cmids[k] = &m.ClientMsgID
		}
	}
	readers, marks := p.readerMarks()
	var base int64
	pid := conn.PgConn().PID()
	err := conn.QueryRow(ctx, appendFastSQL, channelID, n,
		ids, rels, users, contents, cmids, p.now, readers, marks).Scan(&base)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil, false, nil
	case pgCode(err) == pgUniqueViolation && pgConstraint(err) == "messages_client_msg_id":
		return nil, false, nil
	case inDoubt(err):
		return nil, false, &inDoubtAppend{err: err, pid: pid, plan: p, relative: true}
	case err != nil:
		return nil, false, fmt.Errorf("append: %w", err)
	}
	for i := range p.results {
		if r := &p.results[i]; r.Err == nil {
			r.Message.Seq += base // new messages and in-batch duplicates of them
		}
	}
	return p.results, true, nil
}
