package multinode_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-chat/parley/actors"
	"github.com/parley-chat/parley/stomp"
)

// Node 1's Redis link is cut mid-stream while senders on every node carry on (SPEC
// guarantee 3): node 1's sends still commit and are acknowledged, /readyz names redis, and
// once the link is back every receiver on every node has every acknowledged message once
// and in order. The last messages are sent on node 1 during the cut and nothing is sent
// after it, so nodes 2 and 3 — whose own links never broke — can only learn of them from
// node 1's announcement of its latest seq; node 1 catches up with the others by its resync.
func TestRedisCutMidStreamLosesNothing(t *testing.T) {
	t.Parallel()
	nodes := startCluster(t, clusterOptions{nodes: 3, proxied: []int{1}})
	owner := newUser(t, nodes[0], "owner")
	var senders, listeners []*user
	for i := range 3 {
		senders = append(senders, newUser(t, nodes[i], fmt.Sprintf("sender%d", i)))
		listeners = append(listeners, newUser(t, nodes[i], fmt.Sprintf("listener%d", i)))
	}
	chans := workspace(t, nodes, owner, append(senders, listeners...), "alpha", "beta")
	var rs []*receiver
	for i, u := range listeners {
		rs = append(rs, newReceiver(t, dial(t, nodes[i], u), fmt.Sprintf("%s@node%d", u.name, i+1), chans...))
	}

	var a acks
	var sent [3]atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	conns := make([]func(k int) error, 3)
	for i, u := range senders {
		c := dial(t, nodes[i], u)
		conns[i] = func(k int) error { return a.send(c, chans[k%2], fmt.Sprintf("%s/%d", u.name, k)) }
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; ; k++ {
				select {
				case <-stop:
					return
				default:
				}
				if err := conns[i](k); err != nil {
					errs <- fmt.Errorf("node %d: %w", i+1, err)
					return
				}
				sent[i].Add(1)
				time.Sleep(2 * time.Millisecond)
			}
		}()
	}
	stopSenders := func() {
		close(stop)
		wg.Wait()
		select {
		case err := <-errs:
			t.Fatalf("send: %v", err)
		default:
		}
	}

	waitFor(t, "traffic before the cut", 10*time.Second, func() bool { return sent[0].Load() > 30 && sent[1].Load() > 30 })
	nodes[0].proxy.Stop()
	waitFor(t, "/readyz on node 1 to report redis down", 10*time.Second, func() bool {
		return readyz(t, nodes[0])["redis"] == "down"
	})
	atCut := sent[0].Load()
	waitFor(t, "node 1's sends acknowledged during the cut", 10*time.Second, func() bool { return sent[0].Load() > atCut+30 })
	if st := readyz(t, nodes[1]); st["redis"] != "up" {
		t.Errorf("node 2 /readyz during node 1's cut: %v", st)
	}
	stopSenders()
	for k := range 5 { // the quiet tail: only an announcement reveals these to nodes 2 and 3
		if err := conns[0](1000 + k); err != nil {
			t.Fatalf("send on node 1 during the cut: %v", err)
		}
	}
	// A post still in flight when Redis returns may get through late (go-redis retries
	// within PublishTimeout), which would reveal the tail without an announcement. Posts
	// go out in order and each failed announcement schedules the next, so a few rounds of
	// failed announcements after the tail mean the tail's own posts have failed.
	announced := nodes[0].metric(t, "parley_cluster_announcements_total")
	waitFor(t, "failed announcements after the tail", 10*time.Second, func() bool {
		return nodes[0].metric(t, "parley_cluster_announcements_total") >= announced+4
	})
	if readyz(t, nodes[0])["redis"] != "down" {
		t.Fatal("Redis came back before the tail was sent")
	}

	if err := nodes[0].proxy.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "/readyz on node 1 to report redis up", 10*time.Second, func() bool {
		return readyz(t, nodes[0])["redis"] == "up"
	})
	res := check(t, &a, rs, 20*time.Second)
	t.Logf("%d messages (%d sent on node 1 during the cut); node 1: %g publish failures, %g announcements, %g resyncs; "+
		"nodes 2+3: %g gap fills, %g messages filled from PostgreSQL",
		res.Acked, sent[0].Load()-atCut+5,
		nodes[0].metric(t, "parley_cluster_publish_failures_total"), nodes[0].metric(t, "parley_cluster_announcements_total"),
		nodes[0].metric(t, "parley_cluster_resyncs_total"),
		nodes[1].metric(t, "parley_cluster_gaps_total")+nodes[2].metric(t, "parley_cluster_gaps_total"),
		nodes[1].metric(t, "parley_cluster_filled_messages_total")+nodes[2].metric(t, "parley_cluster_filled_messages_total"))
	if nodes[0].metric(t, "parley_cluster_announcements_total") == 0 {
		t.Error("node 1 never announced its latest seq after failed posts")
	}
}

