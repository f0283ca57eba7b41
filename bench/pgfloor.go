package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/parley-chat/parley/persistence"
)

// floorAppendSQL is the node's one-statement append (persistence.AppendStatement) for a
// batch of one: the channel's last_seq UPDATE, the message INSERT and the sender's read
// marker, committed in the statement's implicit transaction.
const floorAppendSQL = persistence.AppendStatement

// FloorRound is PostgreSQL's own commit latency for the append at the run's rate: each of
// the run's senders keeps its schedule (rate, phase, channels round-robin) against a fresh
// database of the node's server, and each channel's appends go through one connection in
// order, as the node's channel actor sends them. Latency runs from the moment the schedule's
// timer fired, the origin of parley's send→deliver, so a statement queued behind its channel's
// previous one counts its wait (like pgbench -R) but the timer's own lateness does not.
type FloorRound struct {
	Clients int         `json:"clients"`
	Rate    float64     `json:"rate"`
	Commits int64       `json:"commits"`
	Errors  int64       `json:"errors"`
	Skipped int64       `json:"skipped"`
	PerSec  float64     `json:"commitsPerSec"`
	Commit  Percentiles `json:"commit"`
	// TimerLag is how late the schedule's timer fired (not part of Commit).
	TimerLag   Percentiles `json:"timerLag"`
	FirstError string      `json:"firstError,omitempty"`
}

// pgFloor is the floor's database, made once per comparison and dropped at its end.
type pgFloor struct {
	admin, name string
	pool        *pgxpool.Pool
	// conns are held from open to close: on a server near max_connections a round must not
	// find itself without them.
	conns    []*pgxpool.Conn
	channels []int64
	nextID   atomic.Int64
}

// floorChannelBase keeps the floor's channel ids apart from the user id and workspace id.
const floorChannelBase = 1000

