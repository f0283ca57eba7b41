package outbound

import (
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

// lazyFlusher wakes the writers of outboxes holding only lazy frames, each about delay
// after its first lazy frame. It used to be one timer that flushed every waiting outbox at
// once: at 10,000 users that was a burst of thousands of writes every delay, and the
// messages queued behind it made the P99 (docs/BENCHMARKS.md). Since every outbox waits the
// same delay, the waiting list is in due order: the flusher wakes every lazyTick at most and
// kicks the outboxes that are due, so the writes are spread evenly. Its timer runs only
// while some outbox waits.
type lazyFlusher struct {
	delay time.Duration
	tick  time.Duration // how close together two flushes may come

	mu    sync.Mutex
	queue []lazyEntry // in due order; queue[head:] waits
	head  int
	spare []lazyEntry // a flush's list of due boxes, kept for the next flush
	timer *time.Timer
}

type lazyEntry struct {
	due time.Time
	box *Outbox
}

// lazyTick bounds the flusher's wake-ups to 100 a second.
const lazyTick = 10 * time.Millisecond

func newLazyFlusher(delay time.Duration) *lazyFlusher {
	return &lazyFlusher{delay: delay, tick: min(delay, lazyTick)}
}

// add registers o, whose lock the caller holds; o.lazyWait keeps it from being added twice.
func (f *lazyFlusher) add(o *Outbox) {
	f.mu.Lock()
	f.queue = append(f.queue, lazyEntry{due: time.Now().Add(f.delay), box: o})
	if f.timer == nil {
		f.timer = time.AfterFunc(f.delay, f.flush)
	}
	f.mu.Unlock()
}

// flush kicks the outboxes that are due (or will be within a tick) and re-arms the timer
// for the next one.
func (f *lazyFlusher) flush() {
	now := time.Now()
	f.mu.Lock()
	end := f.head
	for end < len(f.queue) && !f.queue[end].due.After(now.Add(f.tick)) {
		end++
	}
	due := append(f.spare[:0], f.queue[f.head:end]...) // f.spare is nil while another flush holds it
	f.spare = nil
	clear(f.queue[f.head:end])
	f.head = end
	if f.head == len(f.queue) {
		f.queue, f.head, f.timer = f.queue[:0], 0, nil
	} else {
		if f.head > len(f.queue)/2 { // compact, so the queue's memory stays proportional to what waits
			n := copy(f.queue, f.queue[f.head:])
			clear(f.queue[n:])
			f.queue, f.head = f.queue[:n], 0
		}
		f.timer = time.AfterFunc(max(f.queue[f.head].due.Sub(now), f.tick), f.flush)
	}
	f.mu.Unlock()
	for _, e := range due {
		o := e.box
		o.mu.Lock()
		o.lazyWait = false
		o.kickLocked()
		o.mu.Unlock()
	}
	clear(due)
	f.mu.Lock()
	f.spare = due
	f.mu.Unlock()
}

// pushLazy queues a frame that may wait for the next write or the flusher. Like push it
// never blocks and reports false when the session is closing or was dropped.
func (o *Outbox) pushLazy(it outItem) bool {
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
