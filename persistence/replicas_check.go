package persistence

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// replicaLagQuery reads a replica's state from the replica itself (ADR 0044):
//   - in recovery: a promoted replica is another primary, not ours to read from;
//   - streaming: with its WAL receiver gone a replica replays nothing new, and its
//     "nothing pending" below would be a lie. A role without pg_read_all_stats sees the
//     receiver's row with its status NULL: then a receiver that exists counts;
//   - lag: 0 when everything received has been replayed (caught up). Otherwise now minus
//     the later of the commit time of the last replayed transaction and the last check
//     that found it caught up: it has everything committed before either. The commit time
//     alone would be old on an idle primary while nothing is pending — every replica of a
//     quiet system would leave rotation at each first write after a quiet second.
const replicaLagQuery = `SELECT pg_is_in_recovery(),
	EXISTS (SELECT 1 FROM pg_stat_wal_receiver WHERE COALESCE(status, 'streaming') = 'streaming'),
	COALESCE(pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn(), false),
	now(), pg_last_xact_replay_timestamp()`

// retryInterval is how soon a replica out of rotation is checked again when CheckInterval
// is longer: one that comes back (or was not ready at start) rejoins quickly, and a check
// of a dead one is a refused connection.
const retryInterval = 200 * time.Millisecond

// run checks every replica each CheckInterval (sooner while one is out) until ctx ends,
// and forgets writers whose window has passed.
func (r *Replicas) run(ctx context.Context) {
	defer close(r.done)
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		r.checkAll(ctx)
		r.prune(time.Now())
		next := r.cfg.CheckInterval
		if r.InRotation() < len(r.all) {
			next = min(next, retryInterval)
		}
		t.Reset(next)
	}
}

func (r *Replicas) checkAll(ctx context.Context) {
	var wg sync.WaitGroup
	for _, rep := range r.all {
		wg.Go(func() { r.check(ctx, rep) })
	}
	wg.Wait()
}

// check reads rep's lag and puts it in or out of rotation.
func (r *Replicas) check(ctx context.Context, rep *replica) {
	// A second at least: on a busy machine a check slower than a short interval is not a
	// sick replica (it still leaves the fresh set after two intervals without a good check).
	cctx, cancel := context.WithTimeout(ctx, max(r.cfg.CheckInterval, time.Second))
	defer cancel()
	var recovering, streaming, caughtUp bool
	var now time.Time
	var replayed *time.Time
	err := rep.pool.QueryRow(cctx, replicaLagQuery).Scan(&recovering, &streaming, &caughtUp, &now, &replayed)
	if ctx.Err() != nil {
		return // shutting down
	}
	switch {
	case err != nil:
		r.setState(rep, false, -1, fmt.Errorf("lag check: %w", err))
	case !recovering:
		r.setState(rep, false, -1, errors.New("not in recovery: promoted, or not a replica"))
	case !streaming:
		r.setState(rep, false, -1, errors.New("WAL receiver not streaming"))
	default:
		lag, known := rep.lagAt(now, caughtUp, replayed)
		if !known {
			r.setState(rep, false, -1, errors.New("nothing replayed yet"))
			return
		}
		if lag > r.cfg.MaxLag {
			r.setState(rep, false, lag, fmt.Errorf("replay lag %s over the bound %s", lag.Round(time.Millisecond), r.cfg.MaxLag))
			return
		}
		r.setState(rep, true, lag, nil)
	}
}

// lagAt turns a check's readings (on the replica's clock) into a lag: how much older than
// now a commit can be and still be missing on the replica.
func (rep *replica) lagAt(now time.Time, caughtUp bool, replayed *time.Time) (time.Duration, bool) {
	rep.mu.Lock()
	defer rep.mu.Unlock()
	if caughtUp {
		rep.caughtUp = now
		return 0, true
	}
	since := rep.caughtUp
	if replayed != nil && replayed.After(since) {
		since = *replayed
	}
	if since.IsZero() {
		return 0, false
	}
	return max(now.Sub(since), 0), true
}

// setState records a check's (or a failed read's) outcome; lag < 0 is unknown. Changes of
// rotation are logged once, not every check.
func (r *Replicas) setState(rep *replica, ok bool, lag time.Duration, why error) {
	rep.mu.Lock()
	was := rep.ok
	rep.ok, rep.lag = ok, lag
	if ok {
		rep.checked = time.Now()
	}
	rep.mu.Unlock()
	r.lag.WithLabelValues(rep.name).Set(lag.Seconds())
	if lag < 0 {
		r.lag.WithLabelValues(rep.name).Set(-1)
	}
	switch {
	case ok && !was:
		r.inRotation.WithLabelValues(rep.name).Set(1)
		r.logger.Info("database replica in rotation", "replica", rep.name, "lag", lag)
	case !ok && was:
		r.inRotation.WithLabelValues(rep.name).Set(0)
		r.logger.Warn("database replica out of rotation", "replica", rep.name, "err", why)
	}
}

func (r *Replicas) prune(now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for id, until := range r.writers {
		if !now.Before(until) {
			delete(r.writers, id)
		}
	}
}