// readyz returns each dependency's status on n.
func readyz(t *testing.T, n *node) map[string]string {
	t.Helper()
	resp, err := http.Get(n.url + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Checks map[string]struct{ Status string } `json:"checks"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for k, v := range body.Checks {
		out[k] = v.Status
	}
	// Redis or Kafka down only degrades a node (ADR 0028): /readyz is 503 without PostgreSQL.
	if (resp.StatusCode == http.StatusOK) != (out["postgres"] == "up") {
		t.Errorf("/readyz status %d with checks %v", resp.StatusCode, out)
	}
	return out
}

// A client that saw a channel up to seq N through node 1 resumes with since-seq N on node
// 2, whose view of the channel lags (its Redis link is down, so it has not delivered up to N
// yet): it gets every message after N once, none of those it already had, while node 2's
// older subscriber gets the lagging ones when node 2 catches up.
func TestResumeOnALaggingNodeGetsNothingTwice(t *testing.T) {
	t.Parallel()
	nodes := startCluster(t, clusterOptions{nodes: 2, proxied: []int{2}})
	owner, old, mover := newUser(t, nodes[0], "owner"), newUser(t, nodes[1], "old"), newUser(t, nodes[0], "mover")
	chans := workspace(t, nodes, owner, []*user{old, mover}, "alpha")
	rOld := newReceiver(t, dial(t, nodes[1], old), "old@node2", chans...)
	cMover := dial(t, nodes[0], mover)
	rMover := newReceiver(t, cMover, "mover@node1", chans...)
	sender := dial(t, nodes[0], owner)

	var a acks
	for k := range 5 {
		if err := a.send(sender, chans[0], fmt.Sprintf("before/%d", k)); err != nil {
			t.Fatal(err)
		}
	}
	_, tops := a.snapshot()
	waitFor(t, "node 2 to be live", 10*time.Second, func() bool { return rOld.reached(tops) })

	nodes[1].proxy.Stop()
	waitFor(t, "node 2 to lose Redis", 10*time.Second, func() bool { return readyz(t, nodes[1])["redis"] == "down" })
	for k := range 5 {
		if err := a.send(sender, chans[0], fmt.Sprintf("lagging/%d", k)); err != nil {
			t.Fatal(err)
		}
	}
	_, tops = a.snapshot()
	waitFor(t, "the mover to see everything on node 1", 10*time.Second, func() bool { return rMover.reached(tops) })
	since := tops[chans[0]]

	// The mover moves to node 2 and resumes after what it has.
	_ = cMover.Close()
	resumed := &receiver{name: "mover@node2", max: map[int64]int64{}}
	resumed.log.Channels = chans
	c2 := dial(t, nodes[1], mover)
	if _, err := c2.SubscribeFunc(actors.ChannelDestination(chans[0]), resumed.onMessage,
		stomp.Header{Key: "since-seq", Value: strconv.FormatInt(since, 10)}); err != nil {
		t.Fatal(err)
	}
	if err := nodes[1].proxy.Start(); err != nil {
		t.Fatal(err)
	}
	for k := range 10 {
		if err := a.send(sender, chans[0], fmt.Sprintf("after/%d", k)); err != nil {
			t.Fatal(err)
		}
	}
	check(t, &a, []*receiver{rOld}, 20*time.Second)
	_, tops = a.snapshot()
	waitFor(t, "the resumed mover to catch up", 10*time.Second, func() bool { return resumed.reached(tops) })
	log := resumed.snapshot()
	for i, d := range log.Deliveries {
		if d.Seq != since+1+int64(i) {
			t.Fatalf("resumed after %d, got seqs %v", since, log.Deliveries)
		}
	}
}
