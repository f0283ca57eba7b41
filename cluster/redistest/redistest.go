// Package redistest connects tests to the machine's real Redis, each test under its own
// key prefix so tests can run in parallel.
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Addr is the test Redis: PARLEY_TEST_REDIS (host:port), else 127.0.0.1:6379.
func Addr() string {
	if a := os.Getenv("PARLEY_TEST_REDIS"); a != "" {
		return a
	}
	return "127.0.0.1:6379"
}

// Client returns a client on the test Redis, closed at cleanup, and a key prefix unique to
// this test. Keys under the prefix are deleted at cleanup.
func Client(t testing.TB) (*redis.Client, string) {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: Addr()})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatalf("redistest: ping %s: %v (is Redis running?)", Addr(), err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	prefix := "test:" + hex.EncodeToString(b) + ":"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			rdb.Del(ctx, iter.Val())
		}
		_ = rdb.Close()
	})
	return rdb, prefix
}

// ModeEnv names the Redis ModeClient hands out: "cluster" a Redis Cluster of the test's
// own, anything else the test Redis. `make test-faults-cluster` runs the Redis-backed fault
// tests once more with it set (issue 26).
const ModeEnv = "PARLEY_REDIS_MODE"

// ModeClient is Client, or under PARLEY_REDIS_MODE=cluster a client on a Redis Cluster
// started for this test (3 masters, 3 replicas, stopped at cleanup) with a prefix of its
// own, so the same test runs against either topology.
func ModeClient(t testing.TB) (redis.UniversalClient, string) {
	t.Helper()
	if os.Getenv(ModeEnv) != "cluster" {
		return Client(t)
	}
	if err := Available(); err != nil {
		t.Skipf("%s=cluster: %v", ModeEnv, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := StartCluster(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Stop)
	return c.Client(t)
}
