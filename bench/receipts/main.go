// Command receipts measures the read-receipt pipeline end to end on real PostgreSQL and
// Redis and an in-process kfake broker: read events (Redis max-merge, aggregator, Kafka,
// persister) per second, database statements and rows per event, and the event-to-
// PostgreSQL lag. It creates a database of its own and drops it at the end.
//
//	go run ./bench/receipts -duration 20s -users 2000 -channels 5 [-brokers 3]
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	mrand "math/rand/v2"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/parley-chat/parley/actors"
	"github.com/parley-chat/parley/cluster"
	"github.com/parley-chat/parley/persistence"
)

type options struct {
	pgServer, redisAddr string
	duration            time.Duration
	users, channels     int
	workers             int
	rate                int
	brokers             int
}

func main() {
	var o options
	flag.StringVar(&o.pgServer, "pg", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", "PostgreSQL server (a bench database is created there)")
	flag.StringVar(&o.redisAddr, "redis", "127.0.0.1:6379", "Redis host:port")
	flag.DurationVar(&o.duration, "duration", 20*time.Second, "how long read events are offered")
	flag.IntVar(&o.users, "users", 2000, "distinct readers")
	flag.IntVar(&o.channels, "channels", 5, "channels each reader reads (keys = users × channels)")
	flag.IntVar(&o.workers, "workers", 16, "concurrent event sources")
	flag.IntVar(&o.rate, "rate", 0, "target read events/s in total; 0: as fast as they go")
	flag.IntVar(&o.brokers, "brokers", 1, "kfake brokers; 3 or more: topics with replication factor 3, min.insync.replicas 2 (ADR 0045)")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "receipts bench:", err)
		os.Exit(1)
	}
}

// tracer counts the persister's statements.
type tracer struct{ upserts, all atomic.Int64 }

func (t *tracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	t.all.Add(1)
	if strings.HasPrefix(d.SQL, "INSERT INTO read_receipts") {
		t.upserts.Add(1)
	}
	return ctx
}

