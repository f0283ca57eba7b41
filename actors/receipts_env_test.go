package actors

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/parley-chat/parley/cluster"
	"github.com/parley-chat/parley/cluster/redistest"
	"github.com/parley-chat/parley/persistence"
	"github.com/parley-chat/parley/persistence/pgtest"
)

// rcptEnv is the whole receipt pipeline on real services: PostgreSQL and Redis of the
// machine, an embedded kfake broker that tests stop and restart on the same port.
type rcptEnv struct {
	t       *testing.T
	pool    *pgxpool.Pool
	markers *cluster.Markers
	log     *slog.Logger

	kcfg  persistence.EmbeddedKafkaConfig
	kafka *persistence.EmbeddedKafka
	addrs []string // the brokers' addresses, kept across restarts
}

func rcptLogger() *slog.Logger {
	if os.Getenv("PARLEY_TEST_VERBOSE") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// rcptRoot is the id of the thread root seeded in channel c: thread markers (ADR 0040) go
// through the same pipeline, and the fault tests mix them with channel markers.
func rcptRoot(c int64) int64 { return c + 10_000 }

// newRcptEnv seeds users 1..nUsers, channels 1001..1000+nChannels with one thread root each
// (rcptRoot) and starts a broker
// (with a DataDir when durable, so a restart keeps what it acknowledged).
func newRcptEnv(t *testing.T, nUsers, nChannels int, durable bool) *rcptEnv {
	t.Helper()
	var kcfg persistence.EmbeddedKafkaConfig
	if durable {
		kcfg.DataDir = t.TempDir()
	}
	return newRcptEnvKafka(t, nUsers, nChannels, kcfg)
}

// newRcptEnvKafka is newRcptEnv with the broker (or cluster) of kcfg.
func newRcptEnvKafka(t *testing.T, nUsers, nChannels int, kcfg persistence.EmbeddedKafkaConfig) *rcptEnv {
	t.Helper()
	pool, _ := pgtest.NewPool(t, nil)
	rdb, prefix := redistest.ModeClient(t) // PARLEY_REDIS_MODE=cluster: a Redis Cluster
	markers, err := cluster.NewMarkers(rdb, cluster.MarkersConfig{KeyPrefix: prefix + "read:", ParkedKey: prefix + "parked"})
	if err != nil {
		t.Fatal(err)
	}
	e := &rcptEnv{t: t, pool: pool, markers: markers, log: rcptLogger(), kcfg: kcfg}
	ctx := context.Background()
	users := make([]int64, nUsers)
	for i := range users {
		users[i] = int64(i + 1)
	}
	channels := make([]int64, nChannels)
	for i := range channels {
		channels[i] = int64(1001 + i)
	}
	_, err = pool.Exec(ctx, `INSERT INTO users (id, subject, username) SELECT id, 's' || id, 'u' || id FROM unnest($1::bigint[]) AS id`, users)
	if err == nil {
		_, err = pool.Exec(ctx, `INSERT INTO workspaces (id, name, created_by) VALUES (1, 'w', 1)`)
	}
	if err == nil {
		_, err = pool.Exec(ctx, `INSERT INTO channels (id, workspace_id, name, type, created_by, last_seq)
			SELECT id, 1, 'c' || id, 'public', 1, 1000000000 FROM unnest($1::bigint[]) AS id`, channels)
	}
	if err == nil {
		_, err = pool.Exec(ctx, `INSERT INTO messages (id, channel_id, seq, user_id, content)
			SELECT id + 10000, id, 1, 1, 'root' FROM unnest($1::bigint[]) AS id`, channels)
	}
	if err != nil {
		t.Fatalf("seed: %v", err)
	}
	e.startKafka()
	t.Cleanup(func() { e.stopKafka() })
	return e
}

func (e *rcptEnv) startKafka() {
	e.t.Helper()
	k, err := persistence.StartEmbeddedKafka(context.Background(), e.kcfg)
	if err != nil {
		e.t.Fatal(err)
	}
	e.kafka = k
	if e.addrs == nil {
		e.addrs = k.Addrs()
		if len(e.addrs) == 1 { // a restart binds the same port (a cluster's need not be consecutive)
			_, port, _ := net.SplitHostPort(e.addrs[0])
			e.kcfg.Port, _ = strconv.Atoi(port)
		}
	}
}

func (e *rcptEnv) stopKafka() {
	if e.kafka != nil {
		e.kafka.Close()
		e.kafka = nil
	}
}

func (e *rcptEnv) topics() persistence.ReceiptTopics {
	return persistence.ReceiptTopics{Brokers: e.addrs}
}

// receipts builds a node's aggregator with its own producer and registry, started, and
// shut down at cleanup (a no-op if the test stopped it).
func (e *rcptEnv) receipts(cfg ReceiptsConfig) (*Receipts, *prometheus.Registry) {
	e.t.Helper()
	return e.receiptsWith(cfg, nil)
}

// receiptsWith is receipts with prepare run on the Receipts before Start.
func (e *rcptEnv) receiptsWith(cfg ReceiptsConfig, prepare func(*Receipts)) (*Receipts, *prometheus.Registry) {
	e.t.Helper()
	prod, err := persistence.NewReceiptProducer(persistence.ReceiptProducerConfig{
		ReceiptTopics: e.topics(), WriteTimeout: 2 * time.Second}, e.log)
	if err != nil {
		e.t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	r, err := NewReceipts(cfg, ReceiptsDeps{Markers: e.markers, Kafka: prod, Parking: e.markers, Logger: e.log, Registerer: reg})
	if err != nil {
		e.t.Fatal(err)
	}
	if prepare != nil {
		prepare(r)
	}
	if err := r.Start(context.Background()); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = r.Shutdown(ctx)
		_ = prod.Close()
	})
	return r, reg
}

