package actors

import (
	"context"
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/parley-chat/parley/persistence"
)

func TestNewReceiptsValidates(t *testing.T) {
	t.Parallel()
	if _, err := NewReceipts(ReceiptsConfig{}, ReceiptsDeps{}); err == nil {
		t.Fatal("missing deps accepted")
	}
	for _, cfg := range []ReceiptsConfig{{FlushInterval: -1}, {FlushSize: -1}, {RetryInterval: -time.Second}, {FallbackMaxKeys: -5}} {
		if _, err := NewReceipts(cfg, ReceiptsDeps{}); err == nil {
			t.Fatalf("config %+v accepted", cfg)
		}
	}
}

// Read events coalesce to the newest marker per (user, channel) on their way to
// PostgreSQL; stale values recorded directly change nothing.
func TestReceiptsCoalesceIntoPostgres(t *testing.T) {
	t.Parallel()
	e := newRcptEnv(t, 20, 5, false)
	e.persister()
	r, reg := e.receipts(ReceiptsConfig{})
	ctx := context.Background()

	if err := r.Record(1, 1001, -1); err == nil {
		t.Fatal("negative seq accepted")
	}
	want := map[receiptKey]int64{}
	rng := rand.New(rand.NewPCG(3, 4))
	for seq := int64(1); seq <= 40; seq++ {
		for u := int64(1); u <= 20; u++ {
			for c := int64(1001); c <= 1005; c++ {
				v, err := r.MarkRead(ctx, u, c, seq)
				if err != nil || v != seq {
					t.Fatalf("MarkRead(%d, %d, %d) = %d, %v", u, c, seq, v, err)
				}
				// A late duplicate from another node: the aggregator and the
				// persister must not let it win.
				if rng.IntN(10) == 0 {
					if err := r.Record(u, c, seq-1); err != nil {
						t.Fatal(err)
					}
				}
				want[receiptKey{u, c, 0}] = seq
			}
		}
	}
	if v, _ := r.MarkRead(ctx, 1, 1001, 3); v != 40 {
		t.Fatalf("MarkRead behind the marker returned %d, want 40", v)
	}
	e.waitTable(20*time.Second, want)
	rcptWaitFor(t, 10*time.Second, "flushed markers to be unparked", func() bool {
		n, _ := e.markers.ParkedCount(ctx)
		return n == 0
	})
	recorded, sent := rcptMetric(t, reg, "parley_read_receipts_recorded_total"), rcptMetric(t, reg, "parley_read_receipts_kafka_sent_total")
	t.Logf("recorded %v markers, wrote %v to Kafka", recorded, sent)
	if sent >= recorded {
		t.Fatalf("no coalescing: recorded %v, sent %v", recorded, sent)
	}
}

