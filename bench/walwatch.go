package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// WALReport is what PostgreSQL's write-ahead log did during the load (with --db-url).
//
// A commit whose WAL crosses into a segment that is not on disk yet creates it on the spot,
// holding the WAL write lock: with wal_init_zero on (PostgreSQL's default) that is 16 MB
// written and synced inside the commit, and every channel committing at that moment waits.
// On a machine whose pg_wal holds few segments ready (a fresh one, or after a quiet spell)
// a hot channel's P99 is then set by one such stall per ~0.7 s, not by parley (ADR 0023).
type WALReport struct {
	InitZero     string `json:"walInitZero"` // wal_init_zero
	MinWALSize   string `json:"minWalSize"`  // min_wal_size, as PostgreSQL shows it
	SegmentBytes int64  `json:"segmentBytes"`
	// ReadyAtStart is how many segments were on disk ahead of the insert position when the
	// load began.
	ReadyAtStart int64 `json:"readyAtStart"`
	// WrittenBytes is the WAL inserted from the start of the load to its end (every
	// database on the server, not only parley's).
	WrittenBytes int64 `json:"writtenBytes"`
	// Created estimates the segments the load's commits had to create: the insert position
	// moving past the last segment seen on disk at the sample before. A checkpoint that
	// recycles segments between two samples may make it count one too many.
	Created     int64 `json:"created"`
	Checkpoints int64 `json:"checkpoints"` // completed by the checkpointer during the load
	Samples     int   `json:"samples"`
}

// walSample is one look at pg_wal: the insert position's segment number and how many
// segments are on disk beyond it.
type walSample struct {
	lsn, seg, ready int64
}

// walCreated counts the segments the insert position reached that were not on disk at the
// previous sample (see WALReport.Created).
func walCreated(samples []walSample) int64 {
	var created int64
	for i := 1; i < len(samples); i++ {
		prevEnd := samples[i-1].seg + samples[i-1].ready
		if s := samples[i].seg; s > prevEnd {
			created += s - prevEnd
		}
	}
	return created
}

// walWatch samples pg_wal on a connection of its own while the load runs.
type walWatch struct {
	stop, done chan struct{}
	stopOnce   sync.Once
	rep        WALReport
	mu         sync.Mutex // samples: the loop appends, sampled reads
	samples    []walSample
	ckpt0      int64
	err        error
}

const walSampleSQL = `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint,
	(SELECT count(*) FROM pg_ls_waldir()
	  WHERE name ~ '^[0-9A-F]{24}$' AND name > pg_walfile_name(pg_current_wal_lsn()))`

const walCheckpointsSQL = `SELECT checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter`

// startWALWatch connects, reads the settings and takes the first sample before it returns
// (so that the load starts after it), then samples every `every` until finish, which takes
// the last one. Reading pg_wal needs a superuser or pg_monitor: without it the report says
// why it is empty.
func startWALWatch(ctx context.Context, url string, every time.Duration) *walWatch {
	w := &walWatch{stop: make(chan struct{}), done: make(chan struct{})}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(cctx, url)
	if err == nil {
		if err = w.begin(cctx, conn); err != nil {
			conn.Close(context.Background())
		}
	}
	if err != nil {
		w.err = err
		close(w.done)
		return w
	}
	go func() {
		defer close(w.done)
		defer conn.Close(context.Background())
		w.err = w.loop(ctx, conn, every)
	}()
	return w
}

func (w *walWatch) begin(ctx context.Context, conn *pgx.Conn) error {
	if err := conn.QueryRow(ctx, `SELECT current_setting('wal_init_zero'), current_setting('min_wal_size'),
		pg_size_bytes(current_setting('wal_segment_size')), (`+walCheckpointsSQL+`)`).Scan(
		&w.rep.InitZero, &w.rep.MinWALSize, &w.rep.SegmentBytes, &w.ckpt0); err != nil {
		return fmt.Errorf("wal settings: %w", err)
	}
	if w.rep.SegmentBytes <= 0 {
		return fmt.Errorf("wal_segment_size of %d bytes", w.rep.SegmentBytes)
	}
	return w.sample(ctx, conn)
}

func (w *walWatch) sample(ctx context.Context, conn *pgx.Conn) error {
	var s walSample
	if err := conn.QueryRow(ctx, walSampleSQL).Scan(&s.lsn, &s.ready); err != nil {
		return fmt.Errorf("pg_wal: %w", err)
	}
	s.seg = s.lsn / w.rep.SegmentBytes
	w.mu.Lock()
	w.samples = append(w.samples, s)
	w.mu.Unlock()
	return nil
}

func (w *walWatch) loop(ctx context.Context, conn *pgx.Conn, every time.Duration) error {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-w.stop:
			if err := w.sample(ctx, conn); err != nil {
				return err
			}
			var ck int64
			if err := conn.QueryRow(ctx, walCheckpointsSQL).Scan(&ck); err != nil {
				return fmt.Errorf("checkpoints: %w", err)
			}
			w.rep.Checkpoints = ck - w.ckpt0
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			if err := w.sample(ctx, conn); err != nil {
				return err
			}
		}
	}
}

// sampled is how many samples the loop has taken so far.
func (w *walWatch) sampled() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.samples)
}

// finish takes a last sample and returns the report; nil with an error when pg_wal could not
// be read at all.
// It may be called again (the run's early returns do): the later calls only read.
func (w *walWatch) finish() (*WALReport, error) {
	w.stopOnce.Do(func() { close(w.stop) })
	<-w.done
	if len(w.samples) < 2 {
		return nil, errors.Join(errors.New("wal: fewer than two samples of pg_wal"), w.err)
	}
	rep := w.rep
	first, last := w.samples[0], w.samples[len(w.samples)-1]
	rep.ReadyAtStart = first.ready
	rep.WrittenBytes = last.lsn - first.lsn
	rep.Created = walCreated(w.samples)
	rep.Samples = len(w.samples)
	return &rep, w.err
}

// walWarning is the report's warning when commits zero-filled segments.
func walWarning(r *WALReport) string {
	if r == nil || r.Created == 0 || r.InitZero != "on" {
		return ""
	}
	return fmt.Sprintf("WAL segments PostgreSQL created during the load: ~%d, each zero-filling %d MB inside a commit "+
		"(wal_init_zero on, %d ready at the start): expect a latency spike per segment; see ADR 0023 "+
		"(wal_init_zero = off, or a min_wal_size that keeps segments ready)",
		r.Created, r.SegmentBytes>>20, r.ReadyAtStart)
}
