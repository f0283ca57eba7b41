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
//   - lag: 0 when everything received has been replayed. Only otherwise is it now minus
//     the commit time of the last replayed transaction: on an idle primary that time is
//     old while nothing is pending, and reading it alone would drop every replica of a
//     quiet system. The first write after a long idle stretch can read as a large lag for
//     one check; that errs towards the primary.
const replicaLagQuery = `SELECT pg_is_in_recovery(),
	EXISTS (SELECT 1 FROM pg_stat_wal_receiver WHERE COALESCE(status, 'streaming') = 'streaming'),
	CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
	     ELSE EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())::float8 END`

// run checks every replica each CheckInterval until ctx ends, and forgets writers whose
// window has passed.
func (r *Replicas) run(ctx context.Context) {
	defer close(r.done)
	t := time.NewTicker(r.cfg.CheckInterval)
	defer t.Stop()
	for {
		r.checkAll(ctx)
		r.prune(time.Now())
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
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
	var recovering, streaming bool
	var lagSec *float64
	err := rep.pool.QueryRow(cctx, replicaLagQuery).Scan(&recovering, &streaming, &lagSec)
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
	case lagSec == nil:
		r.setState(rep, false, -1, errors.New("nothing replayed yet"))
	default:
		lag := time.Duration(*lagSec * float64(time.Second))
		if lag > r.cfg.MaxLag {
			r.setState(rep, false, lag, fmt.Errorf("replay lag %s over the bound %s", lag.Round(time.Millisecond), r.cfg.MaxLag))
			return
		}
		r.setState(rep, true, lag, nil)
	}
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
