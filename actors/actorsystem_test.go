package actors

import (
	"log/slog"
	"runtime"
	"testing"
)

// An actor system's process registry is a fixed set of objects every collection marks: with
// concurrent-map's default 32 shards per bucket it was ~66,000 of them, with one ~3,000.
func TestActorSystemRegistryIsSmall(t *testing.T) {
	heapObjects := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapObjects
	}
	newActorSystem(slog.New(slog.DiscardHandler)) // the first one also sets the shard count
	before := heapObjects()
	as := newActorSystem(slog.New(slog.DiscardHandler))
	after := heapObjects()
	runtime.KeepAlive(as)
	if n := int64(after) - int64(before); n > 20000 {
		t.Fatalf("an actor system costs %d heap objects, want at most 20,000", n)
	}
}
