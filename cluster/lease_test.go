package cluster_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/parley-chat/parley/cluster"
	"github.com/parley-chat/parley/cluster/redistest"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestLeasesNeverCollide(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.Client(t)
	testLeasesNeverCollide(t, rdb, prefix)
}

// On a Redis Cluster each id's key is its own (one key per script: no hash tag needed) and
// the 64 keys land on every master.
func TestLeasesNeverCollideOnRedisCluster(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.SharedCluster(t).Client(t)
	testLeasesNeverCollide(t, rdb, prefix)
}

func testLeasesNeverCollide(t *testing.T, rdb redis.UniversalClient, prefix string) {
	ctx := context.Background()
	cfg := cluster.LeaseConfig{KeyPrefix: prefix + "node:", TTL: 5 * time.Second}
	const nodes = 64
	leases := make([]*cluster.Lease, nodes)
	var wg sync.WaitGroup
	errs := make([]error, nodes)
	for i := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			leases[i], errs[i] = cluster.AcquireLease(ctx, rdb, cfg, quiet())
		}()
	}
	wg.Wait()
	held := map[int]bool{}
	for i, l := range leases {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if held[l.ID()] {
			t.Fatalf("node id %d leased twice", l.ID())
		}
		held[l.ID()] = true
	}
	// A released id can be taken again; a held one cannot.
	if err := leases[0].Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := leases[0].Close(ctx); err != nil {
		t.Fatal("second Close:", err)
	}
	for _, l := range leases[1:] {
		l.Close(ctx)
	}
}

func TestLeaseExhaustion(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.Client(t)
	ctx := context.Background()
	cfg := cluster.LeaseConfig{KeyPrefix: prefix + "node:", TTL: 5 * time.Second}
	for i := range cluster.MaxNodeID + 1 {
		rdb.Set(ctx, cfg.KeyPrefix+itoa(i), "someone", time.Minute)
	}
	if _, err := cluster.AcquireLease(ctx, rdb, cfg, quiet()); !errors.Is(err, cluster.ErrNoFreeNodeID) {
		t.Fatalf("want ErrNoFreeNodeID, got %v", err)
	}
}

func TestLeaseLostWhenTakenOver(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.Client(t)
	ctx := context.Background()
	cfg := cluster.LeaseConfig{KeyPrefix: prefix + "node:", TTL: time.Second}
	l, err := cluster.AcquireLease(ctx, rdb, cfg, quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(ctx)
	rdb.Set(ctx, cfg.KeyPrefix+itoa(l.ID()), "another-node", time.Minute)
	select {
	case <-l.Lost():
	case <-time.After(5 * time.Second):
		t.Fatal("lease not reported lost after another node took the key")
	}
	if v := rdb.Get(ctx, cfg.KeyPrefix+itoa(l.ID())).Val(); v != "another-node" {
		t.Fatalf("the other node's lease was overwritten: %q", v)
	}
	l.Close(ctx)
	if v := rdb.Get(ctx, cfg.KeyPrefix+itoa(l.ID())).Val(); v != "another-node" {
		t.Fatal("Close deleted another node's lease")
	}
}

func itoa(i int) string { return fmtInt(i) }

func fmtInt(i int) string { return strconv.Itoa(i) }
