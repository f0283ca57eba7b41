package faults

import (
	"os"
	"strings"
	"testing"

	toxiproxy "github.com/Shopify/toxiproxy/v2"

	"github.com/parley-chat/parley/cluster/redistest"
	"github.com/parley-chat/parley/transport"
)

// redisModeEnv picks the Redis every scenario's nodes use: unset or "single" the machine's
// Redis through one proxy, "cluster" a Redis Cluster of the test's own (3 masters, 3
// replicas) with a proxy in front of every node (`make test-faults-cluster`). The same
// scenarios and the same accounting run in both; the cluster-only scenarios (a master
// killed, a slot moved, the Sentinel-watched master killed) skip under single.
const redisModeEnv = "PARLEY_REDIS_MODE"

func clusterMode() bool { return os.Getenv(redisModeEnv) == "cluster" }

func requireClusterMode(t *testing.T) {
	t.Helper()
	requireFaults(t)
	if !clusterMode() {
		t.Skipf("Redis Cluster scenario: run with %s=cluster (make test-faults-cluster)", redisModeEnv)
	}
	if err := redistest.Available(); err != nil {
		t.Skipf("redistest: %v", err)
	}
}

// redisCluster is a test's Redis Cluster whose nodes announce proxies in front of them
// (redistest.Cluster.Announce): every connection a parley node has to any shard passes a
// toxiproxy, so cutting or resetting "Redis" cuts the node off every shard, as one proxy
// does in front of a single Redis. The cluster bus between the Redis nodes stays direct:
// the shards do not see each other fail, only the parley nodes lose them.
type redisCluster struct {
	c       *redistest.Cluster
	proxies []*toxiproxy.Proxy // proxies[i] fronts c.Nodes[i]
}

func newRedisCluster(t *testing.T) *redisCluster {
	t.Helper()
	c, proxies := redistest.StartProxiedCluster(t)
	return &redisCluster{c: c, proxies: proxies}
}

// seeds are the proxied addresses of every node.
func (rc *redisCluster) seeds() []string {
	out := make([]string, len(rc.proxies))
	for i, p := range rc.proxies {
		out[i] = p.Listen
	}
	return out
}

// redisProxies are the proxies between the nodes and Redis (none for a Sentinel set-up).
func (e *env) redisProxies() []*toxiproxy.Proxy {
	switch {
	case e.sentinel != nil:
		return nil
	case e.redisCluster != nil:
		return e.redisCluster.proxies
	default:
		return []*toxiproxy.Proxy{e.redis}
	}
}

// redisToxic adds a toxic to every Redis proxy and returns a func that removes them.
func (e *env) redisToxic(js string) (remove func()) {
	e.t.Helper()
	var removes []func()
	for _, p := range e.redisProxies() {
		removes = append(removes, addToxic(e.t, p, js))
	}
	return func() {
		for _, r := range removes {
			r()
		}
	}
}

// setRedis points cfg at the test's Redis, whichever mode.
func (e *env) setRedis(cfg *transport.Config) {
	cfg.RedisURL, cfg.RedisClusterAddrs, cfg.RedisSentinelAddrs, cfg.RedisSentinelMaster = "", nil, nil, ""
	switch {
	case e.sentinel != nil:
		cfg.RedisSentinelAddrs = []string{e.sentinel.Sentinel.Addr}
		cfg.RedisSentinelMaster = e.sentinel.MasterName
	case e.redisCluster != nil:
		cfg.RedisClusterAddrs = e.redisCluster.seeds()
	default:
		cfg.RedisURL = e.proxiedRedisURL()
	}
}

// redisEnv is setRedis for `parley serve`'s environment.
func (e *env) redisEnv() []string {
	var cfg transport.Config
	e.setRedis(&cfg)
	switch {
	case len(cfg.RedisSentinelAddrs) > 0:
		return []string{"REDIS_SENTINEL_ADDRS=" + strings.Join(cfg.RedisSentinelAddrs, ","),
			"REDIS_SENTINEL_MASTER=" + cfg.RedisSentinelMaster}
	case len(cfg.RedisClusterAddrs) > 0:
		return []string{"REDIS_CLUSTER_ADDRS=" + strings.Join(cfg.RedisClusterAddrs, ",")}
	default:
		return []string{"REDIS_URL=" + cfg.RedisURL}
	}
}
