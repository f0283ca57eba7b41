package faults

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// SPEC guarantees 3 and 4 under one steady load: Redis connections are reset mid-stream,
// then the Kafka broker goes down and comes back; then both at once. Sending never fails; nothing
// is lost or duplicated; read markers never move backwards in PostgreSQL (sampled all
// along) and each final one is the highest the client had acknowledged.
func TestRedisResetAndKafkaDown(t *testing.T) {
	requireFaults(t)
	const (
		redisReset  = 2 * time.Second
		kafkaOutage = 6 * time.Second
	)
	e := newEnv(t)
	n := startNode(t, e.nodeConfig())
	f := newFixture(t, n.base, "rk", 8, 2)
	sampler := sampleMarkers(t, e.dbURL, f.channels)
	l := startLoad(t, loadSpec{
		senders: f.users[:4], receivers: f.users[4:], channels: f.channels,
		rate: 20, readEvery: 200 * time.Millisecond, url: fixedURL(n),
	})
	defer l.close()
	pace(2 * time.Second)

	// Round 1 takes the faults one after the other; round 2 resets Redis in the middle of the
	// Kafka outage, when the receipt fallback wants to park what Kafka refused.
	var kafkaUp time.Time
	resetRedis := func() {
		removeReset := e.redisToxic(`{"name":"reset","type":"reset_peer","stream":"upstream","attributes":{"timeout":0}}`)
		pace(redisReset)
		removeReset()
	}
	resetRedis()
	pace(2 * time.Second)
	e.kafka.stop()
	pace(kafkaOutage)
	e.kafka.start()
	t.Logf("round 1: Redis reset for %s, then Kafka down for %s", redisReset, kafkaOutage)
	pace(2 * time.Second)
	e.kafka.stop()
	pace((kafkaOutage - redisReset) / 2)
	resetRedis()
	pace((kafkaOutage - redisReset) / 2)
	e.kafka.start()
	kafkaUp = time.Now()
	t.Logf("round 2: Kafka down for %s with a Redis reset for %s in the middle", kafkaOutage, redisReset)
	pace(2 * time.Second)
	l.stop()
	settled := l.settle(15 * time.Second)
	l.markFinal(20 * time.Second)
	want := l.markersWanted()
	var have map[[2]int64]int64
	caughtUp := waitFor(60*time.Second, func() bool {
		have = markersInDB(t, e.dbURL, f.channels)
		return len(markersBehind(have, want)) == 0
	})
	caughtUpAfter := time.Since(kafkaUp)
	backwards := sampler()

	v := l.judge(t, e.dbURL, nil)
	l.mu.Lock()
	readAcks, readFails := l.readAcks, fmt.Sprint(l.readFails)
	l.mu.Unlock()
	t.Logf("verdict: %s (settled=%v)", v, settled)
	t.Logf("read markers: %d acknowledged, refused %s; %d final markers, PostgreSQL caught up %s after Kafka last returned",
		readAcks, readFails, len(want), caughtUpAfter.Round(100*time.Millisecond))
	for _, name := range []string{"parley_read_receipts_kafka_fallback_total", "parley_read_receipts_fallback_success_total",
		"parley_read_receipts_kafka_sent_total", "parley_read_receipts_persisted_total", "parley_read_receipts_dlt_sent_total"} {
		s, _ := metric(n.reg, name)
		t.Logf("  %s %.0f", name, s)
	}
	v.requireClean(t)
	if v.refused+v.unanswered > 0 {
		t.Errorf("sending failed while only Redis and Kafka were out: %d refused, %d unanswered", v.refused, v.unanswered)
	}
	if !caughtUp {
		t.Errorf("read markers in PostgreSQL did not reach the acknowledged ones: %v", head(markersBehind(have, want), 10))
	}
	if len(backwards) > 0 {
		t.Errorf("read markers moved backwards in PostgreSQL: %v", head(backwards, 10))
	}
	if len(want) == 0 {
		t.Error("no read marker was acknowledged")
	}
}

// sampleMarkers reads read_receipts every 100 ms until the returned func is called, which
// returns every time a marker was seen lower than before.
func sampleMarkers(t *testing.T, dbURL string, channels []int64) (stop func() []string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	conn, err := pgx.Connect(ctx, dbURL)
	must(t, err, "connect the marker sampler")
	var wg sync.WaitGroup
	var backwards []string
	seen := map[[2]int64]int64{}
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer conn.Close(context.Background())
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			rows, err := conn.Query(ctx, `SELECT user_id, channel_id, last_read_seq FROM read_receipts WHERE channel_id = ANY($1)`, channels)
			if err != nil {
				continue
			}
			for rows.Next() {
				var u, c, s int64
				if rows.Scan(&u, &c, &s) != nil {
					continue
				}
				k := [2]int64{u, c}
				if s < seen[k] {
					backwards = append(backwards, fmt.Sprintf("user %d channel %d: %d after %d", u, c, s, seen[k]))
				}
				seen[k] = max(seen[k], s)
			}
			rows.Close()
		}
	}()
	return func() []string {
		cancel()
		wg.Wait()
		return backwards
	}
}
