// AppendBatches (node-wide group commit) has no production caller yet. It is kept on
// purpose as the persistence half of issue 27's node-wide commit coalescer (ADR 0006,
// "Recommended next"); store_append_multi_test.go and BenchmarkAppendBatches keep it
// correct and measured until issue 27 wires it into the channel actor.

package persistence

import (
	"context"
	"errors"
	"fmt"
)

// ChannelBatch is one channel's share of a node-wide group commit.
type ChannelBatch struct {
	ChannelID int64
	Messages  []NewMessage
}

// appendMultiSQL is appendFastSQL for several channels at once, all or nothing: it writes
// only when every channel exists, is not archived, and no clientMsgId of any batch is stored
// yet. Channel rows are locked in id order, so two such statements (on two nodes) never
// deadlock on them.
const appendMultiSQL = `WITH dup AS (
	SELECT 1 FROM unnest($1::bigint[], $2::bigint[], $3::text[]) AS k(ch, u, c)
	CROSS JOIN LATERAL (SELECT 1 FROM messages
	                    WHERE channel_id = k.ch AND user_id = k.u AND client_msg_id = k.c LIMIT 1) d
	LIMIT 1
), lk AS MATERIALIZED (
	SELECT id FROM channels
	WHERE id = ANY($4::bigint[]) AND NOT archived AND NOT EXISTS (SELECT FROM dup)
	ORDER BY id FOR UPDATE
), ch AS (
	UPDATE channels c SET last_seq = c.last_seq + v.n
	FROM unnest($4::bigint[], $5::bigint[]) AS v(id, n)
	WHERE c.id = v.id AND (SELECT count(*) FROM lk) = cardinality($4::bigint[])
	RETURNING c.id, c.last_seq - v.n AS base
), ins AS (
	INSERT INTO messages (id, channel_id, seq, user_id, content, client_msg_id, created_at)
	SELECT x.id, x.ch, ch.base + x.rel, x.u, x.content, x.cmid, $12
	FROM unnest($6::bigint[], $7::bigint[], $8::bigint[], $9::bigint[], $10::text[], $11::text[])
	     AS x(id, ch, rel, u, content, cmid)
	JOIN ch ON ch.id = x.ch
), rr AS (
	INSERT INTO read_receipts (user_id, channel_id, last_read_seq, updated_at)
	SELECT r.u, r.ch, ch.base + r.rel, $12
	FROM unnest($13::bigint[], $14::bigint[], $15::bigint[]) AS r(u, ch, rel) JOIN ch ON ch.id = r.ch
	ON CONFLICT (user_id, channel_id) DO UPDATE
	   SET last_read_seq = GREATEST(read_receipts.last_read_seq, EXCLUDED.last_read_seq),
	       updated_at = EXCLUDED.updated_at
)
SELECT id, base FROM ch`

// AppendBatches is AppendMessages for several channels in one transaction: the persistence
// half of a node-wide group commit, which pays one commit (one WAL flush, one round trip)
// for the queued batches of many channels instead of one each. Each ChannelID must appear
// once. results[i] and errs[i] are what AppendMessages(batches[i]) would return: one
// channel's failure (missing, archived) is its own. When the batches need no lookup but
// clientMsgId duplicates (no replies, no mentions) they are written by one statement in one
// round trip; the others, and every batch after a fast attempt that could not write, go
// through AppendMessages one by one.
func (s *Store) AppendBatches(ctx context.Context, batches []ChannelBatch) (results [][]AppendResult, errs []error) {
	results, errs = make([][]AppendResult, len(batches)), make([]error, len(batches))
	var fast, slow []int
	ins := make([]appendInput, len(batches))
	for i, b := range batches {
		ins[i] = newAppendInput(b.Messages)
		if ins[i].fast() && len(b.Messages) > 0 {
			fast = append(fast, i)
		} else {
			slow = append(slow, i)
		}
	}
	if len(fast) == 1 {
		slow = append(slow, fast[0]) // AppendMessages has the one-channel statement
	} else if len(fast) > 1 {
		ok, err := s.appendMulti(ctx, batches, ins, fast, results)
		if err != nil {
			for _, i := range fast {
				errs[i] = fmt.Errorf("append to channel %d: %w", batches[i].ChannelID, err)
			}
		} else if !ok {
			slow = append(slow, fast...)
		} else {
			for _, i := range fast {
				s.noteAuthors(batches[i].Messages)
			}
		}
	}
	for _, i := range slow {
		results[i], errs[i] = s.AppendMessages(ctx, batches[i].ChannelID, batches[i].Messages)
	}
	return results, errs
}

