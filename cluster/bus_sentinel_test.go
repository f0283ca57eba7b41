package cluster

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/parley-chat/parley/cluster/redistest"
)

// The Sentinel-watched master dies while a channel's traffic flows: Sentinel promotes the
// replica, the failover client finds it, the bus reconnects and resyncs, and every message
// acknowledged after the Resync is delivered (ADR 0043).
func TestRedisSentinelBusMasterFailover(t *testing.T) {
	t.Parallel()
	if err := redistest.Available(); err != nil {
		t.Skip(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := redistest.StartSentinel(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	newBus := func() *RedisBus {
		rdb := redis.NewFailoverClient(&redis.FailoverOptions{
			MasterName: s.MasterName, SentinelAddrs: []string{s.Sentinel.Addr},
			DialTimeout: 300 * time.Millisecond, ReadTimeout: 500 * time.Millisecond, WriteTimeout: 500 * time.Millisecond,
		})
		t.Cleanup(func() { _ = rdb.Close() })
		b, err := NewRedisBus(rdb, testBusConfig("s:"), nil, prometheus.NewRegistry())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = b.Close() })
		return b
	}
	checkFailover(t, newBus(), newBus(), 5, s.Master.Kill)
}
