package multinode_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-chat/parley/cluster/redistest"
)

// Three nodes on a local Redis Cluster (ADR 0043): bus on sharded Pub/Sub lanes, read
// markers, presence. A master dies mid-stream and its replica takes over: every receiver on
// every node still gets every acknowledged message exactly once and in seq order (what the
// bus missed while a lane reconnected is filled from PostgreSQL on Resync,
// actors/cluster_channel.go).
func TestThreeNodesOnRedisClusterSurviveAMasterFailover(t *testing.T) {
	t.Parallel()
	if err := redistest.Available(); err != nil {
		t.Skip(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rc, err := redistest.StartCluster(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rc.Stop) // registered before the nodes: runs after they stopped
	nodes := startCluster(t, clusterOptions{nodes: 3, redisCluster: rc})
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

	// Six streams send until told to stop: through the kill, the failover and after it.
	var a acks
	var wg sync.WaitGroup
	var streamed atomic.Int64
	stop := make(chan struct{})
	errs := make(chan error, 6)
	for i, u := range senders {
		c := dial(t, nodes[i], u)
		for s := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for k := 0; ; k++ {
					select {
					case <-stop:
						return
					default:
					}
					if err := a.send(c, chans[(k+s)%2], fmt.Sprintf("%s/%d/%d", u.name, s, k)); err != nil {
						errs <- err
						return
					}
					streamed.Add(1)
					time.Sleep(5 * time.Millisecond)
				}
			}()
		}
	}
	waitFor(t, "traffic before the kill", 10*time.Second, func() bool { return streamed.Load() >= 60 })
	// Every node holds a subscriber connection to every lane, and 16 lanes spread over the
	// three masters: whichever master dies, every node's bus loses some lanes.
	rc.Nodes[0].Kill()
	if err := rc.WaitFailover(ctx, rc.Nodes[0]); err != nil {
		t.Fatalf("no failover: %v", err)
	}
	after := streamed.Load()
	waitFor(t, "traffic after the failover", 20*time.Second, func() bool { return streamed.Load() >= after+120 })
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("send: %v", err)
	}
	res := check(t, &a, rs, 30*time.Second)
	if res.Acked != streamed.Load() || res.Expected != res.Acked*int64(len(rs)) {
		t.Fatalf("acked %d, expected %d: %+v", res.Acked, res.Expected, res)
	}
	if res.Conflicts != 0 {
		t.Fatalf("receivers disagree: %+v", res)
	}
	// A lane counts a reconnect once its subscriber connection is back, which on a loaded
	// machine can come after the gap fills have already delivered everything: wait for it.
	var reconnects float64
	for _, n := range nodes {
		var r float64
		waitFor(t, fmt.Sprintf("node %d's bus to reconnect a lane (the kill must reach every node's bus)", n.id), 30*time.Second, func() bool {
			r = n.metric(t, "parley_bus_reconnects_total")
			return r > 0
		})
		reconnects += r
	}
	t.Logf("%d messages, %d deliveries; bus reconnects %g; gap fills %g", res.Acked, res.Deliveries, reconnects,
		nodes[0].metric(t, "parley_cluster_gaps_total")+nodes[1].metric(t, "parley_cluster_gaps_total")+
			nodes[2].metric(t, "parley_cluster_gaps_total"))
}