func (*tracer) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func run(o options) error {
	ctx := context.Background()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	name := "parley_bench_" + hex.EncodeToString(suffix)

	dbURL, drop, err := createDatabase(ctx, o.pgServer, name)
	if err != nil {
		return err
	}
	defer drop()
	seedPool, err := persistence.OpenDB(ctx, persistence.DBConfig{URL: dbURL}, logger)
	if err != nil {
		return err
	}
	defer seedPool.Close()
	if err := persistence.Migrate(ctx, seedPool, logger); err != nil {
		return err
	}
	if err := seed(ctx, seedPool, o.users, o.channels); err != nil {
		return err
	}
	tr := &tracer{}
	pool, err := persistence.OpenDB(ctx, persistence.DBConfig{URL: dbURL, Tracer: tr}, logger)
	if err != nil {
		return err
	}
	defer pool.Close()

	rdb := redis.NewClient(&redis.Options{Addr: o.redisAddr, PoolSize: 4 * o.workers})
	defer rdb.Close()
	prefix := "bench:" + hex.EncodeToString(suffix) + ":"
	defer cleanRedis(rdb, prefix)
	markers, err := cluster.NewMarkers(rdb, cluster.MarkersConfig{KeyPrefix: prefix + "read:", ParkedKey: prefix + "parked"})
	if err != nil {
		return err
	}

	k, err := persistence.StartEmbeddedKafka(ctx, persistence.EmbeddedKafkaConfig{Brokers: o.brokers})
	if err != nil {
		return err
	}
	defer k.Close()
	topics := persistence.ReceiptTopics{Brokers: k.Addrs()}
	preg := prometheus.NewRegistry()
	p, err := persistence.NewReceiptPersister(persistence.ReceiptPersisterConfig{
		ReceiptConsumerConfig: persistence.ReceiptConsumerConfig{ReceiptTopics: topics}}, pool, preg, logger)
	if err != nil {
		return err
	}
	pctx, stopPersister := context.WithCancel(ctx)
	pdone := make(chan struct{})
	go func() { defer close(pdone); _ = p.Run(pctx) }()
	defer func() { stopPersister(); <-pdone; _ = p.Close() }()

	prod, err := persistence.NewReceiptProducer(persistence.ReceiptProducerConfig{ReceiptTopics: topics}, logger)
	if err != nil {
		return err
	}
	defer prod.Close()
	areg := prometheus.NewRegistry()
	rc, err := actors.NewReceipts(actors.ReceiptsConfig{}, actors.ReceiptsDeps{
		Markers: markers, Kafka: prod, Parking: markers, Logger: logger, Registerer: areg})
	if err != nil {
		return err
	}
	if err := rc.Start(ctx); err != nil {
		return err
	}

	// Each event advances one reader's marker in one channel by one message, as a client
	// does while messages arrive in the channel it shows.
	keys := o.users * o.channels
	seqs := make([]atomic.Int64, keys)
	var events atomic.Int64
	start := time.Now()
	end := start.Add(o.duration)
	var wg sync.WaitGroup
	for w := range o.workers {
		wg.Go(func() {
			rng := mrand.New(mrand.NewPCG(uint64(w), 42))
			var perWorker time.Duration
			if o.rate > 0 {
				perWorker = time.Duration(float64(time.Second) * float64(o.workers) / float64(o.rate))
			}
			next := time.Now()
			for time.Now().Before(end) {
				if perWorker > 0 {
					next = next.Add(perWorker)
					time.Sleep(time.Until(next))
				}
				i := rng.IntN(keys)
				seq := seqs[i].Add(1)
				u, c := int64(1+i/o.channels), int64(100_001+i%o.channels)
				if _, err := rc.MarkRead(ctx, u, c, seq); err != nil {
					fmt.Fprintln(os.Stderr, "mark read:", err)
					return
				}
				events.Add(1)
			}
		})
	}
	wg.Wait()
	offered := time.Since(start)
	n := events.Load()

	// Caught up: every key's row holds its last seq.
	caught := time.Time{}
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		var behind int64
		if err := seedPool.QueryRow(ctx, `SELECT $1::bigint - count(*) FILTER (WHERE last_read_seq = expected) FROM read_receipts r
			JOIN unnest($2::bigint[], $3::bigint[], $4::bigint[]) AS e(u, c, expected) ON r.user_id = e.u AND r.channel_id = e.c`,
			int64(touched(seqs)), keyUsers(seqs, o.channels), keyChannels(seqs, o.channels), keySeqs(seqs)).Scan(&behind); err != nil {
			return err
		}
		if behind == 0 {
			caught = time.Now()
			break
		}
	}
	if caught.IsZero() {
		return fmt.Errorf("PostgreSQL did not catch up within 2 minutes")
	}
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_ = rc.Shutdown(sctx)

	persisted := metricValue(preg, "parley_read_receipts_persisted_total")
	sent := metricValue(areg, "parley_read_receipts_kafka_sent_total")
	fmt.Printf("machine: %d CPUs (%s/%s), %s\n", runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, time.Now().UTC().Format("2006-01-02"))
	fmt.Printf("workload: %d readers × %d channels = %d keys, %d workers, %s offered\n", o.users, o.channels, keys, o.workers, o.duration)
	fmt.Printf("read events: %d in %s = %.0f events/s offered\n", n, offered.Round(time.Millisecond), float64(n)/offered.Seconds())
	fmt.Printf("end to end (first event → PostgreSQL holds every last marker): %s = %.0f events/s; caught up %s after the load stopped\n",
		caught.Sub(start).Round(time.Millisecond), float64(n)/caught.Sub(start).Seconds(), caught.Sub(start.Add(offered)).Round(time.Millisecond))
	fmt.Printf("aggregator → Kafka: %.0f markers (%.3f per event)\n", sent, sent/float64(n))
	fmt.Printf("database: %d upsert statements (%.5f per event, %.0f events per statement), %.0f rows written (%.3f per event: %.0f%% fewer writes than one per event), %d statements in all\n",
		tr.upserts.Load(), float64(tr.upserts.Load())/float64(n), float64(n)/float64(tr.upserts.Load()),
		persisted, persisted/float64(n), 100*(1-persisted/float64(n)), tr.all.Load())
	p50, p95, p99 := histQuantile(preg, "parley_read_receipts_lag_seconds", 0.5), histQuantile(preg, "parley_read_receipts_lag_seconds", 0.95), histQuantile(preg, "parley_read_receipts_lag_seconds", 0.99)
	fmt.Printf("event → PostgreSQL lag (histogram_quantile over the persister's buckets): P50 %s, P95 %s, P99 %s\n",
		dur(p50), dur(p95), dur(p99))
	return nil
}

