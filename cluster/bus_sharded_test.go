package cluster

import (
	"context"
	"encoding/binary"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/parley-chat/parley/cluster/redistest"
)

// newClusterBus is a bus on a Redis Cluster, with quick failure detection.
func newClusterBus(t testing.TB, addrs []string, prefix string, lanes int) *RedisBus {
	t.Helper()
	rdb := redis.NewClusterClient(&redis.ClusterOptions{
		Addrs: addrs, DialTimeout: 300 * time.Millisecond,
		ReadTimeout: 500 * time.Millisecond, WriteTimeout: 500 * time.Millisecond,
	})
	t.Cleanup(func() { _ = rdb.Close() })
	cfg := testBusConfig(prefix)
	cfg.ShardLanes = lanes
	b, err := NewRedisBus(rdb, cfg, nil, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// spublishCalls reads cmdstat_spublish and cmdstat_publish calls of one node.
func pubCalls(t testing.TB, addr string) (spublish, publish int64) {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	text, err := c.Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(text) {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":calls=")
		if !ok {
			continue
		}
		n, _ := strconv.ParseInt(rest[:strings.IndexByte(rest, ',')], 10, 64)
		switch name {
		case "cmdstat_spublish":
			spublish = n
		case "cmdstat_publish":
			publish = n
		}
	}
	return spublish, publish
}

// On a Redis Cluster a channel's traffic is SPUBLISHed to the one master owning its topic's
// slot: no other master sees it, and no plain PUBLISH (which every node rebroadcasts) is
// made. Not parallel: it counts commands cluster-wide.
func TestRedisClusterBusShardedTraffic(t *testing.T) {
	rc := redistest.SharedCluster(t)
	_, prefix := rc.Client(t)
	a := newClusterBus(t, rc.Addrs(), prefix, 4)
	b := newClusterBus(t, rc.Addrs(), prefix, 4)
	var h recorder
	b.SubscribeChannel(42, &h)
	waitFor(t, "subscription", func() bool { return h.resyncCount() == 1 && a.Healthy() })
	owner, err := rc.MasterOf(context.Background(), a.channelTopic(42))
	if err != nil {
		t.Fatal(err)
	}
	type calls struct{ s, p int64 }
	before := map[string]calls{}
	for _, n := range rc.Nodes[:3] {
		s, p := pubCalls(t, n.Addr)
		before[n.Addr] = calls{s, p}
	}
	const n = 50
	for i := range n {
		if err := a.Post(42, []byte(strconv.Itoa(i)), nil); err != nil {
			t.Fatal(err)
		}
	}
	h.waitCount(t, n)
	var ownerSeen bool
	for _, nd := range rc.Nodes {
		s, p := pubCalls(t, nd.Addr)
		was, isMaster := before[nd.Addr]
		if !isMaster {
			continue // a replica: Redis replicates SPUBLISH within the shard
		}
		if p != was.p {
			t.Errorf("%s: %d plain PUBLISH for a channel topic", nd.Addr, p-was.p)
		}
		switch {
		case nd.Addr == owner.Addr:
			ownerSeen = true
			if s-was.s < n {
				t.Errorf("owner %s: %d SPUBLISH, want ≥ %d", nd.Addr, s-was.s, n)
			}
		case s != was.s:
			t.Errorf("%s does not own the topic but got %d SPUBLISH", nd.Addr, s-was.s)
		}
	}
	if !ownerSeen {
		t.Fatalf("owner %s is not one of the created masters", owner.Addr)
	}
}

// A shard's master is killed while a channel's traffic flows: its replica takes over, the
// bus reconnects its lane to the new master, tells the handler to Resync, and every message
// acknowledged after that Resync is delivered (the actors fill what came before it from
// PostgreSQL, actors/cluster_channel.go). Own cluster: it kills a node.
func TestRedisClusterBusMasterFailover(t *testing.T) {
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
	t.Cleanup(rc.Stop)
	const ch = 77
	pub := newClusterBus(t, rc.Addrs(), "f:", 2)
	sub := newClusterBus(t, rc.Addrs(), "f:", 2)
	checkFailover(t, pub, sub, ch, func() {
		master, err := rc.MasterOf(ctx, sub.channelTopic(ch))
		if err != nil {
			t.Fatal(err)
		}
		master.Kill()
	})
}

// checkFailover streams Posts from pub to sub on channel ch, calls kill once traffic flows,
// and checks that sub resyncs and that every message acknowledged after its Resync arrives,
// in order.
func checkFailover(t *testing.T, pub, sub *RedisBus, ch int64, kill func()) {
	var mu sync.Mutex
	var got []uint64
	var resyncs atomic.Int64
	sub.SubscribeChannel(ch, HandlerFuncs{
		OnDeliver: func(p []byte) {
			mu.Lock()
			got = append(got, binary.BigEndian.Uint64(p))
			mu.Unlock()
		},
		OnResync: func() { resyncs.Add(1) },
	})
	waitFor(t, "subscription", func() bool { return resyncs.Load() == 1 && pub.Healthy() })
	delivered := func() int { mu.Lock(); defer mu.Unlock(); return len(got) }
	highest := func() uint64 {
		mu.Lock()
		defer mu.Unlock()
		if len(got) == 0 {
			return 0
		}
		return got[len(got)-1]
	}
	var posted atomic.Uint64

	// The publisher: one Post per millisecond, remembering which were acknowledged and how
	// many Resyncs the subscriber had seen when each was posted.
	type post struct{ resyncsAtPost int64 }
	var amu sync.Mutex
	acked := map[uint64]post{}
	var lastErr error
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for seq := uint64(1); ; seq++ {
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
			p := post{resyncs.Load()}
			posted.Store(seq)
			var buf [8]byte
			binary.BigEndian.PutUint64(buf[:], seq)
			_ = pub.Post(ch, buf[:], func(err error) {
				amu.Lock()
				if err == nil {
					acked[seq] = p
				} else {
					lastErr = err
				}
				amu.Unlock()
			})
		}
	}()
	waitFor(t, "traffic before the kill", func() bool { return delivered() >= 100 })

	kill()
	deadline := time.Now().Add(30 * time.Second)
	for resyncs.Load() < 2 || !sub.Healthy() {
		if time.Now().After(deadline) {
			t.Fatalf("no resync after the fault (resyncs %d, healthy %v)", resyncs.Load(), sub.Healthy())
		}
		time.Sleep(10 * time.Millisecond)
	}
	final := resyncs.Load()
	// Posts queued during the failover drain first; wait for 200 posted after the Resync.
	mark := posted.Load()
	waitFor(t, "deliveries to resume after failover", func() bool { return highest() >= mark+200 })
	close(stop)
	wg.Wait()

	amu.Lock()
	defer amu.Unlock()
	mu.Lock()
	defer mu.Unlock()
	seen := make(map[uint64]bool, len(got))
	for _, s := range got {
		seen[s] = true
	}
	for i := 1; i < len(got); i++ {
		if got[i] < got[i-1] {
			t.Fatalf("reordered: %d after %d", got[i], got[i-1])
		}
	}
	// Nothing acknowledged after the Resync is missing, up to the last delivered (later ones
	// may still be in flight: order is kept, so a missing earlier one is lost).
	top := got[len(got)-1]
	checked, lost := 0, 0
	for seq, p := range acked {
		if p.resyncsAtPost >= final && seq <= top {
			checked++
			if !seen[seq] {
				lost++
			}
		}
	}
	if checked < 100 {
		var maxSeq uint64
		for seq := range acked {
			maxSeq = max(maxSeq, seq)
		}
		t.Fatalf("only %d acknowledged messages after the resync (acked %d, highest %d, delivered %d, last %d, resyncs %d, last error %v)",
			checked, len(acked), maxSeq, len(got), got[len(got)-1], final, lastErr)
	}
	if lost > 0 {
		t.Fatalf("%d of %d messages acknowledged after the resync were never delivered", lost, checked)
	}
	t.Logf("failover: %d delivered, %d acknowledged after resync all delivered, %d resyncs", len(got), checked, final)
}

// A lane's slot moves to another master while its traffic flows: Redis unsubscribes the
// lane's topics (sunsubscribe), the lane reconnects to the new owner and resyncs, publishers
// follow MOVED, and every message acknowledged after the Resync arrives.
func TestRedisClusterBusSlotMigration(t *testing.T) {
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
	t.Cleanup(rc.Stop)
	const ch = 78
	pub := newClusterBus(t, rc.Addrs(), "m:", 1)
	sub := newClusterBus(t, rc.Addrs(), "m:", 1)
	checkFailover(t, pub, sub, ch, func() {
		topic := sub.channelTopic(ch)
		src, err := rc.MasterOf(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		var dst *redistest.Server
		for _, n := range rc.Nodes[:3] {
			if n != src {
				dst = n
				break
			}
		}
		if err := rc.MoveSlot(ctx, topic, dst); err != nil {
			t.Fatal(err)
		}
		if now, err := rc.MasterOf(ctx, topic); err != nil || now != dst {
			t.Fatalf("slot not moved: %v %v", now, err)
		}
	})
}
