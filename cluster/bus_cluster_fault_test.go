package cluster

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/parley-chat/parley/cluster/redistest"
)

// TestBusConnectionCutMidStream on a Redis Cluster (issue 26): node B reaches every shard
// through a proxy the cluster announces, and all of them are cut mid-stream while node A
// (dialling the shards directly) keeps committing and publishing. B notices, reconnects
// every sharded lane once the proxies are back, resyncs, and with gap filling has every
// committed message exactly once and in order.
func TestRedisClusterBusConnectionCutMidStream(t *testing.T) {
	t.Parallel()
	c, proxies := redistest.StartProxiedCluster(t)
	direct := map[string]string{} // announced (proxy) address → the node's own
	for _, n := range c.Nodes {
		direct[n.ClientAddr()] = n.Addr
	}
	cfg := testBusConfig("cut:")
	cfg.ShardLanes = 2
	cfg.PublishTimeout = 300 * time.Millisecond
	opts := func(dial func(context.Context, string, string) (net.Conn, error)) *redis.ClusterOptions {
		return &redis.ClusterOptions{Addrs: c.Addrs(), Dialer: dial, DialTimeout: 300 * time.Millisecond,
			ReadTimeout: 500 * time.Millisecond, WriteTimeout: 500 * time.Millisecond}
	}
	var d net.Dialer
	aRDB := redis.NewClusterClient(opts(func(ctx context.Context, network, addr string) (net.Conn, error) {
		if own, ok := direct[addr]; ok {
			addr = own
		}
		return d.DialContext(ctx, network, addr)
	}))
	bRDB := redis.NewClusterClient(opts(nil))
	t.Cleanup(func() { _ = aRDB.Close(); _ = bRDB.Close() })
	a, err := NewRedisBus(aRDB, cfg, nil, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	b, err := NewRedisBus(bRDB, cfg, nil, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}

	var committed committedSeq
	truth := committed.from
	commitAndPublish := func() { committed.commitAndPublish(a) }
	g := newGapFiller(truth)
	t.Cleanup(func() { _ = b.Close(); close(g.inbox); <-g.done })
	b.SubscribeChannel(5, g)
	waitFor(t, "channel resync", func() bool { _, _, r := g.snapshot(); return r == 1 && b.Healthy() })

	stop := make(chan struct{})
	pubDone := make(chan struct{})
	go func() {
		defer close(pubDone)
		for {
			select {
			case <-stop:
				return
			default:
				commitAndPublish()
			}
		}
	}()
	waitFor(t, "live traffic before the cut", func() bool { return g.liveCount() > 200 })

	for _, p := range proxies {
		p.Stop()
	}
	waitFor(t, "bus to notice the cut", func() bool { return !b.Healthy() })
	if err := b.Publish(context.Background(), 5, []byte("during the cut")); err == nil {
		t.Fatal("Publish succeeded with every shard cut off")
	}
	atCut := committed.len()
	waitFor(t, "messages committed during the cut", func() bool { return len(truth(0)) > atCut+200 })
	for _, p := range proxies {
		if err := p.Start(); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "channel resync after reconnection", func() bool { _, _, r := g.snapshot(); return r == 2 && b.Healthy() })
	liveAtRecovery := g.liveCount()
	waitFor(t, "live traffic after recovery", func() bool { return g.liveCount() > liveAtRecovery+200 })
	close(stop)
	<-pubDone

	commitAndPublish()
	total := len(truth(0))
	waitFor(t, "the final message", func() bool { got, _, _ := g.snapshot(); return len(got) == total })
	got, filled, _ := g.snapshot()
	for i, v := range got {
		if v != uint32(i) {
			t.Fatalf("position %d holds %d", i, v)
		}
	}
	if filled < 200 {
		t.Fatalf("only %d messages filled from the source of truth; the 200+ committed during the cut must be", filled)
	}
	if s := b.Stats(); s.Reconnects < 1 {
		t.Fatalf("reconnects = %d after the cut", s.Reconnects)
	}
	t.Logf("%d messages, %d live, %d filled from the source of truth; B reconnected %d lane(s)", total, total-filled, filled, b.Stats().Reconnects)
	if err := b.Publish(context.Background(), 6, []byte("publishing works again")); err != nil {
		t.Fatal(err)
	}
}
