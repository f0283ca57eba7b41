package cluster

import (
	"context"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/parley-chat/parley/internal/logtest"
)

// go-redis's pool logs a failed dial itself; routed, the line arrives in slog at debug level
// rather than on stderr.
func TestRedisLogsGoToSlogAtDebug(t *testing.T) {
	var h logtest.Recorder
	RouteRedisLogs(slog.New(&h))
	t.Cleanup(func() { RouteRedisLogs(slog.New(slog.DiscardHandler)) })

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	rdb := redis.NewClient(&redis.Options{Addr: dead, DialTimeout: 200 * time.Millisecond, MaxRetries: -1})
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err == nil {
		t.Fatal("ping to a closed port answered")
	}
	recs := h.Records()
	if len(recs) == 0 {
		t.Fatal("go-redis logged nothing through slog")
	}
	for _, r := range recs {
		if r.Level != slog.LevelDebug {
			t.Errorf("go-redis line %q at %s, want DEBUG", r.Message, r.Level)
		}
	}
}
