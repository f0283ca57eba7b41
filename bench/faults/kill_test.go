package faults

import (
	"context"
	"fmt"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/parley-chat/parley/stomp/stompclient"
)

// SPEC guarantees 1, 2 and 4 across a crash: two nodes share PostgreSQL, Redis (the bus)
// and Kafka, with senders and receivers on both; one node is killed with SIGKILL under
// load. Its clients reconnect to the other node, receivers with since-seq, senders go on.
// Zero acknowledged messages may be lost and zero duplicated; every committed message —
// also those the dead node committed without answering — reaches every receiver; the read
// markers acknowledged by either node reach PostgreSQL.
func TestSIGKILLFailover(t *testing.T) {
	requireFaults(t)
	e := newEnv(t)
	// The killed node is `parley serve` (a child process: SIGKILL needs one), the survivor
	// runs in-process; both use the test's Redis prefix.
	a := e.startChild(t, int(nextNodeID.Add(1)))
	cfg := e.nodeConfig()
	b := startNode(t, cfg)
	f := newFixture(t, b.base, "kill", 8, 2)

	var aDead atomic.Bool
	url := func(i int) (string, string) {
		if i%2 == 0 && !aDead.Load() {
			return a.wsURL(), a.base
		}
		return b.wsURL(), b.base
	}
	l := startLoad(t, loadSpec{
		senders: f.users[:4], receivers: f.users[4:], channels: f.channels,
		rate: 20, readEvery: 100 * time.Millisecond, url: url, resume: true, resend: true,
		answerTimeout: 10 * time.Second,
	})
	defer l.close()
	l.waitAcks(t, 300, time.Time{}, 20*time.Second)
	// PostgreSQL at 100 ms per round trip, so that the kill finds commits in flight: some
	// done in PostgreSQL and not yet answered, published or delivered.
	removeLatency := addToxic(t, e.pg, `{"name":"latency","type":"latency","stream":"downstream","attributes":{"latency":100}}`)
	pace(time.Second)

	aDead.Store(true)
	killAt := time.Now()
	a.signal(syscall.SIGKILL)
	// No read marker after the kill: those acknowledged until now, some by the dead node
	// within its last flush interval, are what PostgreSQL must end with.
	l.stopReads()
	a.wait(5 * time.Second)
	removeLatency()
	// Every client of the dead node is back, on the survivor.
	resumed := waitFor(30*time.Second, func() bool {
		for _, r := range l.receivers {
			r.mu.Lock()
			n := r.reconnects
			r.mu.Unlock()
			if r.idx%2 == 0 && n == 0 {
				return false
			}
		}
		return true
	})
	resumedAfter := time.Since(killAt)
	l.waitAcks(t, 200, time.Now(), 30*time.Second)
	l.stopSenders()
	settled := l.settle(20 * time.Second)
	l.stop()
	want := l.markersWanted()
	var behind []string
	waitFor(20*time.Second, func() bool {
		behind = markersBehind(markersInDB(t, e.dbURL, f.channels), want)
		return len(behind) == 0
	})
	v := l.judge(t, e.dbURL, nil)

	var atKill, unansweredAtKill int
	for _, r := range l.records() {
		if r.start.Before(killAt) && r.answered.After(killAt) {
			atKill++
			if r.result == unanswered {
				unansweredAtKill++
			}
		}
	}
	if atKill == 0 {
		t.Error("no send was in flight at the kill")
	}
	l.mu.Lock()
	connectErrs := l.connectErr
	l.mu.Unlock()
	t.Logf("SIGKILL: receivers of the dead node resumed on the survivor within %s (all=%v); failed reconnects %v",
		resumedAfter.Round(100*time.Millisecond), resumed, connectErrs)
	t.Logf("sends in flight at the kill: %d, %d never answered (%d of all unanswered sends were committed nonetheless)",
		atKill, unansweredAtKill, v.unansweredStored)
	for _, r := range l.receivers {
		if r.idx%2 == 0 {
			r.mu.Lock()
			t.Logf("receiver %s: its last read marker acknowledged by the dead node %s before the kill", r.u.name, killAt.Sub(r.markedAt).Round(time.Millisecond))
			r.mu.Unlock()
		}
	}
	t.Logf("verdict (settled=%v): %s", settled, v)
	v.requireClean(t)
	if !resumed {
		t.Error("not every receiver of the killed node resumed on the survivor")
	}
	// Read markers are asserted by TestSIGKILLReadMarker (finding F3, fixed); counted here.
	t.Logf("read markers: %d acknowledged keys, %d short in PostgreSQL after the crash %v", len(want), len(behind), head(behind, 4))
}

// SPEC guarantee 4, "a node crash loses no read marker", at its sharpest: a client's
// /app/message.read is acknowledged (RECEIPT) and the node is killed at once. The marker is
// in Redis (max-merged before the RECEIPT) and in the receipt aggregator's memory, waiting
// for its next flush to Kafka (every 100 ms). Finding F3, fixed: the max-merge also parks
// it, so another node's receipt fallback re-sends it; that node runs for two fallback
// retry intervals.
func TestSIGKILLReadMarker(t *testing.T) {
	requireFaults(t)
	e := newEnv(t)
	a := e.startChild(t, int(nextNodeID.Add(1)))
	f := newFixture(t, a.base, "krm", 2, 1)
	ch, reader := f.channels[0], f.users[1]
	for i := range 5 {
		callOK(t, "POST", a.base+"/api/channels/"+itoa(ch)+"/messages", f.users[0].token,
			map[string]string{"content": fmt.Sprintf("m%d", i)}, nil)
	}
	cli, err := stompclient.Dial(context.Background(), a.wsURL(), stompclient.ClientOptions{Token: reader.token})
	must(t, err, "dial")
	defer cli.Close()
	markRead := func(seq int) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err := cli.SendWithReceipt(ctx, "/app/message.read", []byte(fmt.Sprintf(`{"channelId":"%d","seq":%d}`, ch, seq)))
		must(t, err, "mark read %d", seq)
	}
	key := [2]int64{reader.id, ch}
	// The pipeline works: a first marker reaches PostgreSQL.
	markRead(2)
	if !waitFor(15*time.Second, func() bool { return markersInDB(t, e.dbURL, []int64{ch})[key] == 2 }) {
		t.Fatal("the first read marker never reached PostgreSQL")
	}
	markRead(5)
	a.signal(syscall.SIGKILL)
	a.wait(5 * time.Second)

	b := startNode(t, e.nodeConfig())
	var inDB int64
	lost := !waitFor(12*time.Second, func() bool {
		inDB = markersInDB(t, e.dbURL, []int64{ch})[key]
		return inDB == 5
	})
	var rr map[string]int64
	callOK(t, "GET", b.base+"/api/channels/"+itoa(ch)+"/read-receipts", reader.token, nil, &rr)
	t.Logf("acknowledged marker 5: PostgreSQL has %d; the API (max of PostgreSQL and Redis) answers %d", inDB, rr[itoa(reader.id)])
	if lost {
		t.Errorf("the read marker acknowledged just before the kill is not in PostgreSQL after 12 s of another node: %d, want 5", inDB)
	}
}