// With a flush interval of an hour, FlushSize distinct markers flush by themselves; the
// rest leave on Shutdown.
func TestReceiptsFlushAtSizeAndOnShutdown(t *testing.T) {
	t.Parallel()
	e := newRcptEnv(t, 1250, 1, false)
	r, reg := e.receipts(ReceiptsConfig{FlushInterval: time.Hour})
	for u := int64(1); u <= 1250; u++ {
		if err := r.Record(u, 1001, 7); err != nil {
			t.Fatal(err)
		}
	}
	rcptWaitFor(t, 10*time.Second, "a flush by size", func() bool {
		return rcptMetric(t, reg, "parley_read_receipts_kafka_sent_total") >= 500
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if n := rcptMetric(t, reg, "parley_read_receipts_kafka_sent_total"); n != 1250 {
		t.Fatalf("after shutdown %v markers were sent, want 1250", n)
	}
	if err := r.Record(1, 1001, 8); !errors.Is(err, ErrReceiptsStopped) {
		t.Fatalf("Record after Shutdown: %v", err)
	}
	e.persister()
	want := map[receiptKey]int64{}
	for u := int64(1); u <= 1250; u++ {
		want[receiptKey{u, 1001, 0}] = 7
	}
	e.waitTable(20*time.Second, want)
}

// Shutdown while Kafka is down parks everything in Redis; the next node to start re-sends
// it.
func TestReceiptsShutdownParksWhenKafkaDown(t *testing.T) {
	t.Parallel()
	e := newRcptEnv(t, 30, 2, false)
	e.stopKafka()
	r, reg := e.receipts(ReceiptsConfig{})
	want := map[receiptKey]int64{}
	for u := int64(1); u <= 30; u++ {
		for c := int64(1001); c <= 1002; c++ {
			if _, err := r.MarkRead(context.Background(), u, c, u+c); err != nil {
				t.Fatal(err)
			}
			want[receiptKey{u, c, 0}] = u + c
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := r.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if n, _ := e.markers.ParkedCount(context.Background()); n != int64(len(want)) {
		t.Fatalf("%d markers parked, want %d", n, len(want))
	}
	if n := rcptMetric(t, reg, "parley_read_receipts_kafka_fallback_total"); n < float64(len(want)) {
		t.Fatalf("fallback took %v markers", n)
	}

	e.startKafka()
	e.persister()
	_, reg2 := e.receipts(ReceiptsConfig{})
	e.waitTable(20*time.Second, want)
	if n := rcptMetric(t, reg2, "parley_read_receipts_fallback_success_total"); n != float64(len(want)) {
		t.Fatalf("the new node re-sent %v parked markers, want %d", n, len(want))
	}
	rcptWaitFor(t, 10*time.Second, "the parked hash to empty", func() bool {
		n, _ := e.markers.ParkedCount(context.Background())
		return n == 0
	})
}

// The fallback panics while it holds markers: its supervisor restarts it, the new
// incarnation has the same markers, and they reach PostgreSQL once Kafka is back.
func TestReceiptsFallbackSurvivesRestart(t *testing.T) {
	t.Parallel()
	e := newRcptEnv(t, 40, 1, false)
	e.stopKafka()
	var crash fallbackCrasher
	r, reg := e.receiptsWith(ReceiptsConfig{RetryInterval: 300 * time.Millisecond, FallbackMaxKeys: 25}, crash.arm)
	want := map[receiptKey]int64{}
	for u := int64(1); u <= 40; u++ {
		if _, err := r.MarkRead(context.Background(), u, 1001, 9); err != nil {
			t.Fatal(err)
		}
		want[receiptKey{u, 1001, 0}] = 9
	}
	// 25 in memory (the bound), all 40 parked.
	rcptWaitFor(t, 10*time.Second, "the fallback to hold and park the markers", func() bool {
		n, _ := e.markers.ParkedCount(context.Background())
		return n == 40 && rcptMetric(t, reg, "parley_read_receipts_fallback_queue_size") == 25
	})

	r.met.fallbackQueue.Set(-1) // a new incarnation's Started (or the next retry) sets it back
	starts := crash.starts.Load()
	fallback := actor.NewPID(r.as.Address(), r.pid.Id+"/"+receiptFallbackName)
	r.as.Root.Send(fallback, fallbackCrash{})
	// A restarted incarnation that lost the state would report 0, not 25.
	rcptWaitFor(t, 10*time.Second, "the restarted fallback to report what it holds", func() bool {
		return crash.starts.Load() > starts && rcptMetric(t, reg, "parley_read_receipts_fallback_queue_size") == 25
	})

	e.startKafka()
	e.persister()
	e.waitTable(30*time.Second, want)
	rcptWaitFor(t, 10*time.Second, "the fallback to empty", func() bool {
		n, _ := e.markers.ParkedCount(context.Background())
		return n == 0 && rcptMetric(t, reg, "parley_read_receipts_fallback_queue_size") == 0
	})
}

// The periodic re-send leaves parked markers younger than ResendAfter alone: they are on
// their way to Kafka from a live node's aggregator. Older ones, left by a dead node, go.
func TestReceiptsResendSkipsYoungParked(t *testing.T) {
	t.Parallel()
	e := newRcptEnv(t, 2, 1, false)
	e.persister()
	ctx := context.Background()
	if _, err := e.markers.ParkReceipts(ctx, []persistence.ReadMarker{
		{UserID: 1, ChannelID: 1001, Seq: 4, ReadAt: time.Now().Add(-2 * time.Hour)},
		{UserID: 2, ChannelID: 1001, Seq: 6, ReadAt: time.Now()},
	}); err != nil {
		t.Fatal(err)
	}
	_, reg := e.receipts(ReceiptsConfig{RetryInterval: 50 * time.Millisecond, ResendAfter: time.Hour})
	e.waitTable(20*time.Second, map[receiptKey]int64{{1, 1001, 0}: 4})
	rcptWaitFor(t, 10*time.Second, "the old marker to be unparked", func() bool {
		n, _ := e.markers.ParkedCount(ctx)
		return n == 1 && rcptMetric(t, reg, "parley_read_receipts_parked") == 1
	})
	if n := rcptMetric(t, reg, "parley_read_receipts_fallback_success_total"); n != 1 {
		t.Fatalf("re-sent %v parked markers, want only the old one", n)
	}
	page, _, err := e.markers.ParkedReceipts(ctx, 0, 10)
	if err != nil || len(page) != 1 || page[0].UserID != 2 || page[0].Seq != 6 {
		t.Fatalf("parked after the re-send: %+v, %v", page, err)
	}
}
