package cluster

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestEmbeddedRedisExpiresKeys(t *testing.T) {
	t.Parallel()
	e, err := StartEmbeddedRedis("")
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	defer e.Close() // twice is fine
	rdb := redis.NewClient(&redis.Options{Addr: e.Addr()})
	defer rdb.Close()
	ctx := context.Background()
	if err := rdb.Set(ctx, "k", "v", 300*time.Millisecond).Err(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for rdb.Exists(ctx, "k").Val() == 1 {
		if time.Now().After(deadline) {
			t.Fatal("key with a TTL never expired: miniredis clock not advanced")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