// persister runs the persister until cleanup.
func (e *rcptEnv) persister() *prometheus.Registry {
	e.t.Helper()
	reg := prometheus.NewRegistry()
	p, err := persistence.NewReceiptPersister(persistence.ReceiptPersisterConfig{
		ReceiptConsumerConfig: persistence.ReceiptConsumerConfig{ReceiptTopics: e.topics()}}, e.pool, reg, e.log)
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = p.Run(ctx)
	}()
	e.t.Cleanup(func() {
		cancel()
		<-done
		_ = p.Close()
	})
	return reg
}

// markersSQL reads every marker, channel and thread, as (user, channel, thread, seq).
const markersSQL = `SELECT user_id, channel_id, 0, last_read_seq FROM read_receipts
	UNION ALL SELECT user_id, channel_id, root_id, last_read_seq FROM thread_reads`

func (e *rcptEnv) table() map[receiptKey]int64 {
	e.t.Helper()
	rows, err := e.pool.Query(context.Background(), markersSQL)
	if err != nil {
		e.t.Fatalf("read markers: %v", err)
	}
	defer rows.Close()
	out := map[receiptKey]int64{}
	for rows.Next() {
		var k receiptKey
		var s int64
		if err := rows.Scan(&k.user, &k.channel, &k.thread, &s); err != nil {
			e.t.Fatal(err)
		}
		out[k] = s
	}
	return out
}

// waitTable polls until PostgreSQL holds exactly want.
func (e *rcptEnv) waitTable(d time.Duration, want map[receiptKey]int64) {
	e.t.Helper()
	var got map[receiptKey]int64
	ok := rcptPoll(d, func() bool {
		got = e.table()
		if len(got) != len(want) {
			return false
		}
		for k, v := range want {
			if got[k] != v {
				return false
			}
		}
		return true
	})
	if !ok {
		wrong := 0
		for k, v := range want {
			if got[k] != v {
				wrong++
			}
		}
		e.t.Fatalf("after %s PostgreSQL has %d of %d markers, %d not at the highest seq sent", d, len(got), len(want), wrong)
	}
}

// sampleMonotonic reads the table every 20 ms until stopped and fails the test if any
// marker is ever lower than in an earlier sample.
func (e *rcptEnv) sampleMonotonic() (stop func() (samples int)) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	n := 0
	wg.Go(func() {
		seen := map[receiptKey]int64{}
		for {
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
			}
			rows, err := e.pool.Query(context.Background(), markersSQL)
			if err != nil {
				continue
			}
			for rows.Next() {
				var k receiptKey
				var s int64
				if rows.Scan(&k.user, &k.channel, &k.thread, &s) != nil {
					break
				}
				if prev, ok := seen[k]; ok && s < prev {
					e.t.Errorf("marker %v moved back from %d to %d", k, prev, s)
				}
				seen[k] = s
			}
			rows.Close()
			n++
		}
	})
	var once sync.Once
	return func() int { once.Do(func() { close(done); wg.Wait() }); return n }
}

func rcptPoll(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

func rcptWaitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	if !rcptPoll(d, cond) {
		t.Fatalf("timed out after %s waiting for %s", d, what)
	}
}

// rcptMetric is a counter's or gauge's value in reg (0 if absent).
func rcptMetric(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) > 0 {
			m := mf.GetMetric()[0]
			if m.Counter != nil {
				return m.Counter.GetValue()
			}
			if m.Gauge != nil {
				return m.Gauge.GetValue()
			}
		}
	}
	return 0
}
