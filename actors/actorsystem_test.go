package actors

import (
	"context"
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

// A node's System and Receipts run on the one actor system they are given, and neither stops
// it: its owner does, after both. Given none, each makes its own and stops it.
func TestSystemAndReceiptsShareTheActorSystemTheyAreGiven(t *testing.T) {
	type (
		noMarkers struct{ ReceiptMarkers }
		noKafka   struct{ ReceiptSender }
		noParking struct{ ReceiptParking }
	)
	acts := NewActors(nil)
	deps := Deps{Store: unreachableStore{}, ReadMarks: unreachableReadMarks{}, IDs: unreachableIDs{}}
	rdeps := ReceiptsDeps{Markers: noMarkers{}, Kafka: noKafka{}, Parking: noParking{}}
	withActors, withRActors := deps, rdeps
	withActors.Actors, withRActors.Actors = acts, acts

	sys, err := New(Config{}, withActors)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := NewReceipts(ReceiptsConfig{}, withRActors)
	if err != nil {
		t.Fatal(err)
	}
	if sys.as != acts.as || rc.as != acts.as {
		t.Fatal("System or Receipts made an actor system of its own")
	}
	shutdown(t, sys)
	if err := rc.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if acts.as.IsStopped() {
		t.Fatal("a component stopped the actor system it was given")
	}
	acts.Shutdown()

	own, err := New(Config{}, deps)
	if err != nil {
		t.Fatal(err)
	}
	ownR, err := NewReceipts(ReceiptsConfig{}, rdeps)
	if err != nil {
		t.Fatal(err)
	}
	shutdown(t, own)
	if err := ownR.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !own.as.IsStopped() || !ownR.as.IsStopped() {
		t.Fatal("a component did not stop the actor system it made")
	}
}
