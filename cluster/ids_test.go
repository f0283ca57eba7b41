package cluster

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestIDsUniqueAndIncreasingUnderConcurrency(t *testing.T) {
	t.Parallel()
	g, err := NewIDGenerator(7, nil)
	if err != nil {
		t.Fatal(err)
	}
	const workers, perWorker = 8, 375_000 // 3,000,000 ids
	out := make([][]int64, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ids := make([]int64, perWorker)
			for i := range ids {
				ids[i] = g.Next()
			}
			out[w] = ids
		}()
	}
	wg.Wait()
	seen := make(map[int64]struct{}, workers*perWorker)
	for _, ids := range out {
		for i, id := range ids {
			if i > 0 && id <= ids[i-1] {
				t.Fatalf("ids not increasing within a goroutine: %d then %d", ids[i-1], id)
			}
			if _, dup := seen[id]; dup {
				t.Fatalf("duplicate id %d", id)
			}
			seen[id] = struct{}{}
			if IDNode(id) != 7 {
				t.Fatalf("id %d carries node %d", id, IDNode(id))
			}
		}
	}
	if len(seen) != workers*perWorker {
		t.Fatalf("got %d ids", len(seen))
	}
}

// fakeClock is a settable clock for step-back tests.
type fakeClock struct{ ns atomic.Int64 }

func (c *fakeClock) now() time.Time  { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) set(t time.Time) { c.ns.Store(t.UnixNano()) }

func TestIDsSurviveClockStepBack(t *testing.T) {
	t.Parallel()
	var clk fakeClock
	base := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	clk.set(base)
	g, _ := NewIDGenerator(1, clk.now)
	seen := map[int64]bool{}
	var last int64
	take := func(n int) {
		for range n {
			id := g.Next()
			if seen[id] || id <= last {
				t.Fatalf("duplicate or non-increasing id %d after %d", id, last)
			}
			seen[id], last = true, id
		}
	}
	take(4096) // fills the frozen millisecond exactly
	clk.set(base.Add(-time.Hour))
	take(10_000) // clock an hour behind and the millisecond full: borrow ahead, no wait, no duplicate
	clk.set(base.Add(time.Second))
	take(100)
	if got := IDTime(last); got.Before(base.Add(time.Second)) {
		t.Fatalf("after the clock moved forward ids still carry %s", got)
	}
}

func TestIDGeneratorWaitsForNextMillisecondWhenFull(t *testing.T) {
	t.Parallel()
	g, _ := NewIDGenerator(2, nil)
	first := g.Next()
	for range maxSeq + 10 {
		g.Next()
	}
	last := g.Next()
	if IDTime(last).Before(IDTime(first)) || last <= first {
		t.Fatalf("ids went backwards: %d then %d", first, last)
	}
}

func TestNodeIDRange(t *testing.T) {
	t.Parallel()
	for _, n := range []int{-1, 1024} {
		if _, err := NewIDGenerator(n, nil); err == nil {
			t.Fatalf("node %d accepted", n)
		}
	}
}

func BenchmarkIDGeneratorNext(b *testing.B) {
	g, _ := NewIDGenerator(1, nil)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			g.Next()
		}
	})
}
