package actors

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/parley-chat/parley/persistence"
)

// Issue 26, ADR 0045: the receipt pipeline (Redis → aggregator → Kafka → PostgreSQL) on a
// three-broker cluster with replication factor 3 and min.insync.replicas 2. One broker —
// the persister group's coordinator, which also leads some of the partitions — stops
// under load and comes back later. Every marker MarkRead acknowledged reaches PostgreSQL
// at its highest seq, no sample of the table sees one move back, and the persister's lag
// returns to 0: no consumer is left stuck on the dead broker.
func TestReceiptsThreeBrokersOneStopsUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("a broker stopped for 8 s under load")
	}
	t.Parallel()
	const (
		events  = 6_000
		users   = 50
		chans   = 10
		downAt  = 3 * time.Second
		outage  = 8 * time.Second
		flowFor = downAt + outage + 3*time.Second
	)
	e := newRcptEnvKafka(t, users, chans, persistence.EmbeddedKafkaConfig{Brokers: 3})
	preg := e.persister()
	// Flushes every 100 ms (the default); the fallback retries every second.
	r, reg := e.receipts(ReceiptsConfig{RetryInterval: time.Second})
	stopSampling := e.sampleMonotonic()
	ctx := context.Background()

	// The coordinator the persister has joined through: stopping it moves the group too.
	// One marker through the whole pipeline first: the persister has joined its group.
	latest := map[receiptKey]int64{{1, 1001, 0}: 1}
	if _, err := r.MarkRead(ctx, 1, 1001, 1); err != nil {
		t.Fatal(err)
	}
	e.waitTable(30*time.Second, latest)
	victim := e.kafka.CoordinatorOf(persistence.DefaultPersisterGroup)
	if victim < 0 {
		t.Fatal("no coordinator for the persister's group")
	}

	rng := rand.New(rand.NewPCG(26, 45))
	start := time.Now()
	var down, up time.Time
	for i := range events {
		if wait := time.Until(start.Add(flowFor * time.Duration(i) / events)); wait > 0 {
			time.Sleep(wait) // pacing the load, not waiting for a result
		}
		if down.IsZero() && time.Since(start) >= downAt {
			if err := e.kafka.StopBroker(victim); err != nil {
				t.Fatal(err)
			}
			down = time.Now()
		}
		if !down.IsZero() && up.IsZero() && time.Since(down) >= outage {
			if err := e.kafka.StartBroker(victim); err != nil {
				t.Fatal(err)
			}
			up = time.Now()
		}
		k := receiptKey{int64(1 + rng.IntN(users)), int64(1001 + rng.IntN(chans)), 0}
		seq := latest[k] + int64(1+rng.IntN(3))
		if _, err := r.MarkRead(ctx, k.user, k.channel, seq); err != nil {
			t.Fatal(err) // MarkRead acknowledges once Redis has it; Kafka is behind it
		}
		latest[k] = seq
	}
	if up.IsZero() {
		t.Fatal("the load ended before the broker came back")
	}
	t.Logf("broker %d of 3 down %s; %d acknowledged events over %d keys", victim, up.Sub(down).Round(100*time.Millisecond), events, len(latest))

	e.waitTable(60*time.Second, latest)
	samples := stopSampling()
	rcptWaitFor(t, 30*time.Second, "the persister's lag to return to 0", func() bool {
		return e.kafka.Lag(persistence.DefaultPersisterGroup, persistence.DefaultReceiptTopic) == 0
	})
	t.Logf("PostgreSQL caught up %s after the broker returned; %d table samples", time.Since(up).Round(100*time.Millisecond), samples)
	t.Logf("recorded %v, to Kafka %v, to fallback %v, re-sent by fallback %v, persisted %v",
		rcptMetric(t, reg, "parley_read_receipts_recorded_total"), rcptMetric(t, reg, "parley_read_receipts_kafka_sent_total"),
		rcptMetric(t, reg, "parley_read_receipts_kafka_fallback_total"), rcptMetric(t, reg, "parley_read_receipts_fallback_success_total"),
		rcptMetric(t, preg, "parley_read_receipts_persisted_total"))
	if n, err := e.markers.ParkedCount(ctx); err != nil || n != 0 {
		t.Fatalf("%d markers still parked (%v)", n, err)
	}
}

// Two of three brokers down: fewer in-sync replicas than min.insync.replicas 2, so every
// acks=all write is refused (NOT_ENOUGH_REPLICAS, which the embedded cluster answers as a
// real one does). Acknowledged markers wait in Redis; once a second broker is back they
// all reach PostgreSQL and nothing stays parked.
func TestReceiptsBelowMinInsyncReplicasWaitInRedis(t *testing.T) {
	t.Parallel()
	e := newRcptEnvKafka(t, 20, 3, persistence.EmbeddedKafkaConfig{Brokers: 3})
	e.persister()
	r, reg := e.receipts(ReceiptsConfig{RetryInterval: 500 * time.Millisecond})
	ctx := context.Background()
	for _, b := range []int{0, 1} {
		if err := e.kafka.StopBroker(b); err != nil {
			t.Fatal(err)
		}
	}
	want := map[receiptKey]int64{}
	for u := int64(1); u <= 20; u++ {
		for c := int64(1001); c <= 1003; c++ {
			if _, err := r.MarkRead(ctx, u, c, u+c); err != nil {
				t.Fatal(err)
			}
			want[receiptKey{u, c, 0}] = u + c
		}
	}
	rcptWaitFor(t, 20*time.Second, "Kafka to refuse the markers", func() bool {
		return rcptMetric(t, reg, "parley_read_receipts_kafka_fallback_total") >= float64(len(want))
	})
	if n := len(e.table()); n != 0 {
		t.Fatalf("%d markers reached PostgreSQL with one broker of three", n)
	}
	if n, err := e.markers.ParkedCount(ctx); err != nil || n != int64(len(want)) {
		t.Fatalf("%d parked (%v), want %d", n, err, len(want))
	}
	if err := e.kafka.StartBroker(1); err != nil {
		t.Fatal(err)
	}
	e.waitTable(30*time.Second, want)
	rcptWaitFor(t, 10*time.Second, "nothing left parked", func() bool {
		n, _ := e.markers.ParkedCount(ctx)
		return n == 0
	})
}
