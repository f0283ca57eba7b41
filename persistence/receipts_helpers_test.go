package persistence_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/parley-chat/parley/persistence"
)

// Helpers of the read-receipt tests, prefixed rcpt so they do not collide with the other
// tests of this package.

func rcptLogger() *slog.Logger {
	if os.Getenv("PARLEY_TEST_VERBOSE") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// rcptKafka starts an embedded broker closed at cleanup.
func rcptKafka(t testing.TB, cfg persistence.EmbeddedKafkaConfig) *persistence.EmbeddedKafka {
	t.Helper()
	k, err := persistence.StartEmbeddedKafka(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(k.Close)
	return k
}

// rcptSeed inserts users 1..nUsers and channels 1001..1000+nChannels (in one workspace,
// with room for any seq) and returns their ids.
func rcptSeed(t testing.TB, pool *pgxpool.Pool, nUsers, nChannels int) (users, channels []int64) {
	t.Helper()
	ctx := context.Background()
	for i := 1; i <= nUsers; i++ {
		users = append(users, int64(i))
	}
	for i := 1; i <= nChannels; i++ {
		channels = append(channels, int64(1000+i))
	}
	_, err := pool.Exec(ctx, `INSERT INTO users (id, subject, username) SELECT id, 's' || id, 'u' || id FROM unnest($1::bigint[]) AS id`, users)
	if err == nil {
		_, err = pool.Exec(ctx, `INSERT INTO workspaces (id, name, created_by) VALUES (1, 'w', 1)`)
	}
	if err == nil {
		_, err = pool.Exec(ctx, `INSERT INTO channels (id, workspace_id, name, type, created_by, last_seq)
			SELECT id, 1, 'c' || id, 'public', 1, 1000000000000 FROM unnest($1::bigint[]) AS id`, channels)
	}
	if err != nil {
		t.Fatalf("seed: %v", err)
	}
	return users, channels
}

// rcptMarkers reads the whole read_receipts table.
func rcptMarkers(t testing.TB, pool *pgxpool.Pool) map[[2]int64]int64 {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT user_id, channel_id, last_read_seq FROM read_receipts`)
	if err != nil {
		t.Fatalf("read markers: %v", err)
	}
	out := map[[2]int64]int64{}
	for rows.Next() {
		var u, c, s int64
		if err := rows.Scan(&u, &c, &s); err != nil {
			t.Fatal(err)
		}
		out[[2]int64{u, c}] = s
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// rcptWaitFor polls cond until it holds or the deadline passes.
func rcptWaitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// rcptRun runs fn (a Run method) until cleanup, then closes with closeFn.
func rcptRun(t testing.TB, run func(context.Context) error, closeFn func() error) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := run(ctx); err != nil {
			t.Errorf("run: %v", err)
		}
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			<-done
			if err := closeFn(); err != nil {
				t.Logf("close: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// rcptTracer counts the statements a pool runs.
type rcptTracer struct {
	mu      sync.Mutex
	enabled atomic.Bool
	sqls    []string
}

func (c *rcptTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	if c.enabled.Load() {
		c.mu.Lock()
		c.sqls = append(c.sqls, d.SQL)
		c.mu.Unlock()
	}
	return ctx
}

func (c *rcptTracer) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (c *rcptTracer) statements() (all, upserts int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.sqls {
		if strings.HasPrefix(s, "INSERT INTO read_receipts") {
			upserts++
		}
	}
	return len(c.sqls), upserts
}

// rcptMetric is a counter's or gauge's value, or a histogram's sample count, in reg.
func rcptMetric(t testing.TB, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name || len(mf.GetMetric()) == 0 {
			continue
		}
		m := mf.GetMetric()[0]
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	return 0
}

// rcptSampleMonotonic reads the table every 10 ms until stopped and fails the test if a
// marker is ever lower than in an earlier sample.
func rcptSampleMonotonic(t testing.TB, pool *pgxpool.Pool) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		seen := map[[2]int64]int64{}
		for {
			select {
			case <-done:
				return
			case <-time.After(10 * time.Millisecond):
			}
			rows, err := pool.Query(context.Background(), `SELECT user_id, channel_id, last_read_seq FROM read_receipts`)
			if err != nil {
				continue // the tests that lock the table make reads fail for a while
			}
			for rows.Next() {
				var u, c, s int64
				if rows.Scan(&u, &c, &s) != nil {
					break
				}
				k := [2]int64{u, c}
				if prev, ok := seen[k]; ok && s < prev {
					t.Errorf("marker %v moved back from %d to %d", k, prev, s)
				}
				seen[k] = s
			}
			rows.Close()
		}
	})
	var once sync.Once
	return func() { once.Do(func() { close(done); wg.Wait() }) }
}
