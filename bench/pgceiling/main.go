// Command pgceiling measures PostgreSQL's side of the message write path with the append's
// real statements (persistence.Store.AppendMessages → appendFastSQL, AppendBatches →
// appendMultiSQL), for issue 26 and ADR 0049:
//
//	a. PostgreSQL CPU per message row at a fixed offered rate, 1, 8 and 64 rows per commit;
//	b. one channel's commit ceiling: closed loop on one channel, whose last_seq row lock
//	   serialises its commits, with several batch sizes and appenders;
//	c. one primary's ceiling over 1, 10, 100 and 1,000 channels at several appender counts,
//	   one transaction per channel (append) against one statement over many (multi).
//
// Every part runs references in the same round: SELECT 1 (a round trip), a trivial UPDATE
// commit per client (the WAL flush's ceiling with group commit) and the same UPDATE on one
// row for every client (a serialised trivial commit: what a channel's row lock leaves).
// Rounds interleave all cells. CPU is read from /proc (the server must be local and /proc
// readable): "ours" is the bench database's backends, "bg" walwriter+checkpointer+background
// writer, "server" every postgres process including exited ones and other databases' (on a
// shared machine: other agents' work too).
//
//	go run ./bench/pgceiling -rounds 3                 # all parts, ~4 min a round
//	go run ./bench/pgceiling -parts c -dur 5s -rounds 2
//	go run ./bench/pgceiling -drop                     # remove the database
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/parley-chat/parley/cluster"
	"github.com/parley-chat/parley/persistence"
)

type options struct {
	dbURL    string
	rounds   int
	parts    string
	dur      time.Duration
	rateDur  time.Duration
	rate     float64
	clients  []int
	channels []int
	batches  []int
	drop     bool
}

func main() {
	var o options
	var clients, channels, batches string
	flag.StringVar(&o.dbURL, "db-url", "postgres://postgres@127.0.0.1:5432/parley_pgceiling?sslmode=disable", "the bench's own database (created and migrated when missing)")
	flag.IntVar(&o.rounds, "rounds", 3, "interleaved rounds of every cell")
	flag.StringVar(&o.parts, "parts", "a,b,c", "parts to run: a (CPU per row, paced), b (one channel), c (many channels)")
	flag.DurationVar(&o.dur, "dur", 5*time.Second, "length of a closed-loop cell (parts b, c)")
	flag.DurationVar(&o.rateDur, "rate-dur", 10*time.Second, "length of a paced cell (part a)")
	flag.Float64Var(&o.rate, "rate", 400, "part a's offered rate, rows/s (commits/s for the references)")
	flag.StringVar(&clients, "clients", "1,8,32", "part c's appender counts (each owns a disjoint share of the channels)")
	flag.StringVar(&channels, "channels", "1,10,100,1000", "part c's channel counts")
	flag.StringVar(&batches, "batches", "1,8,64", "parts a and b's rows per commit")
	flag.BoolVar(&o.drop, "drop", false, "drop the database and exit")
	flag.Parse()
	var err error
	if o.clients, err = ints(clients); err == nil {
		if o.channels, err = ints(channels); err == nil {
			o.batches, err = ints(batches)
		}
	}
	if err == nil && o.rounds < 1 {
		err = fmt.Errorf("-rounds must be at least 1")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "pgceiling:", err)
		os.Exit(2)
	}
	if err := run(context.Background(), o); err != nil {
		fmt.Fprintln(os.Stderr, "pgceiling:", err)
		os.Exit(1)
	}
}

func ints(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("bad count %q", f)
		}
		out = append(out, n)
	}
	return out, nil
}

func run(ctx context.Context, o options) error {
	cfg, err := pgx.ParseConfig(o.dbURL)
	if err != nil {
		return err
	}
	// The monitor connects to the maintenance database, so its backend is not the bench's.
	mcfg, err := pgxpool.ParseConfig(o.dbURL)
	if err != nil {
		return err
	}
	mcfg.ConnConfig.Database, mcfg.MaxConns = "postgres", 1
	mon, err := pgxpool.NewWithConfig(ctx, mcfg)
	if err != nil {
		return err
	}
	defer mon.Close()
	if o.drop {
		_, err := mon.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{cfg.Database}.Sanitize()+" WITH (FORCE)")
		return err
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	conns := int32(max(pacedWorkers, maxOf(o.clients)) + 2)
	pool, err := persistence.OpenDB(ctx, persistence.DBConfig{URL: o.dbURL, MaxConns: conns, CreateDatabase: true}, logger)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := persistence.Migrate(ctx, pool, logger); err != nil {
		return err
	}
	ids, err := cluster.NewIDGenerator(7, nil)
	if err != nil {
		return err
	}
	apool, err := persistence.OpenDB(ctx, persistence.DBConfig{URL: withParam(o.dbURL, "options=-c%20synchronous_commit%3Doff"), MaxConns: pacedWorkers}, logger)
	if err != nil {
		return err
	}
	defer apool.Close()
	e := &env{store: persistence.NewStore(pool, ids, persistence.StoreConfig{}), pool: pool, mon: mon, db: cfg.Database,
		async: persistence.NewStore(apool, ids, persistence.StoreConfig{})}
	if err := seed(ctx, e, max(maxOf(o.channels), pacedWorkers), maxOf(o.clients)); err != nil {
		return err
	}
	for _, p := range []*pgxpool.Pool{pool, apool} {
		if err := warm(ctx, p); err != nil {
			return err
		}
	}
	if err := printSettings(ctx, mon); err != nil {
		return err
	}
	cells := plan(o)
	results := make([][]result, len(cells))
	for round := 1; round <= o.rounds; round++ {
		for i, c := range cells {
			r, err := e.run(ctx, c)
			if err != nil {
				return err
			}
			results[i] = append(results[i], r)
			fmt.Printf("round %d  %s\n", round, line(c, r))
		}
	}
	summary(cells, results)
	return nil
}

