package outbound

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// stickyWire behaves like transport/ws's wire: TryWriteFrames sometimes declines (another
// write holds the socket) and sometimes keeps bytes back (a full socket), which the next
// WriteFrames must write first. It records the frames in the order a client would read them.
type stickyWire struct {
	mu      sync.Mutex
	got     []string
	pending []string
	tries   int
	drains  int

	inTry, maxInTry *atomic.Int32 // shared by every wire of a test: writers running at once
	calls           *atomic.Int32 // shared: which call declines or keeps bytes back
}

func (*stickyWire) CanTryWrite() bool { return true }

func (w *stickyWire) TryWriteFrames(frames [][]byte) (accepted, flushed bool, err error) {
	n := w.inTry.Add(1)
	defer w.inTry.Add(-1)
	for {
		m := w.maxInTry.Load()
		if n <= m || w.maxInTry.CompareAndSwap(m, n) {
			break
		}
	}
	runtime.Gosched() // give unbounded writers the chance to overlap
	w.mu.Lock()
	defer w.mu.Unlock()
	w.tries++
	call := w.calls.Add(1)
	switch {
	case call%7 == 0:
		return false, false, nil
	case len(w.pending) > 0 || call%5 == 0:
		for _, f := range frames {
			w.pending = append(w.pending, string(f))
		}
		return true, false, nil
	}
	for _, f := range frames {
		w.got = append(w.got, string(f))
	}
	return true, true, nil
}

func (w *stickyWire) WriteFrames(frames [][]byte, _ time.Time) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.pending) > 0 {
		w.drains++
	}
	w.got = append(w.got, w.pending...)
	w.pending = nil
	for _, f := range frames {
		w.got = append(w.got, string(f))
	}
	return nil
}

func (*stickyWire) Close() error { return nil }

func (w *stickyWire) state() (got []string, tries, drains int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.got...), w.tries, w.drains
}

// Sessions' writes run on at most the pool's goroutines, each without waiting; a socket
// that declines or keeps bytes back is finished by a goroutine of its own, and every
// session still gets every frame once, in order. With a goroutine per burst (the old
// writer) the non-blocking path is never used and the writes are not bounded.
func TestWriterPoolBoundsWritersAndKeepsOrder(t *testing.T) {
	met, err := newMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	const boxes, frames, writers = 40, 300, 2
	pool := newWriterPool(writers)
	var inTry, maxInTry, calls atomic.Int32
	wires := make([]*stickyWire, boxes)
	var wg sync.WaitGroup
	for b := range boxes {
		wires[b] = &stickyWire{inTry: &inTry, maxInTry: &maxInTry, calls: &calls}
		o := newOutbox(wires[b], 1<<20, time.Second, met, nil, pool)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range frames {
				o.push(outItem{kind: itemRaw, raw: []byte(fmt.Sprintf("%d-%d", b, i))})
				if i%50 == 0 {
					runtime.Gosched()
				}
			}
		}()
	}
	wg.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for b, w := range wires {
		for {
			got, _, _ := w.state()
			if len(got) >= frames || time.Now().After(deadline) {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		got, tries, _ := w.state()
		if len(got) != frames {
			t.Fatalf("session %d: %d of %d frames written", b, len(got), frames)
		}
		for i, f := range got {
			if want := fmt.Sprintf("%d-%d", b, i); f != want {
				t.Fatalf("session %d: frame %d is %q, want %q", b, i, f, want)
			}
		}
		if tries == 0 {
			t.Fatalf("session %d: never written without waiting", b)
		}
	}
	if m := maxInTry.Load(); m > writers {
		t.Fatalf("%d writers ran at once, the pool allows %d", m, writers)
	}
	total := 0
	for _, w := range wires {
		_, _, d := w.state()
		total += d
	}
	if total == 0 {
		t.Fatal("no write was ever kept back and finished by WriteFrames: the test did not exercise it")
	}
	pool.mu.Lock()
	running := pool.running
	pool.mu.Unlock()
	if running != 0 {
		t.Fatalf("%d writer goroutines still running with nothing to write", running)
	}
}
