package actors

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"
)

// Fault tests of SPEC guarantee 4 (issue 5), over channel and thread markers alike (thread
// markers take the same pipeline with the root in the key, ADR 0040). The broker is kfake; "stopped" is Close and
// "restarted" is a new broker on the same port with the same DataDir — a broker restart,
// which keeps what it acknowledged (ADR 0003 explains why an in-memory restart is not).

// The broker is down for 30 s while 10,000 read events flow (duplicates and late,
// out-of-order ones included), then restarted on the same port: every final marker in
// PostgreSQL is the highest sent, and no sample of the table ever saw one move back.
func TestReceiptsKafkaOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("30 s Kafka outage")
	}
	t.Parallel()
	const (
		events  = 10_000
		users   = 50
		chans   = 10
		outage  = 30 * time.Second
		downAt  = 2 * time.Second
		flowFor = downAt + outage + 2*time.Second
	)
	e := newRcptEnv(t, users, chans, true)
	preg := e.persister()
	r, reg := e.receipts(ReceiptsConfig{}) // the production retry interval, 5 s
	stopSampling := e.sampleMonotonic()
	ctx := context.Background()

	rng := rand.New(rand.NewPCG(5, 6))
	latest := map[receiptKey]int64{} // the newest seq each key has reached so far
	want := map[receiptKey]int64{}
	start := time.Now()
	var down, up time.Time
	for i := range events {
		if wait := time.Until(start.Add(flowFor * time.Duration(i) / events)); wait > 0 {
			time.Sleep(wait) // pacing the load, not waiting for a result
		}
		if down.IsZero() && time.Since(start) >= downAt {
			e.stopKafka()
			down = time.Now()
		}
		if !down.IsZero() && up.IsZero() && time.Since(down) >= outage {
			e.startKafka()
			up = time.Now()
		}
		k := receiptKey{int64(1 + rng.IntN(users)), int64(1001 + rng.IntN(chans)), 0}
		if rng.IntN(2) == 0 {
			k.thread = rcptRoot(k.channel)
		}
		var seq int64
		if rng.IntN(100) < 15 && latest[k] > 0 {
			// A late event (e.g. relayed by another node) behind the marker: straight to
			// the aggregator, past the Redis max-merge that would stop it.
			seq = max(0, latest[k]-int64(1+rng.IntN(5)))
			if err := r.record(k, seq); err != nil {
				t.Fatal(err)
			}
		} else {
			seq = latest[k] + int64(rng.IntN(4)) // 0: a duplicate
			latest[k] = seq
			if _, err := r.mark(ctx, k, seq); err != nil {
				t.Fatal(err)
			}
		}
		want[k] = max(want[k], seq)
	}
	if up.IsZero() {
		time.Sleep(time.Until(down.Add(outage)))
		e.startKafka()
		up = time.Now()
	}
	for k, v := range want {
		if v == 0 {
			delete(want, k) // seq 0 is "read nothing": never advanced, never written
		}
	}
	t.Logf("broker down %s; %d events over %d keys sent", up.Sub(down).Round(time.Second), events, len(want))

	e.waitTable(60*time.Second, want)
	samples := stopSampling()
	t.Logf("marker PostgreSQL caught up %s after the broker returned; %d table samples taken",
		time.Since(up).Round(100*time.Millisecond), samples)
	t.Logf("recorded %v, to Kafka %v, to fallback %v, re-sent by fallback %v, persisted %v",
		rcptMetric(t, reg, "parley_read_receipts_recorded_total"), rcptMetric(t, reg, "parley_read_receipts_kafka_sent_total"),
		rcptMetric(t, reg, "parley_read_receipts_kafka_fallback_total"), rcptMetric(t, reg, "parley_read_receipts_fallback_success_total"),
		rcptMetric(t, preg, "parley_read_receipts_persisted_total"))
	if samples < 100 {
		t.Fatalf("only %d samples of the table", samples)
	}
	if rcptMetric(t, reg, "parley_read_receipts_kafka_fallback_total") == 0 || rcptMetric(t, reg, "parley_read_receipts_fallback_success_total") == 0 {
		t.Fatal("the outage never reached the fallback")
	}
}

