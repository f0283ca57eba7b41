package cluster

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/parley-chat/parley/cluster/redistest"
)

// Numbers for docs/adr/0004-redis-pubsub-bus.md:
//
//	go test -run '^$' -bench BenchmarkBus -benchtime 20000x ./cluster/

// BenchmarkBusPublishToReceive measures one message at a time from node A's Publish call
// to node B's Handler, through the local Redis.
func BenchmarkBusPublishToReceive(b *testing.B) {
	rdb, prefix := redistest.Client(b)
	cfg := testBusConfig(prefix)
	benchPublishToReceive(b, newTestBus(b, rdb, cfg), newTestBus(b, rdb, cfg))
}

// BenchmarkBusPublishToReceiveCluster is the same over a local 3+3 Redis Cluster (sharded
// Pub/Sub, ADR 0043), for the ratio against the single Redis in the same run.
func BenchmarkBusPublishToReceiveCluster(b *testing.B) {
	rc := redistest.SharedCluster(b)
	_, prefix := rc.Client(b)
	benchPublishToReceive(b, newClusterBus(b, rc.Addrs(), prefix, 16), newClusterBus(b, rc.Addrs(), prefix, 16))
}

func benchPublishToReceive(b *testing.B, pub, sub *RedisBus) {
	got := make(chan struct{}, 1)
	live := make(chan struct{}, 1)
	sub.SubscribeChannel(1, HandlerFuncs{
		OnDeliver: func([]byte) { got <- struct{}{} },
		OnResync:  func() { live <- struct{}{} },
	})
	<-live
	payload := make([]byte, 256) // a small batch of one or two messages
	ctx := context.Background()
	lat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		if err := pub.Publish(ctx, 1, payload); err != nil {
			b.Fatal(err)
		}
		<-got
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	reportPercentiles(b, lat)
}

// BenchmarkBusPost measures Posts from node A until node B has received them all, each
// message's publish→receive latency included: "burst" queues b.N messages at once (so its
// latencies are mostly queueing), the others pace them at a fixed rate.
func BenchmarkBusPost(b *testing.B) {
	for _, rate := range []int{0, 5_000, 20_000} {
		name := "burst"
		if rate > 0 {
			name = fmt.Sprintf("rate=%d/s", rate)
		}
		b.Run(name, func(b *testing.B) { benchPost(b, rate) })
	}
}

func benchPost(b *testing.B, rate int) {
	rdb, prefix := redistest.Client(b)
	cfg := testBusConfig(prefix)
	cfg.PostQueue = max(b.N, 1)
	pub, sub := newTestBus(b, rdb, cfg), newTestBus(b, rdb, cfg)
	lat := make([]time.Duration, 0, b.N)
	all := make(chan struct{})
	live := make(chan struct{}, 1)
	epoch := time.Now()
	sub.SubscribeChannel(1, HandlerFuncs{
		OnDeliver: func(p []byte) {
			// The payload carries its send time; both nodes share this process's clock.
			lat = append(lat, time.Since(epoch)-time.Duration(binary.BigEndian.Uint64(p)))
			if len(lat) == b.N {
				close(all)
			}
		},
		OnResync: func() { live <- struct{}{} },
	})
	<-live
	payload := make([]byte, 256)
	perTick := max(1, rate/1000) // messages per millisecond tick
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if rate > 0 && i%perTick == 0 {
			<-tick.C
		}
		p := slices.Clone(payload)
		binary.BigEndian.PutUint64(p, uint64(time.Since(epoch)))
		if err := pub.Post(1, p, nil); err != nil {
			b.Fatal(err)
		}
	}
	<-all
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	reportPercentiles(b, lat)
}

func reportPercentiles(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	at := func(q float64) float64 {
		return float64(lat[min(len(lat)-1, int(q*float64(len(lat))))].Microseconds())
	}
	b.ReportMetric(at(0.50), "p50-µs")
	b.ReportMetric(at(0.99), "p99-µs")
	b.ReportMetric(at(0.999), "p99.9-µs")
}