func dur(s float64) time.Duration {
	return time.Duration(s * float64(time.Second)).Round(time.Millisecond)
}

func touched(seqs []atomic.Int64) int {
	n := 0
	for i := range seqs {
		if seqs[i].Load() > 0 {
			n++
		}
	}
	return n
}

func keyUsers(seqs []atomic.Int64, channels int) []int64 {
	var out []int64
	for i := range seqs {
		if seqs[i].Load() > 0 {
			out = append(out, int64(1+i/channels))
		}
	}
	return out
}

func keyChannels(seqs []atomic.Int64, channels int) []int64 {
	var out []int64
	for i := range seqs {
		if seqs[i].Load() > 0 {
			out = append(out, int64(100_001+i%channels))
		}
	}
	return out
}

func keySeqs(seqs []atomic.Int64) []int64 {
	var out []int64
	for i := range seqs {
		if v := seqs[i].Load(); v > 0 {
			out = append(out, v)
		}
	}
	return out
}

func createDatabase(ctx context.Context, server, name string) (string, func(), error) {
	cfg, err := pgx.ParseConfig(server)
	if err != nil {
		return "", nil, err
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return "", nil, fmt.Errorf("connect to %s: %w", server, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", nil, err
	}
	drop := func() {
		c, err := pgx.ConnectConfig(context.Background(), cfg)
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		_, _ = c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	}
	return fmt.Sprintf("postgres://%s@%s:%d/%s?sslmode=disable", cfg.User, cfg.Host, cfg.Port, name), drop, nil
}

func seed(ctx context.Context, pool *pgxpool.Pool, users, channels int) error {
	if _, err := pool.Exec(ctx, `INSERT INTO users (id, subject, username) SELECT id, 's' || id, 'u' || id FROM generate_series(1, $1::bigint) AS id`, users); err != nil {
		return err
	}
	if _, err := pool.Exec(ctx, `INSERT INTO workspaces (id, name, created_by) VALUES (1, 'bench', 1)`); err != nil {
		return err
	}
	_, err := pool.Exec(ctx, `INSERT INTO channels (id, workspace_id, name, type, created_by, last_seq)
		SELECT 100000 + i, 1, 'c' || i, 'public', 1, 1000000000 FROM generate_series(1, $1::bigint) AS i`, channels)
	return err
}

func cleanRedis(rdb *redis.Client, prefix string) {
	ctx := context.Background()
	iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		rdb.Del(ctx, iter.Val())
	}
}

func metricValue(reg *prometheus.Registry, name string) float64 {
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) > 0 && mf.GetMetric()[0].Counter != nil {
			return mf.GetMetric()[0].Counter.GetValue()
		}
	}
	return 0
}

// histQuantile interpolates linearly inside the bucket, as PromQL's histogram_quantile.
func histQuantile(reg *prometheus.Registry, name string, q float64) float64 {
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) > 0 && mf.GetMetric()[0].Histogram.GetSampleCount() > 0 {
			return quantile(mf.GetMetric()[0].Histogram.GetBucket(), mf.GetMetric()[0].Histogram.GetSampleCount(), q)
		}
	}
	return math.NaN()
}

func quantile[B interface {
	GetCumulativeCount() uint64
	GetUpperBound() float64
}](buckets []B, count uint64, q float64) float64 {
	rank := q * float64(count)
	prevBound, prevCount := 0.0, 0.0
	for _, b := range buckets {
		c := float64(b.GetCumulativeCount())
		if c >= rank {
			if c == prevCount {
				return b.GetUpperBound()
			}
			return prevBound + (b.GetUpperBound()-prevBound)*(rank-prevCount)/(c-prevCount)
		}
		prevBound, prevCount = b.GetUpperBound(), c
	}
	return prevBound
}