// openFloor creates, migrates and seeds a database beside the node's (same server, same
// schema and indexes): one user, one workspace, the run's channels.
func openFloor(ctx context.Context, nodeDB string, channels, clients int) (*pgFloor, error) {
	u, err := url.Parse(nodeDB)
	if err != nil {
		return nil, fmt.Errorf("--db-url: %w", err)
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	f := &pgFloor{admin: nodeDB, name: "parley_pgfloor_" + hex.EncodeToString(b)}
	u.Path = "/" + f.name
	logger := slog.New(slog.DiscardHandler)
	f.pool, err = persistence.OpenDB(ctx, persistence.DBConfig{URL: u.String(), CreateDatabase: true, MaxConns: int32(clients + 2)}, logger)
	if err != nil {
		return nil, fmt.Errorf("pg floor: %w", err)
	}
	if err := persistence.Migrate(ctx, f.pool, logger); err != nil {
		f.close()
		return nil, fmt.Errorf("pg floor: migrate: %w", err)
	}
	batch := &pgx.Batch{}
	batch.Queue(`INSERT INTO users (id, subject, username) VALUES (1, 'pgfloor-1', 'pgfloor')`)
	batch.Queue(`INSERT INTO workspaces (id, name, created_by) VALUES (1, 'pgfloor', 1)`)
	for k := range max(1, channels) {
		id := int64(floorChannelBase + k)
		f.channels = append(f.channels, id)
		batch.Queue(`INSERT INTO channels (id, workspace_id, name, type, created_by) VALUES ($1, 1, $2, 'public', 1)`, id, "c"+strconv.Itoa(k))
	}
	if err := f.pool.SendBatch(ctx, batch).Close(); err != nil {
		f.close()
		return nil, fmt.Errorf("pg floor: seed: %w", err)
	}
	for range max(1, min(clients, len(f.channels))) {
		c, err := f.pool.Acquire(ctx)
		if err != nil {
			f.close()
			return nil, fmt.Errorf("pg floor: %w", err)
		}
		f.conns = append(f.conns, c)
	}
	return f, nil
}

func (f *pgFloor) close() {
	for _, c := range f.conns {
		c.Release()
	}
	f.pool.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if c, err := pgx.Connect(ctx, f.admin); err == nil {
		_, _ = c.Exec(ctx, "DROP DATABASE IF EXISTS "+f.name+" WITH (FORCE)")
		_ = c.Close(ctx)
	}
}

type floorTick struct {
	at      time.Time
	channel int64
	counted bool
}

// run drives cfg's senders' schedule through clients connections for warmup + duration.
func (f *pgFloor) run(ctx context.Context, cfg *Config) (*FloorRound, error) {
	clients := len(f.conns)
	out := &FloorRound{Clients: clients, Rate: float64(cfg.Senders) * cfg.Rate}
	conns := f.conns
	start := time.Now()
	winStart := start.Add(cfg.Warmup)
	winEnd := winStart.Add(cfg.Duration)
	hist := newRecorder(clients)
	lag := newRecorder(cfg.Senders)
	queues := make([]chan floorTick, clients)
	var errs, commits, skipped atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	content := string(appendContent(nil, 0, 0, start, cfg.MessageBytes))
	for i := range queues {
		queues[i] = make(chan floorTick, 4096)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for t := range queues[i] {
				if err := f.append(ctx, conns[i].Conn(), t.channel, content); err != nil {
					errs.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				hist.record(i, time.Since(t.at), t.counted)
				if t.counted {
					commits.Add(1)
				}
			}
		}()
	}
	// One schedule per sender, as parley's: a random phase, then every 1/rate, to its channels
	// in turn; a channel's appends go to connection channel mod clients.
	var sched sync.WaitGroup
	for s := range cfg.Senders {
		chs := consecutive(cfg, s, nil)
		if len(chs) == 0 || cfg.Rate <= 0 {
			continue
		}
		sched.Add(1)
		go func() {
			defer sched.Done()
			interval := time.Duration(float64(time.Second) / cfg.Rate)
			rng := mrand.New(mrand.NewPCG(uint64(s), 11))
			next := start.Add(time.Duration(rng.Int64N(int64(interval))))
			timer := time.NewTimer(time.Hour)
			defer timer.Stop()
			for m := 0; next.Before(winEnd); m++ {
				timer.Reset(time.Until(next))
				select {
				case <-ctx.Done():
					return
				case <-timer.C:
				}
				// Timed from the moment the timer fired, as the harness's clients time a SEND
				// (client.post): from the schedule, the floor would also count the timer's lateness
				// (up to a millisecond on an idle process), which parley's figures do not.
				k := chs[m%len(chs)]
				now := time.Now()
				counted := !next.Before(winStart)
				lag.record(s, now.Sub(next), counted)
				t := floorTick{at: now, channel: f.channels[k], counted: counted}
				select {
				case queues[k%clients] <- t:
				default:
					skipped.Add(1)
				}
				next = next.Add(interval)
			}
		}()
	}
	sched.Wait()
	for _, q := range queues {
		close(q)
	}
	wg.Wait()
	out.Commits, out.Errors, out.Skipped = commits.Load(), errs.Load(), skipped.Load()
	out.PerSec = float64(out.Commits) / cfg.Duration.Seconds()
	out.Commit = percentilesOf(hist.totals())
	out.TimerLag = percentilesOf(lag.totals())
	if e, ok := firstErr.Load().(string); ok {
		out.FirstError = e
	}
	return out, ctx.Err()
}

// append runs the one-message append in channel, as the node's fast path does.
func (f *pgFloor) append(ctx context.Context, conn *pgx.Conn, channel int64, content string) error {
	id := f.nextID.Add(1)
	cmid := "f" + strconv.FormatInt(id, 10)
	var base int64
	return conn.QueryRow(ctx, floorAppendSQL, channel, 1,
		[]int64{id}, []int64{1}, []int64{1}, []string{content}, []*string{&cmid}, time.Now(),
		[]int64{1}, []int64{1}).Scan(&base)
}
