package persistence_test

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/parley-chat/parley/persistence"
	"github.com/parley-chat/parley/persistence/pgtest"
)

func rcptProducer(t testing.TB, brokers []string) *persistence.ReceiptProducer {
	t.Helper()
	p, err := persistence.NewReceiptProducer(persistence.ReceiptProducerConfig{
		ReceiptTopics: persistence.ReceiptTopics{Brokers: brokers}}, rcptLogger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

func rcptSend(t testing.TB, p *persistence.ReceiptProducer, ms []persistence.ReadMarker) {
	t.Helper()
	if err := p.SendReceipts(context.Background(), ms); err != nil {
		t.Fatal(err)
	}
}

// A batch of 500 events with duplicates and out-of-order seqs is one statement, which
// writes the highest seq of each key.
func TestReceiptPersisterOneStatementPer500Events(t *testing.T) {
	t.Parallel()
	tracer := &rcptTracer{}
	pool, _ := pgtest.NewPool(t, tracer)
	users, channels := rcptSeed(t, pool, 50, 2)
	k := rcptKafka(t, persistence.EmbeddedKafkaConfig{})

	var events []persistence.ReadMarker
	want := map[[2]int64]int64{}
	for _, u := range users {
		for _, c := range channels {
			for s := range int64(5) { // 100 keys × 5 events: seqs 1..5, shuffled below
				events = append(events, persistence.ReadMarker{UserID: u, ChannelID: c, Seq: s + 1, ReadAt: time.Now()})
			}
			want[[2]int64{u, c}] = 5
		}
	}
	rand.Shuffle(len(events), func(i, j int) { events[i], events[j] = events[j], events[i] })
	if len(events) != 500 {
		t.Fatalf("%d events", len(events))
	}
	rcptSend(t, rcptProducer(t, k.Addrs()), events)

	reg := prometheus.NewRegistry()
	cfg := persistence.ReceiptPersisterConfig{ReceiptConsumerConfig: persistence.ReceiptConsumerConfig{
		ReceiptTopics: persistence.ReceiptTopics{Brokers: k.Addrs()}, BatchWait: 3 * time.Second}}
	p, err := persistence.NewReceiptPersister(cfg, pool, reg, rcptLogger())
	if err != nil {
		t.Fatal(err)
	}
	tracer.enabled.Store(true)
	rcptRun(t, p.Run, p.Close)

	rcptWaitFor(t, 20*time.Second, "the batch to be persisted", func() bool {
		return rcptMetric(t, reg, "parley_read_receipts_persisted_total") == 100
	})
	tracer.enabled.Store(false)
	all, upserts := tracer.statements()
	if all != 1 || upserts != 1 {
		t.Fatalf("500 events took %d statements (%d upserts), want exactly 1", all, upserts)
	}
	if got := rcptMetric(t, reg, "parley_read_receipts_batch_size"); got != 1 {
		t.Fatalf("batch histogram count %v", got)
	}
	got := rcptMarkers(t, pool)
	if len(got) != len(want) {
		t.Fatalf("%d rows, want %d", len(got), len(want))
	}
	for key, w := range want {
		if got[key] != w {
			t.Fatalf("marker %v = %d, want %d", key, got[key], w)
		}
	}
}

// Duplicates and out-of-order events, across many small batches, never move a marker
// back: sampled while the persister works, and at the end.
func TestReceiptPersisterNeverMovesBack(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewPool(t, nil)
	users, channels := rcptSeed(t, pool, 10, 3)
	ctx := context.Background()
	// Some markers are ahead of everything the stream will carry.
	if _, err := pool.Exec(ctx, `INSERT INTO read_receipts (user_id, channel_id, last_read_seq) VALUES (1, 1001, 500), (2, 1002, 500)`); err != nil {
		t.Fatal(err)
	}
	k := rcptKafka(t, persistence.EmbeddedKafkaConfig{})
	prod := rcptProducer(t, k.Addrs())

	want := map[[2]int64]int64{{1, 1001}: 500, {2, 1002}: 500}
	rng := rand.New(rand.NewPCG(1, 2))
	var events []persistence.ReadMarker
	for range 3000 {
		u, c := users[rng.IntN(len(users))], channels[rng.IntN(len(channels))]
		s := int64(rng.IntN(300))
		events = append(events, persistence.ReadMarker{UserID: u, ChannelID: c, Seq: s, ReadAt: time.Now()})
		want[[2]int64{u, c}] = max(want[[2]int64{u, c}], s)
	}

	cfg := persistence.ReceiptPersisterConfig{ReceiptConsumerConfig: persistence.ReceiptConsumerConfig{
		ReceiptTopics: persistence.ReceiptTopics{Brokers: k.Addrs()}, MaxBatch: 7, BatchWait: 5 * time.Millisecond}}
	p, err := persistence.NewReceiptPersister(cfg, pool, nil, rcptLogger())
	if err != nil {
		t.Fatal(err)
	}
	rcptRun(t, p.Run, p.Close)

	stopSampling := rcptSampleMonotonic(t, pool)
	for i := 0; i < len(events); i += 100 {
		rcptSend(t, prod, events[i:i+100])
	}
	rcptWaitFor(t, 30*time.Second, "every marker to reach its maximum", func() bool {
		got := rcptMarkers(t, pool)
		for key, w := range want {
			if w > 0 && got[key] != w {
				return false
			}
		}
		return true
	})
	stopSampling()
	for key, v := range rcptMarkers(t, pool) {
		if v != want[key] {
			t.Fatalf("marker %v = %d, want %d", key, v, want[key])
		}
	}
}
