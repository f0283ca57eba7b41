package outbound

import (
	"runtime"
	"sync"
	"time"
)

// At 10,000 users a node writes ~16,000 times a second, to different sockets. With a
// goroutine started per outbox burst, a delivery to 50 subscribers made 50 runnable
// goroutines at once; the runtime's run queue held thousands of them, and every other
// goroutine (the channel actors, the commits holding a pooled PostgreSQL connection, REST
// handlers) waited its turn behind them: 100–140 ms of scheduling delay in an execution
// trace, pooled connections idle on the server while their holders waited to run, and the
// pool's waiters piling up (docs/BENCHMARKS.md, ADR 0011). Writes now go through a few
// writer goroutines that take outboxes in kick order and write each with one non-blocking
// system call, so the run queue stays short. A socket that will not take everything at
// once is handed to a goroutine of its own, which waits for it as before: a slow client
// never holds a writer.

// writerPool runs outbox writes on at most max goroutines. A goroutine starts when work
// arrives and fewer than max run, and ends when the queue is empty: an idle node has none.
type writerPool struct {
	max int

	mu      sync.Mutex
	queue   []*Outbox // queue[head:] waits, in kick order; each outbox at most once
	head    int
	running int
}

// writerSlice is how long a writer runs before it yields to the goroutines queued behind it.
const writerSlice = 500 * time.Microsecond

func newWriterPool(max int) *writerPool {
	if max <= 0 {
		max = runtime.GOMAXPROCS(0)
	}
	return &writerPool{max: max}
}

// submit queues o, whose writing flag the caller has set (so o waits here at most once);
// kickLocked calls it under o.mu, a writer's turn without it.
func (p *writerPool) submit(o *Outbox) {
	p.mu.Lock()
	p.queue = append(p.queue, o)
	start := p.running < p.max
	if start {
		p.running++
	}
	p.mu.Unlock()
	if start {
		go p.work()
	}
}

func (p *writerPool) next() *Outbox {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.head == len(p.queue) {
		p.queue, p.head = p.queue[:0], 0
		p.running--
		return nil
	}
	o := p.queue[p.head]
	p.queue[p.head] = nil
	p.head++
	if p.head > 1024 && p.head > len(p.queue)/2 { // compact: memory proportional to what waits
		n := copy(p.queue, p.queue[p.head:])
		clear(p.queue[n:])
		p.queue, p.head = p.queue[:n], 0
	}
	return o
}

func (p *writerPool) work() {
	ar := arenaPool.Get().(*writeArena)
	defer putArena(ar)
	slice := time.Now()
	for o := p.next(); o != nil; o = p.next() {
		o.turn(ar)
		if time.Since(slice) > writerSlice {
			runtime.Gosched()
			slice = time.Now()
		}
	}
}

// turn writes what o has queued without waiting, then puts o back in the queue if more
// arrived meanwhile (each outbox gets one write per turn, so a busy one cannot starve the
// rest), or hands it to a goroutine of its own if its socket is full.
func (o *Outbox) turn(ar *writeArena) {
	batch, ok := o.take()
	if !ok {
		return
	}
	rest, blocked, err := o.tryWrite(ar, batch)
	if err != nil {
		clear(batch)
		o.closeNow()
		return
	}
	if blocked {
		o.mu.Lock()
		if len(rest) > 0 { // put back in front of what was pushed meanwhile
			queued := make([]outItem, 0, len(rest)+len(o.items))
			queued = append(append(queued, rest...), o.items...)
			clear(o.items)
			putItems(o.items)
			o.items = queued
		}
		o.mu.Unlock()
		clear(batch)
		go o.drain()
		return
	}
	o.taken(batch)
	o.pool.submit(o) // back of the queue: for what came meanwhile, or to find it empty and stop
}

// tryWrite is write's non-blocking twin: it encodes batch in chunks and offers each to the
// wire; blocked reports the wire declined or kept bytes back, rest what it was not given.
func (o *Outbox) tryWrite(ar *writeArena, batch []outItem) (rest []outItem, blocked bool, err error) {
	for len(batch) > 0 {
		n := ar.encode(batch)
		accepted, flushed, err := o.try.TryWriteFrames(ar.frames)
		clear(ar.frames)
		switch {
		case err != nil:
			return nil, false, err
		case !accepted:
			return batch, true, nil
		}
		o.lastWrite.Store(time.Now().UnixNano())
		if !flushed {
			return batch[n:], true, nil
		}
		batch = batch[n:]
	}
	return nil, false, nil
}

// drain finishes a write the socket could not take at once, waiting for it as run does,
// then goes on as run.
func (o *Outbox) drain() {
	if err := o.wire.WriteFrames(nil, time.Now().Add(o.timeout)); err != nil {
		o.closeNow()
		return
	}
	o.run()
}
