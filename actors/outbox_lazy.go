package actors

import (
	"bytes"
	"sync"
	"time"
)

// Read events are the bulk of a busy node's frames and the least urgent: in the users
// scenario (docs/BENCHMARKS.md) each read marker went to ~200 subscribers, two frames in
// three were read events, and writing each one alone — a system call per frame, on both
// ends of the socket — took most of the node's CPU. A lazy frame is queued but does not
// wake the writer: it leaves with the next frame that does, or when the node's flusher
// comes by, at most Config.ReadEventDelay later, in the same system call as whatever else
// has queued meanwhile. Order on the socket is unchanged: lazy frames wait in the queue,
// they are never moved.

// lazyFlusher wakes the writers of outboxes holding only lazy frames, every delay at most.
// Its timer runs only while some outbox waits.
type lazyFlusher struct {
	delay time.Duration

	mu    sync.Mutex
	boxes []*outbox
	timer *time.Timer
}

func newLazyFlusher(delay time.Duration) *lazyFlusher { return &lazyFlusher{delay: delay} }

// add registers o, whose lock the caller holds; o.lazyWait keeps it from being added twice.
func (f *lazyFlusher) add(o *outbox) {
	f.mu.Lock()
	f.boxes = append(f.boxes, o)
	if f.timer == nil {
		f.timer = time.AfterFunc(f.delay, f.flush)
	}
	f.mu.Unlock()
}

func (f *lazyFlusher) flush() {
	f.mu.Lock()
	boxes := f.boxes
	f.boxes, f.timer = nil, nil
	f.mu.Unlock()
	for i, o := range boxes {
		o.mu.Lock()
		o.lazyWait = false
		o.kickLocked()
		o.mu.Unlock()
		boxes[i] = nil
	}
}

// pushLazy queues a frame that may wait for the next write or the flusher. Like push it
// never blocks and reports false when the session is closing or was dropped.
func (o *outbox) pushLazy(it outItem) bool {
	if o.lazy == nil {
		return o.push(it)
	}
	o.mu.Lock()
	if o.state != boxOpen || len(o.items) >= o.max {
		o.mu.Unlock()
		return o.push(it) // refused or slow consumer: push says so
	}
	o.appendLocked(it)
	if !o.writing && !o.lazyWait {
		o.lazyWait = true
		o.lazy.add(o)
	}
	o.mu.Unlock()
	return true
}

// readEventPrefix starts every encoded persistence.ReadEvent (Type is its first field): a
// node tells read events from the bus apart without decoding them.
var readEventPrefix = []byte(`{"type":"read",`)

func isReadEventBody(body []byte) bool { return bytes.HasPrefix(body, readEventPrefix) }
