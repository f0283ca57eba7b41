package faults

import (
	"context"
	"testing"
	"time"

	"github.com/parley-chat/parley/cluster/redistest"
	"github.com/parley-chat/parley/transport"
)

// Issue 26's Redis faults under load, with the suite's accounting (ADR 0043). Two nodes
// share PostgreSQL, Kafka and Redis; senders are on node a and receivers on node b, so every
// live delivery crosses the bus. The nodes run one sharded bus lane, so every channel and
// user topic sits in the one slot of the lane's hash tag, and the fault hits exactly the
// master that carries the busy channels.

// laneKey is a key in the slot of the nodes' only sharded bus lane (cluster.laneTag(1)).
const laneKey = "x{b1}"

// TestRedisClusterMasterKilled: the master serving the busy channels' slot is SIGKILLed
// under load and its replica takes over (cluster-node-timeout 1 s).
func TestRedisClusterMasterKilled(t *testing.T) {
	requireClusterMode(t)
	e := newEnv(t)
	runRedisFault(t, e, "rckill", func(ctx context.Context) string {
		rc := e.redisCluster.c
		master, err := rc.MasterOf(ctx, laneKey)
		must(t, err, "the lane's master")
		master.Kill()
		must(t, rc.WaitFailover(ctx, master), "failover")
		now, err := rc.MasterOf(ctx, laneKey)
		must(t, err, "the lane's new master")
		return "killed master " + master.ClientAddr() + ", replica " + now.ClientAddr() + " took over"
	})
}

// TestRedisClusterSlotMigrated: the busy channels' slot moves to another master under load
// (Redis unsubscribes its sharded subscribers; the nodes resubscribe where it went).
func TestRedisClusterSlotMigrated(t *testing.T) {
	requireClusterMode(t)
	e := newEnv(t)
	runRedisFault(t, e, "rcslot", func(ctx context.Context) string {
		rc := e.redisCluster.c
		src, err := rc.MasterOf(ctx, laneKey)
		must(t, err, "the lane's master")
		var dst *redistest.Server
		for _, n := range rc.Nodes[:3] {
			if n != src {
				dst = n
				break
			}
		}
		must(t, rc.MoveSlot(ctx, laneKey, dst), "move the lane's slot")
		if now, err := rc.MasterOf(ctx, laneKey); err != nil || now != dst {
			t.Fatalf("slot not moved: %v %v", now, err)
		}
		return "moved the lane's slot from " + src.ClientAddr() + " to " + dst.ClientAddr()
	})
}

// TestRedisSentinelMasterKilled: the nodes use a Sentinel-watched master, which is SIGKILLed
// under load; the Sentinel promotes the replica and the nodes follow it.
func TestRedisSentinelMasterKilled(t *testing.T) {
	requireClusterMode(t)
	e := newEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := redistest.StartSentinel(ctx)
	must(t, err, "start Sentinel")
	t.Cleanup(s.Stop)
	e.sentinel = s
	runRedisFault(t, e, "rcsent", func(ctx context.Context) string {
		s.Master.Kill()
		promoted := waitFor(30*time.Second, func() bool {
			return redisRole(ctx, s.Replica.Addr) == "master"
		})
		if !promoted {
			t.Fatal("the Sentinel did not promote the replica within 30 s")
		}
		return "killed the Sentinel-watched master " + s.Master.Addr + ", replica " + s.Replica.Addr + " promoted"
	})
}

// runRedisFault runs the two-node load, calls fault once 100 sends are acknowledged, and
// judges: nothing acknowledged lost, duplicated or reordered, every gap filled, sending
// never refused (Redis is not on the send path), the read markers in PostgreSQL caught up.
func runRedisFault(t *testing.T, e *env, name string, fault func(context.Context) string) {
	t.Helper()
	cfgOf := func() transport.Config {
		cfg := e.nodeConfig()
		cfg.Bus.ShardLanes = 1
		return cfg
	}
	a := startNode(t, cfgOf())
	b := startNode(t, cfgOf())
	f := newFixture(t, a.base, name, 8, 2)
	const nReceivers = 4
	url := func(i int) (string, string) {
		if i < nReceivers { // receivers come first
			return b.wsURL(), b.base
		}
		return a.wsURL(), a.base
	}
	sampler := sampleMarkers(t, e.dbURL, f.channels)
	l := startLoad(t, loadSpec{
		senders: f.users[nReceivers:], receivers: f.users[:nReceivers], channels: f.channels,
		rate: 20, readEvery: 200 * time.Millisecond, url: url, resume: true, resend: true,
	})
	defer l.close()
	l.waitAcks(t, 100, time.Time{}, 30*time.Second)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	faultAt := time.Now()
	what := fault(ctx)
	doneAt := time.Now()
	l.waitAcks(t, 100, doneAt, 30*time.Second)
	pace(2 * time.Second)
	l.stop()
	settled := l.settle(20 * time.Second)
	l.markFinal(20 * time.Second)
	want := l.markersWanted()
	var have map[[2]int64]int64
	caughtUp := waitFor(60*time.Second, func() bool {
		have = markersInDB(t, e.dbURL, f.channels)
		return len(markersBehind(have, want)) == 0
	})
	backwards := sampler()
	v := l.judge(t, e.dbURL, nil)

	t.Logf("%s (%s after the fault began); settled=%v", what, doneAt.Sub(faultAt).Round(10*time.Millisecond), settled)
	t.Logf("verdict: %s", v)
	for _, n := range []struct {
		name string
		n    *node
	}{{"a (senders)", a}, {"b (receivers)", b}} {
		pe, _ := metric(n.n.reg, "parley_bus_publish_errors_total")
		rc, _ := metric(n.n.reg, "parley_bus_reconnects_total")
		t.Logf("node %s: bus publish errors %.0f, subscriber reconnects %.0f", n.name, pe, rc)
	}
	l.mu.Lock()
	t.Logf("read markers: %d acknowledged, refused %v; %d final markers, caught up %v", l.readAcks, l.readFails, len(want), caughtUp)
	l.mu.Unlock()
	v.requireClean(t)
	if v.refused+v.unanswered > 0 {
		t.Errorf("sending failed while only Redis was faulted: %d refused, %d unanswered", v.refused, v.unanswered)
	}
	if !caughtUp {
		t.Errorf("read markers in PostgreSQL did not reach the acknowledged ones: %v", head(markersBehind(have, want), 10))
	}
	if len(backwards) > 0 {
		t.Errorf("read markers moved backwards in PostgreSQL: %v", head(backwards, 10))
	}
}

// redisRole is INFO replication's role of addr ("" when unreachable).
func redisRole(ctx context.Context, addr string) string {
	return redistest.Role(ctx, addr)
}