// A node is stopped without a drain while Kafka is down, after its fallback parked what
// Kafka refused: a node started afterwards re-sends the parked markers and they reach
// PostgreSQL.
func TestReceiptsNodeCrashDuringKafkaOutage(t *testing.T) {
	t.Parallel()
	e := newRcptEnv(t, 100, 3, false)
	e.stopKafka()
	crashed, _ := e.receipts(ReceiptsConfig{})
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(7, 8))
	want := map[receiptKey]int64{}
	for u := int64(1); u <= 100; u++ {
		for c := int64(1001); c <= 1003; c++ {
			for _, k := range []receiptKey{{u, c, 0}, {u, c, rcptRoot(c)}} {
				for range 3 {
					seq := int64(1 + rng.IntN(1000))
					if _, err := crashed.mark(ctx, k, seq); err != nil {
						t.Fatal(err)
					}
					want[k] = max(want[k], seq)
				}
			}
		}
	}
	rcptWaitFor(t, 10*time.Second, "every marker to be parked", func() bool {
		n, _ := e.markers.ParkedCount(ctx)
		return n == int64(len(want))
	})
	crashed.abort()

	e.startKafka()
	e.persister()
	_, reg := e.receipts(ReceiptsConfig{})
	e.waitTable(30*time.Second, want)
	if n := rcptMetric(t, reg, "parley_read_receipts_fallback_success_total"); n != float64(len(want)) {
		t.Fatalf("the restarted node re-sent %v markers, want %d", n, len(want))
	}
}

// Finding F3: a node is killed while the markers it acknowledged wait in its aggregator for
// the next flush (an hour away here), Kafka up. They were parked by MarkRead's own Redis
// script, so the next node re-sends them once they are older than ResendAfter.
func TestReceiptsNodeCrashBeforeFlush(t *testing.T) {
	t.Parallel()
	e := newRcptEnv(t, 20, 2, false)
	e.persister()
	ctx := context.Background()
	// What already reached Kafka is unparked: only the crash window stays parked.
	first, _ := e.receipts(ReceiptsConfig{})
	for u := int64(1); u <= 20; u++ {
		if _, err := first.MarkRead(ctx, u, 1001, 2); err != nil {
			t.Fatal(err)
		}
	}
	want := map[receiptKey]int64{}
	for u := int64(1); u <= 20; u++ {
		want[receiptKey{u, 1001, 0}] = 2
	}
	e.waitTable(20*time.Second, want)
	rcptWaitFor(t, 10*time.Second, "flushed markers to be unparked", func() bool {
		n, _ := e.markers.ParkedCount(ctx)
		return n == 0
	})
	// Stopped, so that the re-send is the next node's alone.
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := first.Shutdown(sctx); err != nil {
		t.Fatal(err)
	}

	crashed, reg := e.receipts(ReceiptsConfig{FlushInterval: time.Hour})
	for u := int64(1); u <= 20; u++ {
		for c := int64(1001); c <= 1002; c++ {
			if _, err := crashed.MarkRead(ctx, u, c, 5); err != nil {
				t.Fatal(err)
			}
			if _, err := crashed.MarkThreadRead(ctx, u, c, rcptRoot(c), 4); err != nil {
				t.Fatal(err)
			}
			want[receiptKey{u, c, 0}] = 5
			want[receiptKey{u, c, rcptRoot(c)}] = 4
		}
	}
	crashed.abort()
	if n := rcptMetric(t, reg, "parley_read_receipts_kafka_sent_total"); n != 0 {
		t.Fatalf("the crashed aggregator flushed %v markers before the kill", n)
	}
	if n, _ := e.markers.ParkedCount(ctx); n != int64(len(want)) {
		t.Fatalf("%d markers parked at the crash, want %d", n, len(want))
	}

	_, reg2 := e.receipts(ReceiptsConfig{RetryInterval: 100 * time.Millisecond, ResendAfter: 300 * time.Millisecond})
	e.waitTable(20*time.Second, want)
	rcptWaitFor(t, 10*time.Second, "the re-sent markers to be unparked", func() bool {
		n, _ := e.markers.ParkedCount(ctx)
		return n == 0
	})
	if n := rcptMetric(t, reg2, "parley_read_receipts_fallback_success_total"); n != float64(len(want)) {
		t.Fatalf("the next node re-sent %v markers, want %d", n, len(want))
	}
}
