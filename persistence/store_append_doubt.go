package persistence

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/parley-chat/parley/errcode"
)

// ErrInDoubt: the connection broke after the statement that commits an append was sent, and
// PostgreSQL could not be asked in time whether it committed. The messages may or may not
// be stored; a retry with the same clientMsgId settles it without a duplicate. Clients see
// code "outcome_unknown" (503), never "unavailable", which promises nothing was stored.
var ErrInDoubt error = errcode.New(errcode.OutcomeUnknown, "outcome unknown: the message may have been stored; retry with the same clientMsgId")

// DefaultInDoubtWait is how long an append whose outcome is unknown keeps asking PostgreSQL.
const DefaultInDoubtWait = 15 * time.Second

// StoreConfig configures a Store.
type StoreConfig struct {
	// InDoubtWait bounds how long an append whose commit may or may not have happened (the
	// connection broke with COMMIT on the wire) keeps asking PostgreSQL for the outcome
	// before it answers ErrInDoubt. The channel's later sends wait behind it, so it is
	// short. Default 15 s; negative: answer ErrInDoubt at once.
	InDoubtWait time.Duration
	// ChannelMentionMax is the largest channel, in members, where @channel, @all and @here
	// are allowed (above it they are refused with 400). Default 1,000 members.
	ChannelMentionMax int
	// Presence says who is online, for @here. nil: nobody is (ADR 0034).
	Presence Presence
	// Replicas serve the reads ADR 0044 lets a replica serve. nil: every read is the primary's.
	Replicas *Replicas
	// SendPool is the send lane (ADR 0051): the message commits (AppendMessages,
	// AppendBatches, settling one in doubt) take their connections here, so that a flood of
	// sign-ins, subscriptions and replays queued on the main pool cannot hold up the messages
	// of sessions already established. nil: the main pool.
	SendPool *pgxpool.Pool
}

// inDoubt reports whether err, from the round trip that carried the commit, leaves the
// outcome unknown: the request may have reached PostgreSQL and no answer came back. An
// answer from the server (a PgError) means it rolled back, unless it said it was going away.
func inDoubt(err error) bool {
	if err == nil || pgconn.SafeToRetry(err) {
		return false // nothing was sent
	}
	if _, ok := errors.AsType[*pgconn.ConnectError](err); ok {
		return false
	}
	if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok {
		return unavailableCode(pgErr.Code)
	}
	return Unavailable(err) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}

// resolveAppend finds out whether the message with id, written by the transaction that was
// running on backend pid when its connection broke, was committed. Looking is not enough: a
// backend finishes the statements already in its socket buffer before it notices that its
// client has gone, so the commit can land after a first look found nothing. The backend is
// therefore terminated (pg_terminate_backend waits for it to exit; a commit in progress
// completes first) and only then is the message looked up: from then on the answer cannot
// change. PostgreSQL is asked again, with backoff, until it answers or InDoubtWait passes.
//
// Terminating by pid assumes the pid still names that backend: pids are reused only after
// the kernel's pid space wraps, and only backends of this role are eligible.
func (s *Store) resolveAppend(ctx context.Context, pid uint32, id int64) (seq int64, stored bool, err error) {
	seqs, err := s.resolveAppends(ctx, pid, []int64{id})
	if err != nil {
		return 0, false, err
	}
	seq, stored = seqs[id]
	return seq, stored, nil
}

// resolveAppends is resolveAppend for several messages written by the same transaction
// (a multi-channel commit, ADR 0046): the seq of each one stored.
func (s *Store) resolveAppends(ctx context.Context, pid uint32, ids []int64) (map[int64]int64, error) {
	ctx = context.WithoutCancel(ctx) // the caller may have given up; the answer still matters
	deadline := time.Now().Add(s.cfg.InDoubtWait)
	backoff := 50 * time.Millisecond
	for {
		seqs, err := s.lookupAfterTerminate(ctx, pid, ids, deadline)
		if err == nil {
			return seqs, nil
		}
		if time.Now().Add(backoff).After(deadline) {
			return nil, fmt.Errorf("%w (last attempt: %w)", ErrInDoubt, err)
		}
		time.Sleep(backoff)
		backoff = min(2*backoff, time.Second)
	}
}

func (s *Store) lookupAfterTerminate(ctx context.Context, pid uint32, ids []int64, deadline time.Time) (map[int64]int64, error) {
	if d := time.Now().Add(5 * time.Second); d.Before(deadline) {
		deadline = d
	}
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	conn, err := s.sendPool().Acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Release()
	var alive bool
	err = conn.QueryRow(ctx, `
		SELECT coalesce(bool_or(NOT pg_terminate_backend(pid, 3000)), false)
		FROM pg_stat_activity WHERE pid = $1 AND usename = current_user`, int64(pid)).Scan(&alive)
	if err != nil {
		return nil, err
	}
	if alive {
		return nil, fmt.Errorf("backend %d did not exit", pid)
	}
	rows, err := conn.Query(ctx, `SELECT id, seq FROM messages WHERE id = ANY($1)`, ids)
	if err != nil {
		return nil, err
	}
	seqs := make(map[int64]int64, len(ids))
	var id, seq int64
	if _, err := pgx.ForEachRow(rows, []any{&id, &seq}, func() error { seqs[id] = seq; return nil }); err != nil {
		return nil, err
	}
	return seqs, nil
}

// inDoubtAppend is an append whose connection broke with the commit on the wire; settle
// finds out what happened to it. It travels as an error only up to AppendMessages.
type inDoubtAppend struct {
	err  error
	pid  uint32 // the backend that ran it
	plan *appendPlan
	// relative: the plan's seqs count from the channel's last_seq (the fast path) rather
	// than being absolute (the general path plans under the row lock).
	relative bool
}

func (d *inDoubtAppend) Error() string { return d.err.Error() }
func (d *inDoubtAppend) Unwrap() error { return d.err }

// settle answers an append in doubt: the plan's results when the batch turns out committed
// (one transaction: its first new message stands for all), the original error when it was
// not, ErrInDoubt when PostgreSQL could not be asked in time.
func (s *Store) settle(ctx context.Context, d *inDoubtAppend) ([]AppendResult, error) {
	p := d.plan
	first := &p.results[p.newMsgs[0]].Message
	seq, stored, err := s.resolveAppend(ctx, d.pid, first.ID)
	switch {
	case err != nil:
		return nil, fmt.Errorf("%w; the commit was cut off by: %w", err, d.err)
	case !stored:
		return nil, d.err
	}
	var base int64
	if d.relative {
		base = seq - first.Seq
	}
	for i := range p.results {
		if r := &p.results[i]; r.Err == nil {
			r.Message.Seq += base // new messages and in-batch duplicates of them
		}
	}
	return p.results, nil
}
