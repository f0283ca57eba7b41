package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/parley-chat/parley/cluster/redistest"
	"github.com/parley-chat/parley/persistence"
	"github.com/parley-chat/parley/persistence/pgtest"
	"github.com/parley-chat/parley/transport"
)

// startClusterNodes runs n nodes in-process on one fresh database, one Kafka and the Redis
// Cluster at addrs (one key prefix), as `make cluster REDIS_MODE=cluster` does in processes.
func startClusterNodes(t *testing.T, n int, db string, addrs []string) []string {
	t.Helper()
	ctx := context.Background()
	kafka, err := persistence.StartEmbeddedKafka(ctx, persistence.EmbeddedKafkaConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kafka.Close) // registered first: runs after every node has stopped
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	prefix := "benchtest:" + hex.EncodeToString(b) + ":"
	var urls []string
	for i := 1; i <= n; i++ {
		cfg := transport.DefaultConfig()
		cfg.Addr = "127.0.0.1:0"
		cfg.NodeID = i
		cfg.DatabaseURL = db
		cfg.RedisClusterAddrs = addrs
		cfg.RedisPrefix = prefix
		cfg.KafkaBrokers = kafka.Addrs()
		cfg.DrainTimeout = 5 * time.Second
		srv, err := transport.New(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), prometheus.NewRegistry())
		if err != nil {
			t.Fatalf("start node %d: %v", i, err)
		}
		rctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- srv.Run(rctx) }()
		t.Cleanup(func() {
			cancel()
			if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
				t.Logf("node %d stopped: %v", i, err)
			}
		})
		urls = append(urls, "http://"+srv.Addr().String())
	}
	return urls
}

// A small `parley bench fanout` on three nodes with a Redis Cluster bus (issue 26): every
// message reaches every member in order whichever node each is on, the traffic crosses
// nodes through SPUBLISH on the masters, and --redis-stats accounts for it.
func TestFanoutThreeNodesOnRedisCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3+3 Redis Cluster and three nodes (about 20 s)")
	}
	if err := redistest.Available(); err != nil {
		t.Skipf("redistest: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	rc, err := redistest.StartCluster(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rc.Stop)
	db := pgtest.NewDatabase(t)
	urls := startClusterNodes(t, 3, db, rc.Addrs())
	// Client i is on node i mod 3 and in channel i mod 5: every channel has members on
	// every node, so two thirds of the deliveries cross nodes.
	rep, err := Run(ctx, Config{Scenario: "fanout", URLs: urls, Connections: 30, Channels: 5, Senders: 5, Rate: 10,
		Duration: 3 * time.Second, Warmup: 500 * time.Millisecond, Drain: 5 * time.Second,
		DatabaseURL: db, RedisStats: rc.Addrs(), Quiet: true})
	if rep != nil {
		t.Log(rep.Summary())
	}
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	ck := rep.Check
	if ck.Failed() || len(rep.Failures) > 0 || ck.Acked == 0 || ck.Deliveries < ck.Expected {
		t.Fatalf("failures %v; check %+v", rep.Failures, ck)
	}
	rr := rep.Redis
	if rr == nil {
		t.Fatal("no Redis figures with --redis-stats")
	}
	if len(rr.Errors) > 0 || rr.All.Servers != 6 || rr.Masters.Servers != 3 {
		t.Fatalf("Redis servers read: %d (masters %d), errors %v", rr.All.Servers, rr.Masters.Servers, rr.Errors)
	}
	if rr.CrossNode.Share <= 0 {
		t.Fatalf("no expected delivery crosses nodes: %+v", rr.CrossNode)
	}
	if rr.Bus.Published == 0 || rr.Bus.Remote() == 0 {
		t.Fatalf("nothing crossed nodes on the bus: %+v", rr.Bus)
	}
	// Each channel message is one SPUBLISH on its lane's master, never a cluster-wide PUBLISH.
	if sp := rr.Masters.ByCommand["spublish"]; sp < rr.Bus.Published/2 {
		t.Fatalf("%d SPUBLISH on the masters for %d bus publishes (calls %v)", sp, rr.Bus.Published, rr.All.ByCommand)
	}
	// An SPUBLISH reaches its shard's replica over the cluster bus.
	if rr.All.ClusterPub == 0 {
		t.Fatalf("no publish crossed the cluster bus to a replica: %+v", rr.All)
	}
	if rr.All.CPUSeconds <= 0 || rr.All.CPUMicrosPerMessage <= 0 || rr.All.NetBytesPerMessage <= 0 {
		t.Fatalf("Redis CPU or bytes not measured: %+v", rr.All)
	}
}

func TestCrossNodeShare(t *testing.T) {
	a, b := "http://a", "http://b"
	specs := []ClientSpec{
		{URL: a, Channels: []int64{1}, Subscribe: true, Rate: 2},
		{URL: b, Channels: []int64{1}, Subscribe: true},
		{URL: b, Channels: []int64{1}, Subscribe: true},
		{URL: a, Channels: []int64{2}, Subscribe: true, Rate: 1}, // alone in its channel
		{URL: b, Channels: []int64{2}},                           // not subscribed
	}
	got := crossNodeShare(specs)
	// Channel 1: 2 msg/s × 3 receivers, 2 of them on b; channel 2: 1 msg/s × 1, on a.
	if got.Expected != 7 || got.Crossing != 4 || got.Share != 4.0/7 {
		t.Fatalf("crossNodeShare = %+v, want 7 expected/s, 4 crossing/s", got)
	}
}
