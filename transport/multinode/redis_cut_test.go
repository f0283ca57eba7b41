package multinode_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
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
	if (resp.StatusCode == http.StatusOK) != (out["redis"] == "up" && out["postgres"] == "up" && out["kafka"] == "up") {
		t.Errorf("/readyz status %d with checks %v", resp.StatusCode, out)
	}
	return out
}
