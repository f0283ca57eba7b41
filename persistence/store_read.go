package persistence

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// Routing of reads to replicas (ADR 0044). Only the reads listed there — history pages
// going back, search, thread lists, member lists, unreads — go through readRows; every
// other query, and every write, uses s.pool, the primary.

type readerKey struct{}

// ForUser returns ctx carrying the id of the user a request acts for. A routed read under
// it stays on the primary while that user's own recent write may not have reached the
// replicas yet (read-your-writes). Without it a routed read acts for nobody in particular.
func ForUser(ctx context.Context, userID int64) context.Context {
	return context.WithValue(ctx, readerKey{}, userID)
}

func userOf(ctx context.Context) int64 {
	id, _ := ctx.Value(readerKey{}).(int64)
	return id
}

// NoteWrite records that userID has just written (see Replicas.NoteWrite). The transport
// calls it after a user's mutating request; AppendMessages calls it for the authors it
// commits.
func (s *Store) NoteWrite(userID int64) { s.cfg.Replicas.NoteWrite(userID) }

// querier is what a routed read needs of a pool.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// readRows runs a routed read: on a replica in rotation when ctx's user may read from one,
// else on the primary. A read that fails on a replica takes it out of rotation and runs
// again on the primary, so a replica's trouble never reaches the user.
func readRows[T any](ctx context.Context, s *Store, scan func(pgx.Row, *T) error, sql string, args ...any) ([]T, error) {
	run := func(q querier) ([]T, error) {
		rows, err := q.Query(ctx, sql, args...)
		if err != nil {
			return nil, err
		}
		return collect(rows, scan)
	}
	reps := s.cfg.Replicas
	if rep := reps.pick(userOf(ctx)); rep != nil {
		out, err := run(rep.pool)
		if err == nil {
			reps.counted(rep)
			return out, nil
		}
		if ctx.Err() != nil {
			return nil, err
		}
		reps.failed(ctx, rep, err)
	}
	reps.counted(nil)
	return run(s.pool)
}

// readMessages is queryMessages as a routed read.
func (s *Store) readMessages(ctx context.Context, sql string, args ...any) ([]Message, error) {
	return readRows(ctx, s, func(row pgx.Row, m *Message) error { return scanMessage(row, m) }, sql, args...)
}

// noteAuthors notes a write by each author of a committed batch (ADR 0044).
func (s *Store) noteAuthors(batch []NewMessage) {
	if s.cfg.Replicas == nil {
		return
	}
	for _, m := range batch {
		s.cfg.Replicas.NoteWrite(m.UserID)
	}
}
