package faults

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/parley-chat/parley/stomp"
	"github.com/parley-chat/parley/stomp/stompclient"
)

// SPEC guarantee 1 under a PostgreSQL outage: for 10 s under load every connection to
// PostgreSQL is cut and new ones are refused. Sends must fail with a clear error (no
// RECEIPT, no 201), nothing may be half-written, and once PostgreSQL is back sending
// resumes by itself; every acknowledged message is stored and delivered exactly once.
func TestPostgresUnreachable(t *testing.T) {
	requireFaults(t)
	const outage = 10 * time.Second
	e := newEnv(t)
	n := startNode(t, e.nodeConfig())
	f := newFixture(t, n.base, "pgdown", 8, 2)
	l := startLoad(t, loadSpec{
		senders: f.users[:4], receivers: f.users[4:], channels: f.channels,
		rate: 20, restEvery: 100 * time.Millisecond, url: fixedURL(n),
	})
	defer l.close()
	l.waitAcks(t, 100, time.Time{}, 20*time.Second)

	downAt := time.Now()
	down(e.pg)
	pace(outage)
	up(t, e.pg)
	upAt := time.Now()
	resumed := l.waitAcks(t, 1, upAt, 30*time.Second)
	l.waitAcks(t, 100, upAt, 30*time.Second)
	l.stop()
	settled := l.settle(15 * time.Second)
	v := l.judge(t, e.dbURL, nil)
	t.Logf("PostgreSQL down %s; first acknowledgement %s after it returned; settled=%v",
		upAt.Sub(downAt).Round(time.Millisecond), resumed.Sub(upAt).Round(time.Millisecond), settled)
	t.Logf("verdict: %s", v)
	v.requireClean(t)

	// During the outage: no acknowledgement (a commit answered just before the cut may
	// arrive a moment after it), and every refusal says the service is unavailable.
	var duringAck, stompRefused, restRefused, restBad int
	var first, last time.Time
	badCodes := map[string]int{}
	for _, r := range l.records() {
		during := r.answered.After(downAt.Add(500*time.Millisecond)) && r.answered.Before(upAt)
		if r.result == acked && during {
			duringAck++
		}
		if r.result != refused {
			continue
		}
		if first.IsZero() || r.answered.Before(first) {
			first = r.answered
		}
		if r.answered.After(last) {
			last = r.answered
		}
		if r.rest {
			restRefused++
			if !strings.HasPrefix(r.detail, "503 application/problem+json") || r.code != "unavailable" {
				restBad++
				badCodes["rest "+r.detail+" "+r.code]++
			}
			continue
		}
		stompRefused++
		if r.code != "unavailable" {
			badCodes["stomp "+r.code+" "+r.detail]++
		}
	}
	t.Logf("refused: %d STOMP, %d REST; first refusal %s after the cut, last %s after it returned",
		stompRefused, restRefused, first.Sub(downAt).Round(time.Millisecond), last.Sub(upAt).Round(time.Millisecond))
	if duringAck > 0 {
		t.Errorf("%d sends acknowledged while PostgreSQL was unreachable", duringAck)
	}
	if stompRefused == 0 || restRefused == 0 {
		t.Errorf("the outage refused %d STOMP and %d REST sends; want both > 0", stompRefused, restRefused)
	}
	if len(badCodes) > 0 {
		t.Errorf("refusals without a clear 'unavailable' error (REST: 503 problem+json): %v", badCodes)
	}
}

