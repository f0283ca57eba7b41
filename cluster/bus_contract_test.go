package cluster_test

import (
	"sync"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/parley-chat/parley/cluster"
	"github.com/parley-chat/parley/cluster/bustest"
	"github.com/parley-chat/parley/cluster/redistest"
)

// The contract suite against every Bus: what the actors rely on holds for each.

func TestMemoryBusContract(t *testing.T) {
	t.Parallel()
	bustest.Run(t, bustest.Harness{
		NewCluster: func(t *testing.T) func() cluster.Bus {
			hub := cluster.NewMemoryHub()
			return func() cluster.Bus {
				b, err := cluster.NewMemoryBus(hub, cluster.MemoryBusConfig{})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = b.Close() })
				return b
			}
		},
		Cut: func(_ *testing.T, node cluster.Bus) func() {
			b := node.(*cluster.MemoryBus)
			b.Disconnect()
			return b.Connect
		},
	})
}

// Each Redis node reaches the test Redis through its own in-process toxiproxy, so that the
// suite can cut one node off.
func TestRedisBusContract(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	proxies := map[cluster.Bus]*toxiproxy.Proxy{}
	bustest.Run(t, bustest.Harness{
		NewCluster: func(t *testing.T) func() cluster.Bus {
			_, prefix := redistest.Client(t)
			cfg := cluster.BusConfig{
				TopicPrefix:    prefix + "bus:",
				PublishTimeout: 500 * time.Millisecond,
				ConnectTimeout: 2 * time.Second,
				PingInterval:   500 * time.Millisecond,
				ReconnectMin:   10 * time.Millisecond,
				ReconnectMax:   200 * time.Millisecond,
			}
			return func() cluster.Bus {
				p := toxiproxy.NewProxy(toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop()),
					"redis", "127.0.0.1:0", redistest.Addr())
				if err := p.Start(); err != nil {
					t.Fatalf("toxiproxy: %v", err)
				}
				t.Cleanup(p.Stop)
				rdb := redis.NewClient(&redis.Options{
					Addr:        p.Listen,
					DialTimeout: 500 * time.Millisecond, ReadTimeout: 500 * time.Millisecond,
					WriteTimeout: 500 * time.Millisecond,
				})
				t.Cleanup(func() { _ = rdb.Close() })
				b, err := cluster.NewRedisBus(rdb, cfg, nil, prometheus.NewRegistry())
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = b.Close() })
				mu.Lock()
				proxies[b] = p
				mu.Unlock()
				return b
			}
		},
		Cut: func(t *testing.T, node cluster.Bus) func() {
			mu.Lock()
			p := proxies[node]
			mu.Unlock()
			p.Stop()
			return func() {
				if err := p.Start(); err != nil {
					t.Fatalf("toxiproxy restart: %v", err)
				}
			}
		},
	})
}

// The same contract on a local Redis Cluster (ADR 0043): channel and user topics go over
// sharded Pub/Sub lanes. Cut closes a node's every connection through its dialer.
func TestRedisClusterBusContract(t *testing.T) {
	t.Parallel()
	rc := redistest.SharedCluster(t)
	var mu sync.Mutex
	dialers := map[cluster.Bus]*redistest.CutDialer{}
	bustest.Run(t, bustest.Harness{
		NewCluster: func(t *testing.T) func() cluster.Bus {
			_, prefix := rc.Client(t)
			cfg := cluster.BusConfig{
				TopicPrefix:    prefix + "bus:",
				PublishTimeout: 500 * time.Millisecond,
				ConnectTimeout: 2 * time.Second,
				PingInterval:   500 * time.Millisecond,
				ReconnectMin:   10 * time.Millisecond,
				ReconnectMax:   200 * time.Millisecond,
				ShardLanes:     4,
			}
			return func() cluster.Bus {
				d := &redistest.CutDialer{}
				rdb := redis.NewClusterClient(&redis.ClusterOptions{
					Addrs: rc.Addrs(), Dialer: d.Dial,
					DialTimeout: 500 * time.Millisecond, ReadTimeout: 500 * time.Millisecond,
					WriteTimeout: 500 * time.Millisecond,
				})
				t.Cleanup(func() { _ = rdb.Close() })
				b, err := cluster.NewRedisBus(rdb, cfg, nil, prometheus.NewRegistry())
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = b.Close() })
				mu.Lock()
				dialers[b] = d
				mu.Unlock()
				return b
			}
		},
		Cut: func(t *testing.T, node cluster.Bus) func() {
			mu.Lock()
			d := dialers[node]
			mu.Unlock()
			d.Cut()
			return d.Restore
		},
	})
}
