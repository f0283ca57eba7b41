// Command perfnode runs one parley node in process, with net/http/pprof on a side address,
// for profiling under load from another process (`parley bench fanout --url …`). It creates
// a fresh database and drops it at exit, embeds Redis and Kafka like `parley serve`'s
// default, and raises the per-connection send limit when asked, so that a few clients can
// offer a high rate.
//
//	go run ./bench/perfnode -addr 127.0.0.1:19300 -pprof 127.0.0.1:19301 -send-rate 1000
//	go tool pprof -seconds 20 http://127.0.0.1:19301/debug/pprof/profile
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	_ "net/http/pprof" // the side address serves /debug/pprof
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/parley-chat/parley/transport"
	"github.com/parley-chat/parley/transport/api"
	"github.com/parley-chat/parley/transport/ws"
)

// options are perfnode's flags.
type options struct {
	addr, pprofAddr, pgURL, redisURL string
	redisClusterAddrs                string
	noPoller                         bool
	sendRate                         float64
	sendBurst, maxBatch, dbConns     int
	dbSendConns                      int
	coalesce                         bool
	coWriters, coChannels, coMsgs    int
	gcMinHeapMiB                     int
	gcLoadHeapMiB                    int
	blockRate, mutexFrac             int
	explain, readEventDelay          time.Duration
}