// appendMulti runs appendMultiSQL over batches[idx]; ok is false, with nothing written,
// when it could not write every one of them.
func (s *Store) appendMulti(ctx context.Context, batches []ChannelBatch, ins []appendInput, idx []int, results [][]AppendResult) (ok bool, _ error) {
	var (
		dupCh, dupUsers          []int64
		dupIDs                   []string
		chans, counts            []int64
		ids, msgCh, rels, users  []int64
		contents                 []string
		cmids                    []*string
		readers, readerCh, marks []int64
		plans                    = make(map[int64]*appendPlan, len(idx))
		at                       = map[int64]int{}
		empty                    = &appendState{dups: map[dupKey]Message{}, parents: map[int64]parentInfo{}, users: map[string]mentionCandidate{}}
		now                      = s.nowUTC()
	)
	for _, i := range idx {
		b, in := batches[i], ins[i]
		if _, seen := at[b.ChannelID]; seen {
			return false, fmt.Errorf("channel %d twice in one group commit", b.ChannelID)
		}
		at[b.ChannelID] = i
		for range in.dupIDs {
			dupCh = append(dupCh, b.ChannelID)
		}
		dupUsers, dupIDs = append(dupUsers, in.dupUsers...), append(dupIDs, in.dupIDs...)
		p := s.planAppend(b.ChannelID, b.Messages, in, empty)
		p.now = now
		plans[b.ChannelID] = p
		if len(p.newMsgs) == 0 {
			return false, nil // nothing to insert: let AppendMessages report on the channel
		}
		chans, counts = append(chans, b.ChannelID), append(counts, int64(len(p.newMsgs)))
		for _, j := range p.newMsgs {
			m := &p.results[j].Message
			m.CreatedAt = Time{now}
			ids, msgCh, rels, users = append(ids, m.ID), append(msgCh, b.ChannelID), append(rels, m.Seq), append(users, m.UserID)
			contents = append(contents, m.Content)
			var cmid *string
			if m.ClientMsgID != "" {
				cmid = &m.ClientMsgID
			}
			cmids = append(cmids, cmid)
		}
		us, ss := p.readerMarks()
		for k := range us {
			readers, readerCh, marks = append(readers, us[k]), append(readerCh, b.ChannelID), append(marks, ss[k])
		}
	}
	rows, err := s.pool.Query(ctx, appendMultiSQL, dupCh, dupUsers, dupIDs, chans, counts,
		ids, msgCh, rels, users, contents, cmids, now, readers, readerCh, marks)
	if err != nil {
		return false, err
	}
	bases := make(map[int64]int64, len(chans))
	for rows.Next() {
		var id, base int64
		if err := rows.Scan(&id, &base); err != nil {
			rows.Close()
			return false, err
		}
		bases[id] = base
	}
	rows.Close() // waits for the commit
	switch err := rows.Err(); {
	case pgCode(err) == pgUniqueViolation && pgConstraint(err) == "messages_client_msg_id":
		return false, nil
	case err != nil:
		return false, err
	}
	if len(bases) == 0 {
		return false, nil
	}
	if len(bases) != len(chans) {
		return false, errors.New("group commit wrote some channels but not all") // cannot happen: all or nothing
	}
	for ch, p := range plans {
		for j := range p.results {
			if r := &p.results[j]; r.Err == nil {
				r.Message.Seq += bases[ch]
			}
		}
		results[at[ch]] = p.results
	}
	return true, nil
}