// withParam adds a query parameter to a connection URL.
func withParam(url, kv string) string {
	if strings.Contains(url, "?") {
		return url + "&" + kv
	}
	return url + "?" + kv
}

func maxOf(xs []int) int {
	m := 0
	for _, x := range xs {
		m = max(m, x)
	}
	return m
}

// plan lists the cells of one round in the order they run.
func plan(o options) []cell {
	var cells []cell
	has := func(p string) bool { return strings.Contains(o.parts, p) }
	if has("a") {
		for _, k := range []kind{kindSelect1, kindCommit} {
			cells = append(cells, cell{part: "a", kind: k, channels: pacedWorkers, clients: pacedWorkers, batch: 1, rate: o.rate, dur: o.rateDur})
		}
		for _, b := range o.batches {
			cells = append(cells, cell{part: "a", kind: kindAppend, channels: pacedWorkers, clients: pacedWorkers, batch: b, rate: o.rate, dur: o.rateDur})
		}
		// The same without waiting for the WAL flush: what synchronous_commit=on costs per row.
		cells = append(cells, cell{part: "a", kind: kindCommit, channels: pacedWorkers, clients: pacedWorkers, batch: 1, rate: o.rate, dur: o.rateDur, async: true},
			cell{part: "a", kind: kindAppend, channels: pacedWorkers, clients: pacedWorkers, batch: 1, rate: o.rate, dur: o.rateDur, async: true})
	}
	if has("b") {
		for _, cl := range []int{1, 4} {
			cells = append(cells, cell{part: "b", kind: kindCommit1, channels: 1, clients: cl, batch: 1, dur: o.dur})
			for _, b := range o.batches {
				// Several appenders on one channel: they queue on its row lock (parley's
				// channel actor keeps one append in flight; this shows more would not help).
				cells = append(cells, cell{part: "b", kind: kindAppend, channels: 1, clients: cl, batch: b, dur: o.dur})
			}
		}
	}
	if has("c") {
		for _, cl := range o.clients {
			cells = append(cells, cell{part: "c", kind: kindCommit, channels: cl, clients: cl, batch: 1, dur: o.dur})
			for _, ch := range o.channels {
				if ch < cl {
					continue // an appender per channel at most: the channel actor's rule
				}
				cells = append(cells, cell{part: "c", kind: kindAppend, channels: ch, clients: cl, batch: 1, dur: o.dur})
				if ch >= 2*cl {
					cells = append(cells, cell{part: "c", kind: kindMultiple, channels: ch, clients: cl, batch: 1, dur: o.dur})
				}
			}
		}
	}
	return cells
}

// seed makes users, one workspace, its channels and the reference table, once.
func seed(ctx context.Context, e *env, channels, users int) error {
	const base = 1 << 40 // far below any id the generator makes
	users = max(users, 32)
	b := int64(base)
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO users (id, subject, username) SELECT $1::bigint + g, 'pgceiling-' || g, 'pc' || g FROM generate_series(1, $2::int) g ON CONFLICT DO NOTHING`, []any{b, users}},
		{`INSERT INTO workspaces (id, name, created_by) VALUES ($1, 'pgceiling', $1::bigint + 1) ON CONFLICT DO NOTHING`, []any{b}},
		{`INSERT INTO channels (id, workspace_id, name, type, created_by)
		  SELECT $1::bigint + 100000 + g, $1, 'c' || g, 'public', $1::bigint + 1 FROM generate_series(1, $2::int) g ON CONFLICT DO NOTHING`, []any{b, channels}},
		{`CREATE TABLE IF NOT EXISTS pgceiling_ref (id INT PRIMARY KEY, n BIGINT NOT NULL DEFAULT 0)`, nil},
		{`INSERT INTO pgceiling_ref (id) SELECT g FROM generate_series(0, 256) g ON CONFLICT DO NOTHING`, nil},
	} {
		if _, err := e.pool.Exec(ctx, q.sql, q.args...); err != nil {
			return fmt.Errorf("seed: %w", err)
		}
	}
	for g := 1; g <= users; g++ {
		e.users = append(e.users, base+int64(g))
	}
	for g := 1; g <= channels; g++ {
		e.channels = append(e.channels, base+100000+int64(g))
	}
	return nil
}

// warm opens every connection of the pool, so that the backends exist (and are counted as
// the bench's) before the first sample.
func warm(ctx context.Context, pool *pgxpool.Pool) error {
	var held []*pgxpool.Conn
	defer func() {
		for _, c := range held {
			c.Release()
		}
	}()
	for range pool.Config().MaxConns {
		c, err := pool.Acquire(ctx)
		if err != nil {
			return err
		}
		held = append(held, c)
	}
	return nil
}

func printSettings(ctx context.Context, mon *pgxpool.Pool) error {
	rows, err := mon.Query(ctx, `SELECT name || '=' || setting FROM pg_settings WHERE name IN
		('server_version', 'synchronous_commit', 'fsync', 'wal_sync_method', 'commit_delay', 'full_page_writes', 'shared_buffers', 'max_wal_size', 'wal_level')
		ORDER BY name`)
	if err != nil {
		return err
	}
	s, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	fmt.Printf("postgres: %s\n", strings.Join(s, " "))
	return nil
}