func main() {
	var o options
	flag.StringVar(&o.addr, "addr", "127.0.0.1:19300", "node's HTTP and WebSocket address")
	flag.StringVar(&o.pprofAddr, "pprof", "127.0.0.1:19301", "net/http/pprof address")
	flag.StringVar(&o.pgURL, "postgres", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", "PostgreSQL server (a fresh database is created on it and dropped at exit)")
	flag.Float64Var(&o.sendRate, "send-rate", 20, "SEND frames per second per connection")
	flag.IntVar(&o.sendBurst, "send-burst", 50, "SEND burst per connection")
	flag.IntVar(&o.maxBatch, "max-batch", 0, "group commit cap (0: default)")
	flag.BoolVar(&o.coalesce, "commit-coalesce", transport.DefaultConfig().Realtime.Coalesce.On, "parley serve's --commit-coalesce: channels ready together share one transaction (ADR 0046)")
	flag.IntVar(&o.coWriters, "coalesce-writers", 0, "the coalescer's commits in flight (0: its default)")
	flag.IntVar(&o.coChannels, "coalesce-max-channels", 0, "channels per coalesced commit (0: its default)")
	flag.IntVar(&o.coMsgs, "coalesce-max-messages", 0, "messages per coalesced commit (0: its default)")
	flag.IntVar(&o.dbConns, "db-max-conns", 16, "PostgreSQL pool size")
	flag.IntVar(&o.dbSendConns, "db-send-conns", transport.DefaultConfig().DatabaseSendConns, "parley serve's --db-send-conns: the send lane (ADR 0051; 0: commits share the pool)")
	flag.IntVar(&o.blockRate, "block-rate", 0, "runtime.SetBlockProfileRate (ns; 0: off)")
	flag.IntVar(&o.mutexFrac, "mutex-fraction", 0, "runtime.SetMutexProfileFraction (0: off)")
	memRate := flag.Int("memprofilerate", 0, "runtime.MemProfileRate (1: every allocation; 0: Go's default)")
	flag.StringVar(&o.redisClusterAddrs, "redis-cluster-addrs", "", "external Redis Cluster seeds, comma-separated host:port (instead of --redis-url; ADR 0043)")
	flag.StringVar(&o.redisURL, "redis-url", "", "external Redis (redis://host:port/db; keys under a fresh prefix); empty: embedded, like `parley serve`")
	flag.BoolVar(&o.noPoller, "no-poller", false, "read each WebSocket on a goroutine of its own (ws.Config.NoPoller)")
	flag.DurationVar(&o.explain, "explain", 0, "log the plan (auto_explain, ANALYZE, BUFFERS) of every statement slower than this to the PostgreSQL server log (0: off)")
	flag.DurationVar(&o.readEventDelay, "read-event-delay", 0, "parley serve's --read-event-delay (0: its default)")
	flag.IntVar(&o.gcMinHeapMiB, "gc-min-heap", 64, "parley serve's --gc-min-heap (MiB; 0: Go's GOGC alone)")
	flag.IntVar(&o.gcLoadHeapMiB, "gc-load-heap", 256, "parley serve's --gc-load-heap (MiB; at most -gc-min-heap: a fixed floor)")
	flag.Parse()
	if *memRate > 0 {
		runtime.MemProfileRate = *memRate
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "perfnode:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	runtime.SetBlockProfileRate(o.blockRate)
	runtime.SetMutexProfileFraction(o.mutexFrac)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	admin, err := pgx.ParseConfig(o.pgURL)
	if err != nil {
		return err
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	db := "parley_perfnode_" + hex.EncodeToString(b)
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if c, err := pgx.ConnectConfig(cctx, admin); err == nil {
			_, _ = c.Exec(cctx, "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)")
			_ = c.Close(cctx)
		}
	}()
	if err := createDB(ctx, admin, db, o.explain); err != nil {
		return err
	}
	cfg := transport.DefaultConfig()
	cfg.Addr = o.addr
	cfg.NodeID = 1
	cfg.RedisURL = o.redisURL
	if o.redisClusterAddrs != "" {
		cfg.RedisClusterAddrs = strings.Split(o.redisClusterAddrs, ",")
	}
	cfg.RedisPrefix = db + ":"
	cfg.WebSocket.NoPoller = o.noPoller
	// The harness opens tens of thousands of sockets from a few loopback addresses: the
	// per-address caps (ADR 0025) are for the internet, not for it.
	cfg.WebSocket.MaxSocketsPerIP = 1 << 20
	cfg.WebSocket.MaxUnauthenticatedPerIP = ws.DefaultMaxUnauthenticated
	cfg.DatabaseURL = fmt.Sprintf("postgres://%s@%s:%d/%s?sslmode=disable", admin.User, admin.Host, admin.Port, db)
	cfg.DatabaseMaxConns = o.dbConns
	cfg.DatabaseSendConns = o.dbSendConns
	cfg.Realtime.SendRate = o.sendRate
	cfg.Realtime.SendBurst = o.sendBurst
	cfg.Realtime.MaxBatch = o.maxBatch
	cfg.Realtime.Coalesce.On = o.coalesce
	cfg.Realtime.Coalesce.Writers = o.coWriters
	cfg.Realtime.Coalesce.MaxChannels = o.coChannels
	cfg.Realtime.Coalesce.MaxMessages = o.coMsgs
	// The setup's owner invites every user over REST (10,000 writes at 10,000 users): a
	// bench node does not limit REST writes; messages follow -send-rate.
	open := api.Limit{Rate: 1e6, Burst: 1e6}
	cfg.RateLimits = api.Limits{Writes: open, Reactions: open, Search: open, Unauthenticated: open, DevLogin: open,
		IncomingWebhook: open} // `parley bench incoming` posts every hook from one address
	if o.readEventDelay != 0 {
		cfg.WebSocket.Outbound.ReadEventDelay = o.readEventDelay
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	reg := prometheus.NewRegistry()
	if o.gcMinHeapMiB > 0 {
		floor, err := transport.StartGCFloor(transport.GCFloorConfig{MinHeapGoal: uint64(o.gcMinHeapMiB) << 20, LoadHeapGoal: uint64(o.gcLoadHeapMiB) << 20}, logger, reg)
		if err != nil {
			return err
		}
		defer floor.Stop()
	}
	srv, err := transport.New(ctx, cfg, logger, reg)
	if err != nil {
		return err
	}
	go func() { _ = http.ListenAndServe(o.pprofAddr, nil) }()
	fmt.Fprintf(os.Stderr, "perfnode: http://%s (database %s), pprof http://%s/debug/pprof\n", srv.Addr(), db, o.pprofAddr)
	return srv.Run(ctx)
}

// createDB creates the node's database, with auto_explain set on it alone when asked (the
// server's other databases are left as they are).
func createDB(ctx context.Context, admin *pgx.ConnConfig, db string, explain time.Duration) error {
	c, err := pgx.ConnectConfig(ctx, admin)
	if err != nil {
		return err
	}
	defer c.Close(context.Background())
	stmts := []string{"CREATE DATABASE " + db}
	if explain > 0 {
		stmts = append(stmts,
			"ALTER DATABASE "+db+" SET session_preload_libraries = 'auto_explain'",
			fmt.Sprintf("ALTER DATABASE %s SET auto_explain.log_min_duration = '%dms'", db, explain.Milliseconds()),
			"ALTER DATABASE "+db+" SET auto_explain.log_analyze = on",
			"ALTER DATABASE "+db+" SET auto_explain.log_buffers = on",
			"ALTER DATABASE "+db+" SET auto_explain.log_nested_statements = on")
	}
	for _, s := range stmts {
		if _, err := c.Exec(ctx, s); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
	}
	return nil
}
