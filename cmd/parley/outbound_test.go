package main

import (
	"strings"
	"testing"
	"time"

	"github.com/parley-chat/parley/transport"
)

// The outbound settings map onto ws.Config.Outbound (transport/outbound, ADR 0030), and a
// queue that cannot hold a whole group commit is refused, as when they were the actors'.
func TestServeOutboundFlags(t *testing.T) {
	t.Parallel()
	cfg := transport.DefaultConfig()
	var heap gcOptions
	var lo logOptions
	f := serveFlags(&cfg, &heap, &lo)
	if err := f.parse([]string{"--outbound-queue", "600", "--write-timeout", "3s", "--read-event-delay", "-1s", "--max-batch", "500"}); err != nil {
		t.Fatal(err)
	}
	if ob := cfg.WebSocket.Outbound; ob.Queue != 600 || ob.WriteTimeout != 3*time.Second || ob.ReadEventDelay != -time.Second {
		t.Fatalf("flags not mapped: %+v", ob)
	}
	cfg.JWTSecret = strings.Repeat("s", 32)
	if err := cfg.Validate(); err != nil {
		t.Fatalf("a 600-frame queue with batches of 500: %v", err)
	}
	cfg.WebSocket.Outbound.Queue = 400
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "outbound-queue 400") {
		t.Errorf("a queue smaller than a batch: %v", err)
	}
	cfg.WebSocket.Outbound.Queue, cfg.Realtime.MaxBatch = 4, 2
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "outbound-queue 4") {
		t.Errorf("a 4-frame queue: %v", err)
	}
}
