package persistence

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
)

// ChannelBatch is one channel's share of a node-wide group commit.
type ChannelBatch struct {
	ChannelID int64
	Messages  []NewMessage
}

// appendMultiSQL is appendFastSQL for several channels at once. Each channel has its own
// check: it is written only when it exists, is not archived and none of its clientMsgIds is
// stored yet; a channel that fails the check is left out (its last_seq untouched) and the
// others commit. The clientMsgId lookups ($1–$3) are only made when asked for: see
// appendMulti. The statement returns the channels it wrote, with the last_seq each
// started from. Channel rows are locked in id order, so two such statements (on two
// nodes) never deadlock on them.
const appendMultiSQL = `WITH dup AS (
	SELECT DISTINCT k.ch FROM unnest($1::bigint[], $2::bigint[], $3::text[]) AS k(ch, u, c)
	CROSS JOIN LATERAL (SELECT 1 FROM messages
	                    WHERE channel_id = k.ch AND user_id = k.u AND client_msg_id = k.c LIMIT 1) d
), lk AS MATERIALIZED (
	SELECT id FROM channels
	WHERE id = ANY($4::bigint[]) AND NOT archived AND id NOT IN (SELECT ch FROM dup)
	ORDER BY id FOR UPDATE
), ch AS (
	UPDATE channels c SET last_seq = c.last_seq + v.n
	FROM unnest($4::bigint[], $5::bigint[]) AS v(id, n)
	WHERE c.id = v.id AND c.id IN (SELECT id FROM lk)
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

// retryBurst is how long after meeting a stored clientMsgId group commits look for them
// before inserting (appendMulti).
const retryBurst = 5 * time.Second

// OneStatement reports whether batch can share a multi-channel statement: it has no reply,
// no @-name and no attachment, which need lookups the write depends on.
func OneStatement(batch []NewMessage) bool {
	// What newAppendInput(batch).fast() says, without building the input AppendBatches
	// builds again (3 % of a node's CPU at 1,000 channels).
	for _, m := range batch {
		if m.ParentID != 0 || len(m.FileIDs) > 0 || len(ParseMentions(m.Content)) > 0 {
			return false
		}
	}
	return len(batch) > 0
}

// AppendBatches is AppendMessages for several channels in one transaction: the persistence
// half of the node-wide commit coalescer (ADR 0046), which pays one commit (one WAL flush,
// one round trip) for the queued batches of many channels instead of one each. Each
// ChannelID must appear once. results[i] and errs[i] are what AppendMessages(batches[i])
// would return.
//
// The batches OneStatement accepts share one statement; each channel has its own check in
// it (exists, not archived, no stored clientMsgId), and one that fails it is left out and
// goes through AppendMessages afterwards, which answers for it as it always has, while the
// others are committed once. The other batches, and all of them when the statement cannot
// run at all (a concurrent retry caught by the unique index), go through AppendMessages one
// by one. A deadlock's victim runs again, as in AppendMessages (ADR 0040); a commit cut off
// on the wire is settled for each channel (ADR 0007).
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
		left, settled, err := s.appendMultiRetrying(ctx, batches, ins, fast, results)
		if settled && len(left) > 0 {
			// The commit was settled after the caller's deadline, most likely; the channels
			// it did not write still deserve their answer, within the in-doubt wait.
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), max(s.cfg.InDoubtWait, time.Second))
			defer cancel()
		}
		if err != nil {
			for _, i := range fast {
				errs[i] = fmt.Errorf("append to channel %d: %w", batches[i].ChannelID, err)
			}
		} else {
			for _, i := range fast {
				if results[i] != nil {
					s.noteAuthors(batches[i].Messages)
				}
			}
			slow = append(slow, left...)
		}
	}
	for _, i := range slow {
		results[i], errs[i] = s.AppendMessages(ctx, batches[i].ChannelID, batches[i].Messages)
	}
	return results, errs
}

// appendMultiRetrying runs appendMulti on a connection of its own, again when PostgreSQL
// picked it as a deadlock's victim (it rolled back whole), and settles it when its commit
// was cut off on the wire (settled). left are the batches it did not write.
func (s *Store) appendMultiRetrying(ctx context.Context, batches []ChannelBatch, ins []appendInput, idx []int, results [][]AppendResult) (left []int, settled bool, err error) {
	conn, err := s.sendPool().Acquire(ctx)
	if err != nil {
		return nil, false, err
	}
	for attempt := 1; ; attempt++ {
		left, err = s.appendMulti(ctx, conn.Conn(), batches, ins, idx, results)
		if pgCode(err) != pgDeadlockDetected || attempt == maxAppendDeadlockAttempts || ctx.Err() != nil {
			break
		}
	}
	conn.Release() // first: settling needs a connection of its own
	if d, ok := errors.AsType[*inDoubtMulti](err); ok {
		left, err = s.settleMulti(ctx, d, results)
		return left, true, err
	}
	return left, false, err
}

// multiPlan is one channel's share of appendMultiSQL: its plan, seqs relative to the
// channel's last_seq, and where it sits in the caller's batches.
type multiPlan struct {
	at   int
	plan *appendPlan
}

// appendMulti runs appendMultiSQL over batches[idx] and fills results for the channels it
// wrote; left are those it did not (their checks failed, or the statement could not run),
// with nothing of theirs written.
func (s *Store) appendMulti(ctx context.Context, conn *pgx.Conn, batches []ChannelBatch, ins []appendInput, idx []int, results [][]AppendResult) (left []int, _ error) {
	var (
		dupCh, dupUsers          []int64
		dupIDs                   []string
		chans, counts            []int64
		ids, msgCh, rels, users  []int64
		contents                 []string
		cmids                    []*string
		readers, readerCh, marks []int64
		plans                    = make(map[int64]multiPlan, len(idx))
		empty                    = &appendState{dups: map[dupKey]Message{}, parents: map[int64]parentInfo{}, users: map[string]mentionCandidate{}}
		now                      = s.nowUTC()
	)
	for _, i := range idx {
		b, in := batches[i], ins[i]
		if _, seen := plans[b.ChannelID]; seen {
			return nil, fmt.Errorf("channel %d twice in one group commit", b.ChannelID)
		}
		for range in.dupIDs {
			dupCh = append(dupCh, b.ChannelID)
		}
		dupUsers, dupIDs = append(dupUsers, in.dupUsers...), append(dupIDs, in.dupIDs...)
		p := s.planAppend(b.ChannelID, b.Messages, in, empty)
		p.now = now
		if len(p.newMsgs) == 0 {
			left = append(left, i) // nothing to insert: let AppendMessages report on the channel
			continue
		}
		plans[b.ChannelID] = multiPlan{at: i, plan: p}
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
	if len(chans) == 0 {
		return left, nil
	}
	pid := conn.PgConn().PID()
	bases := make(map[int64]int64, len(chans))
	run := func(dupCh, dupUsers []int64, dupIDs []string) error {
		rows, err := conn.Query(ctx, appendMultiSQL, dupCh, dupUsers, dupIDs, chans, counts,
			ids, msgCh, rels, users, contents, cmids, now, readers, readerCh, marks)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id, base int64
			if err := rows.Scan(&id, &base); err != nil {
				return err
			}
			bases[id] = base
		}
		rows.Close() // waits for the commit
		return rows.Err()
	}
	// Optimistic first, as appendFastSQL is: the unique index messages_client_msg_id finds a
	// stored clientMsgId while inserting and the statement rolls back whole; then it runs
	// again with a lookup per message, which leaves out only the channels that have one. The
	// lookups cost about 9 % of PostgreSQL's time per row (ADR 0052) to spare a retry, which
	// is rare; after one, group commits look first for a while, since retries come in
	// bursts (clients reconnecting).
	var err error
	checked := len(dupIDs) == 0 || s.now().UnixNano()-s.retriesSeen.Load() < int64(retryBurst)
	if !checked {
		err = run(nil, nil, nil)
		if pgCode(err) == pgUniqueViolation && pgConstraint(err) == "messages_client_msg_id" {
			s.retriesSeen.Store(s.now().UnixNano())
			clear(bases)
			checked = true
		}
	}
	if checked {
		err = run(dupCh, dupUsers, dupIDs)
	}
	switch {
	case pgCode(err) == pgUniqueViolation && pgConstraint(err) == "messages_client_msg_id":
		// A retry racing its original elsewhere: the statement rolled back whole, and
		// AppendMessages, which locks before it looks, sorts each channel out.
		for _, mp := range plans {
			left = append(left, mp.at)
		}
		slices.Sort(left)
		return left, nil
	case inDoubt(err):
		return nil, &inDoubtMulti{err: err, pid: pid, plans: plans, left: left}
	case err != nil:
		return nil, err
	}
	for ch, mp := range plans {
		base, ok := bases[ch]
		if !ok {
			left = append(left, mp.at) // its check failed: nothing of it was written
			continue
		}
		results[mp.at] = rebase(mp.plan, base)
	}
	slices.Sort(left)
	return left, nil
}

// rebase makes a plan's relative seqs absolute from base (the channel's last_seq before
// the append) and returns its results.
func rebase(p *appendPlan, base int64) []AppendResult {
	for j := range p.results {
		if r := &p.results[j]; r.Err == nil {
			r.Message.Seq += base // new messages and in-batch duplicates of them
		}
	}
	return p.results
}

// inDoubtMulti is a multi-channel append whose connection broke with the commit on the
// wire; settleMulti finds out, channel by channel, what happened to it.
type inDoubtMulti struct {
	err   error
	pid   uint32
	plans map[int64]multiPlan
	left  []int // batches that were not in the statement
}

func (d *inDoubtMulti) Error() string { return d.err.Error() }
func (d *inDoubtMulti) Unwrap() error { return d.err }

// settleMulti answers a multi-channel append in doubt. The statement is one transaction:
// once its backend has been terminated, the first new message of each channel it wrote is
// stored and no other. When some are stored it committed, and the channels whose check left
// them out go to AppendMessages like any others left; when none is, nothing was written
// (rolled back, or every check failed) and every channel gets the original error, which is
// then true, as for one channel (ADR 0007).
func (s *Store) settleMulti(ctx context.Context, d *inDoubtMulti, results [][]AppendResult) (left []int, _ error) {
	firsts := make([]int64, 0, len(d.plans))
	for _, mp := range d.plans {
		p := mp.plan
		firsts = append(firsts, p.results[p.newMsgs[0]].Message.ID)
	}
	seqs, err := s.resolveAppends(ctx, d.pid, firsts)
	switch {
	case err != nil:
		return nil, fmt.Errorf("%w; the commit was cut off by: %w", err, d.err)
	case len(seqs) == 0:
		return nil, d.err
	}
	left = d.left
	for _, mp := range d.plans {
		p := mp.plan
		first := &p.results[p.newMsgs[0]].Message
		seq, ok := seqs[first.ID]
		if !ok {
			left = append(left, mp.at)
			continue
		}
		results[mp.at] = rebase(p, seq-first.Seq)
	}
	slices.Sort(left)
	return left, nil
}
