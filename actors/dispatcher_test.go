package actors

import (
	"bytes"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"
)

// goid is the running goroutine's number, from its stack header ("goroutine 42 [...").
func goid() int {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	b = bytes.TrimPrefix(b, []byte("goroutine "))
	n, _ := strconv.Atoi(string(b[:bytes.IndexByte(b, ' ')]))
	return n
}

func waitIdle(t *testing.T, d *dispatcher, want int32) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for d.idle.Load() != want {
		if time.Now().After(deadline) {
			t.Fatalf("idle workers = %d, want %d", d.idle.Load(), want)
		}
		time.Sleep(time.Millisecond)
	}
}

// One mailbox after another, each after the last has finished: one goroutine runs them all.
func TestDispatcherReusesWaitingWorker(t *testing.T) {
	d := newDispatcher(4)
	defer d.Stop()
	ids := map[int]bool{}
	for range 50 {
		ran := make(chan int)
		d.Schedule(func() { ran <- goid() })
		ids[<-ran] = true
		waitIdle(t, d, 1)
	}
	if len(ids) != 1 {
		t.Fatalf("50 runs one after another used %d goroutines, want 1", len(ids))
	}
}

// Busy workers never make Schedule wait, and at most maxIdle stay once the burst is over.
func TestDispatcherBurstAndIdleBound(t *testing.T) {
	d := newDispatcher(2)
	defer d.Stop()
	release := make(chan struct{})
	var started, finished sync.WaitGroup
	for range 20 {
		started.Add(1)
		finished.Add(1)
		d.Schedule(func() {
			started.Done()
			<-release
			finished.Done()
		})
	}
	started.Wait() // all 20 at once: none waited for a worker
	close(release)
	finished.Wait()
	waitIdle(t, d, 2)
}

// Stop ends the waiting workers; a mailbox scheduled afterwards still runs.
func TestDispatcherStop(t *testing.T) {
	before := runtime.NumGoroutine()
	d := newDispatcher(8)
	var wg sync.WaitGroup
	block := make(chan struct{})
	for range 8 {
		wg.Add(1)
		d.Schedule(func() { <-block; wg.Done() })
	}
	close(block)
	wg.Wait()
	waitIdle(t, d, 8)
	d.Stop()
	d.Stop() // twice is fine
	waitIdle(t, d, 0)
	ran := make(chan struct{})
	d.Schedule(func() { close(ran) })
	<-ran
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines after Stop, %d before", runtime.NumGoroutine(), before)
		}
		time.Sleep(time.Millisecond)
	}
}