// PostgreSQL slowed to 200 ms per round trip under load, with one client that never reads:
// group commit keeps the throughput up (more messages per transaction), the never-reading
// client is dropped at its bounded outbound queue, and the healthy receivers keep getting
// everything. Throughput and latencies are measured and logged, not asserted.
func TestPostgresSlow(t *testing.T) {
	requireFaults(t)
	e := newEnv(t)
	cfg := e.nodeConfig()
	cfg.WebSocket.Outbound.Queue = 128    // a small queue fills in seconds…
	cfg.Realtime.MaxBatch = 128           // (a batch must fit in a subscriber's queue)
	cfg.WebSocket.SocketSendBuffer = 8192 // …behind a small kernel buffer
	n := startNode(t, cfg)
	f := newFixture(t, n.base, "pgslow", 7, 2)

	// The client that never reads: its read goroutine blocks on the first MESSAGE.
	stalled, err := stompclient.Dial(context.Background(), n.wsURL(), stompclient.ClientOptions{Token: f.users[6].token})
	must(t, err, "dial the stalled client")
	release := make(chan struct{})
	defer func() { close(release); _ = stalled.Close() }()
	for _, c := range f.channels {
		_, err := stalled.SubscribeFunc("/topic/channel."+itoa(c), func(*stomp.Frame, time.Time) { <-release })
		must(t, err, "subscribe the stalled client")
	}

	l := startLoad(t, loadSpec{
		senders: f.users[:4], receivers: f.users[4:6], channels: f.channels,
		rate: 20, padding: 1000, url: fixedURL(n),
	})
	defer l.close()
	pace(3 * time.Second)
	batchSum0, commits0 := metric(n.reg, "parley_commit_batch_size")
	commitSec0, _ := metric(n.reg, "parley_commit_seconds")
	fastFrom, slowFrom := l.sendStart, time.Now()
	removeLatency := addToxic(t, e.pg, `{"name":"latency","type":"latency","stream":"downstream","attributes":{"latency":200}}`)
	pace(8 * time.Second)
	removeLatency()
	slowTo := time.Now()
	batchSum1, commits1 := metric(n.reg, "parley_commit_batch_size")
	commitSec1, _ := metric(n.reg, "parley_commit_seconds")
	pace(2 * time.Second)
	l.stop()
	settled := l.settle(15 * time.Second)
	v := l.judge(t, e.dbURL, nil)
	t.Logf("verdict: %s (settled=%v)", v, settled)
	v.requireClean(t)

	rate := func(from, to time.Time) float64 {
		k := 0
		for _, r := range l.records() {
			if r.result == acked && !r.answered.Before(from) && r.answered.Before(to) {
				k++
			}
		}
		return float64(k) / to.Sub(from).Seconds()
	}
	offered := 4 * 20.0
	fastBatch, slowBatch := batchSum0/max(commits0, 1), (batchSum1-batchSum0)/max(commits1-commits0, 1)
	fastCommit, slowCommit := commitSec0/max(commits0, 1), (commitSec1-commitSec0)/max(commits1-commits0, 1)
	t.Logf("offered %.0f msg/s; acknowledged %.1f msg/s before, %.1f msg/s with 200 ms latency", offered,
		rate(fastFrom.Add(500*time.Millisecond), slowFrom), rate(slowFrom.Add(2*time.Second), slowTo))
	t.Logf("group commit: %.1f msgs/transaction (%.1f ms each) before, %.1f msgs/transaction (%.0f ms each) with latency; %.0f transactions while slow",
		fastBatch, fastCommit*1000, slowBatch, slowCommit*1000, commits1-commits0)
	for _, r := range l.receivers {
		t.Logf("healthy receiver %s send→deliver: %s", r.u.name, quantiles(r.latencySnapshot()))
	}
	slow, _ := metric(n.reg, "parley_slow_consumer_disconnects_total")
	t.Logf("slow-consumer disconnects: %.0f", slow)

	if slow != 1 {
		t.Errorf("the never-reading client should have been dropped at its outbound queue once, got %.0f slow-consumer disconnects", slow)
	}
	for _, r := range l.receivers {
		if err := r.cli.Err(); err != nil {
			t.Errorf("healthy receiver %s was disconnected: %v", r.u.name, err)
		}
	}
	if slowBatch <= fastBatch {
		t.Errorf("group commit did not grow its batches under latency: %.1f before, %.1f after", fastBatch, slowBatch)
	}
}
