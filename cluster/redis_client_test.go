package cluster_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/parley-chat/parley/cluster"
	"github.com/parley-chat/parley/cluster/redistest"
)

func TestRedisClientConfigNamesExactlyOneMode(t *testing.T) {
	t.Parallel()
	bad := map[string]cluster.RedisClientConfig{
		"none":                 {},
		"url and cluster":      {URL: "redis://127.0.0.1:6379", ClusterAddrs: []string{"127.0.0.1:7000"}},
		"cluster and sentinel": {ClusterAddrs: []string{"a:1"}, SentinelAddrs: []string{"b:2"}, SentinelMaster: "m"},
		"sentinel no master":   {SentinelAddrs: []string{"127.0.0.1:26379"}},
		"master no sentinels":  {SentinelMaster: "m"},
		"bad url":              {URL: "http://x"},
		"bad cluster addr":     {ClusterAddrs: []string{"127.0.0.1"}},
		"bad sentinel addr":    {SentinelAddrs: []string{":26379"}, SentinelMaster: "m"},
	}
	for name, c := range bad {
		if _, _, _, err := cluster.NewRedisClient(c); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	good := map[cluster.RedisMode]cluster.RedisClientConfig{
		cluster.RedisModeSingle:   {URL: "rediss://u:p@example.com:6380/2"},
		cluster.RedisModeCluster:  {ClusterAddrs: []string{"127.0.0.1:7000", " 127.0.0.1:7001"}},
		cluster.RedisModeSentinel: {SentinelAddrs: []string{"127.0.0.1:26379"}, SentinelMaster: "m"},
	}
	for want, c := range good {
		rdb, mode, _, err := cluster.NewRedisClient(c)
		if err != nil || mode != want {
			t.Errorf("%s: mode %q, err %v", want, mode, err)
			continue
		}
		if got := cluster.IsRedisCluster(rdb); got != (want == cluster.RedisModeCluster) {
			t.Errorf("%s: IsRedisCluster %v", want, got)
		}
		_ = rdb.Close()
	}
}

// The seam reaches a real Redis Cluster, where keys land on different masters.
func TestRedisClientCluster(t *testing.T) {
	t.Parallel()
	rc := redistest.SharedCluster(t)
	rdb, mode, _, err := cluster.NewRedisClient(cluster.RedisClientConfig{ClusterAddrs: rc.Addrs()[:1]})
	if err != nil || mode != cluster.RedisModeCluster {
		t.Fatal(mode, err)
	}
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	masters := map[string]bool{}
	for _, k := range []string{"a", "b", "c", "d", "e", "f", "g", "h"} {
		key := "test:seam:" + k
		if err := rdb.Set(ctx, key, k, time.Minute).Err(); err != nil {
			t.Fatalf("set %s: %v", key, err)
		}
		m, err := rc.MasterOf(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		masters[m.Addr] = true
		rdb.Del(ctx, key)
	}
	if len(masters) < 2 {
		t.Fatalf("8 keys all on one master %v: not a cluster", masters)
	}
}

// The seam finds the master through a Sentinel, and the master again after a failover.
func TestRedisClientSentinelFailover(t *testing.T) {
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
	rdb, mode, _, err := cluster.NewRedisClient(cluster.RedisClientConfig{
		SentinelAddrs: []string{s.Sentinel.Addr}, SentinelMaster: s.MasterName,
	})
	if err != nil || mode != cluster.RedisModeSentinel {
		t.Fatal(mode, err)
	}
	defer rdb.Close()
	if err := rdb.Set(ctx, "test:sentinel:k", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	// Wait for the write to reach the replica so the failover keeps it.
	replica := redis.NewClient(&redis.Options{Addr: s.Replica.Addr})
	defer replica.Close()
	for replica.Get(ctx, "test:sentinel:k").Val() != "1" {
		if ctx.Err() != nil {
			t.Fatal("replica never got the write")
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.Master.Kill()
	for {
		err := rdb.Set(ctx, "test:sentinel:k2", "2", 0).Err()
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("no write after failover: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	role := replica.Info(ctx, "replication").Val()
	if !strings.Contains(role, "role:master") {
		t.Fatalf("replica not promoted: %s", role)
	}
	if v := rdb.Get(ctx, "test:sentinel:k").Val(); v != "1" {
		t.Fatalf("value after failover %q", v)
	}
}
