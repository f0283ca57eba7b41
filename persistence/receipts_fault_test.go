package persistence_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/parley-chat/parley/cluster"
	"github.com/parley-chat/parley/cluster/redistest"
	"github.com/parley-chat/parley/persistence"
	"github.com/parley-chat/parley/persistence/pgtest"
)

// rcptLockTable holds an ACCESS EXCLUSIVE lock on read_receipts until the returned
// release is called: every write to it waits, and times out — a database that is there
// but does not answer.
func rcptLockTable(t testing.TB, url string) (release func()) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := conn.Begin(ctx)
	if err == nil {
		_, err = tx.Exec(ctx, `LOCK TABLE read_receipts IN ACCESS EXCLUSIVE MODE`)
	}
	if err != nil {
		t.Fatal(err)
	}
	done := false
	release = func() {
		if !done {
			done = true
			_ = tx.Rollback(ctx)
			_ = conn.Close(ctx)
		}
	}
	t.Cleanup(release)
	return release
}

// rcptLockWaiters counts the sessions waiting for the table lock.
func rcptLockWaiters(t testing.TB, pool *pgxpool.Pool) int {
	var n int
	if err := pool.QueryRow(context.Background(),
		`SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 'read_receipts'::regclass`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// The database refuses the persister's batches → they go to the DLT (and are committed),
// the DLT consumer keeps retrying, and once the database answers again it writes each
// key's newest value from Redis — newer than what the events carried.
func TestReceiptPersisterDBFailureDLTReconcilesFromRedis(t *testing.T) {
	t.Parallel()
	pool, url := pgtest.NewPool(t, nil)
	users, channels := rcptSeed(t, pool, 20, 2)
	rdb, prefix := redistest.ModeClient(t) // PARLEY_REDIS_MODE=cluster: a Redis Cluster
	markers, err := cluster.NewMarkers(rdb, cluster.MarkersConfig{KeyPrefix: prefix + "read:", ParkedKey: prefix + "parked"})
	if err != nil {
		t.Fatal(err)
	}
	k := rcptKafka(t, persistence.EmbeddedKafkaConfig{})
	ctx := context.Background()

	consumer := persistence.ReceiptConsumerConfig{
		ReceiptTopics: persistence.ReceiptTopics{Brokers: k.Addrs()},
		WriteTimeout:  300 * time.Millisecond, RetryBackoff: 50 * time.Millisecond, MaxBackoff: 300 * time.Millisecond,
	}
	preg, dreg := prometheus.NewRegistry(), prometheus.NewRegistry()
	p, err := persistence.NewReceiptPersister(persistence.ReceiptPersisterConfig{ReceiptConsumerConfig: consumer, DBAttempts: 2}, pool, preg, rcptLogger())
	if err != nil {
		t.Fatal(err)
	}
	d, err := persistence.NewReceiptDLTConsumer(persistence.ReceiptDLTConfig{ReceiptConsumerConfig: consumer}, pool, markers, dreg, rcptLogger())
	if err != nil {
		t.Fatal(err)
	}
	release := rcptLockTable(t, url)
	rcptRun(t, p.Run, p.Close)
	rcptRun(t, d.Run, d.Close)

	// Events carry seq 10; Redis has seen 10 and then 15, whose event never made it.
	var events []persistence.ReadMarker
	want := map[[2]int64]int64{}
	for _, u := range users {
		for _, c := range channels {
			events = append(events, persistence.ReadMarker{UserID: u, ChannelID: c, Seq: 10, ReadAt: time.Now()})
			for _, s := range []int64{10, 15} {
				if _, _, err := markers.SetMax(ctx, u, c, s); err != nil {
					t.Fatal(err)
				}
			}
			want[[2]int64{u, c}] = 15
		}
	}
	rcptSend(t, rcptProducer(t, k.Addrs()), events)

	rcptWaitFor(t, 30*time.Second, "the batches to reach the DLT", func() bool {
		return rcptMetric(t, preg, "parley_read_receipts_dlt_sent_total") == float64(len(events))
	})
	rcptWaitFor(t, 30*time.Second, "a failed reconciliation attempt", func() bool {
		return rcptMetric(t, dreg, "parley_read_receipts_dlt_failed_total") > 0
	})
	if n := rcptMetric(t, preg, "parley_read_receipts_persisted_total"); n != 0 {
		t.Fatalf("persisted %v markers through a locked table", n)
	}
	release()

	rcptWaitFor(t, 30*time.Second, "PostgreSQL to reach the Redis values", func() bool {
		got := rcptMarkers(t, pool)
		for key, w := range want {
			if got[key] != w {
				return false
			}
		}
		return true
	})
	if n := rcptMetric(t, dreg, "parley_read_receipts_dlt_reconciled_total"); n < float64(len(want)) {
		t.Fatalf("dlt reconciled %v, want >= %d", n, len(want))
	}
}

// A persister stopped before its write commits leaves the offsets uncommitted: the next
// member of the group reads the batch again and writes it.
func TestReceiptPersisterRestartRereadsUncommitted(t *testing.T) {
	t.Parallel()
	pool, url := pgtest.NewPool(t, nil)
	users, channels := rcptSeed(t, pool, 10, 1)
	k := rcptKafka(t, persistence.EmbeddedKafkaConfig{})
	cfg := persistence.ReceiptPersisterConfig{
		ReceiptConsumerConfig: persistence.ReceiptConsumerConfig{
			ReceiptTopics: persistence.ReceiptTopics{Brokers: k.Addrs()},
			WriteTimeout:  time.Minute, // waits on the lock, never gives up by itself
		},
		DBAttempts: 100,
	}
	release := rcptLockTable(t, url)
	first, err := persistence.NewReceiptPersister(cfg, pool, nil, rcptLogger())
	if err != nil {
		t.Fatal(err)
	}
	stopFirst := rcptRun(t, first.Run, first.Close)

	var events []persistence.ReadMarker
	for _, u := range users {
		events = append(events, persistence.ReadMarker{UserID: u, ChannelID: channels[0], Seq: u * 3, ReadAt: time.Now()})
	}
	rcptSend(t, rcptProducer(t, k.Addrs()), events)
	rcptWaitFor(t, 20*time.Second, "the first persister to block on the table", func() bool {
		return rcptLockWaiters(t, pool) > 0
	})
	stopFirst() // its write is cancelled; nothing was committed
	release()

	second, err := persistence.NewReceiptPersister(cfg, pool, nil, rcptLogger())
	if err != nil {
		t.Fatal(err)
	}
	rcptRun(t, second.Run, second.Close)
	rcptWaitFor(t, 30*time.Second, "the second persister to write the batch", func() bool {
		return len(rcptMarkers(t, pool)) == len(events)
	})
	for key, v := range rcptMarkers(t, pool) {
		if v != key[0]*3 {
			t.Fatalf("marker %v = %d", key, v)
		}
	}
}
