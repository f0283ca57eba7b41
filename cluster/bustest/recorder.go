package bustest

import (
	"encoding/binary"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
)

// recorder is a Handler that keeps what it is given.
type recorder struct {
	mu      sync.Mutex
	msgs    []string
	resyncs int
}

func (r *recorder) Deliver(p []byte) {
	r.mu.Lock()
	r.msgs = append(r.msgs, string(p))
	r.mu.Unlock()
}

func (r *recorder) Resync() {
	r.mu.Lock()
	r.resyncs++
	r.mu.Unlock()
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.msgs)
}

func (r *recorder) resyncCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.resyncs
}

func (r *recorder) payloads() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.msgs)
}

func (r *recorder) waitLive(t *testing.T) {
	t.Helper()
	waitFor(t, "subscription live", func() bool { return r.resyncCount() > 0 })
}

func (r *recorder) waitCount(t *testing.T, n int) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d messages", n), func() bool { return r.count() >= n })
	if got := r.count(); got != n {
		t.Fatalf("received %d messages, want %d", got, n)
	}
}

// waitFor waits until the recorder holds exactly want, in order.
func (r *recorder) waitFor(t *testing.T, want ...string) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d messages", len(want)), func() bool { return r.count() >= len(want) })
	if got := r.payloads(); !slices.Equal(got, want) {
		if len(got) > 10 || len(want) > 10 {
			t.Fatalf("received %d messages, want %d in order (first difference at %d)", len(got), len(want), firstDiff(got, want))
		}
		t.Fatalf("received %q, want %q", got, want)
	}
}

func firstDiff(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// orderChecker is a steady subscriber of testConcurrentUse. Payloads are (publisher id,
// number), both big-endian uint32; publishers node*perNode.. belong to node.
type orderChecker struct {
	node, perNode uint32
	inside        atomic.Int32
	total, own    atomic.Int64
	resyncs       atomic.Int32

	mu     sync.Mutex
	last   map[uint32]uint32
	failed error
}

func (o *orderChecker) Deliver(p []byte) {
	if o.inside.Add(1) != 1 {
		o.fail(fmt.Errorf("Deliver calls of one subscription overlap"))
	}
	defer o.inside.Add(-1)
	o.total.Add(1)
	if len(p) != 8 {
		o.fail(fmt.Errorf("payload of %d bytes, want 8", len(p)))
		return
	}
	id, n := binary.BigEndian.Uint32(p), binary.BigEndian.Uint32(p[4:])
	if id/o.perNode == o.node {
		o.own.Add(1)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if n <= o.last[id] && o.failed == nil {
		o.failed = fmt.Errorf("publisher %d: message %d after %d", id, n, o.last[id])
	}
	o.last[id] = n
}

func (o *orderChecker) Resync() { o.resyncs.Add(1) }

func (o *orderChecker) fail(err error) {
	o.mu.Lock()
	if o.failed == nil {
		o.failed = err
	}
	o.mu.Unlock()
}

func (o *orderChecker) err() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.failed
}
