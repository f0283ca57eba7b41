package actors

import (
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"
)

// protoactor's default dispatcher starts a goroutine for every mailbox that turns busy. A
// session's mailbox turns busy for nearly every SEND frame, so at 20,000 frames a second
// the node started 20,000 goroutines a second, each on the runtime's smallest stack, and
// each grew that stack (allocate twice the size, copy, again) on its way down through the
// JSON decoder: runtime.newstack was 7 % of the node's CPU in a profile of the hot-channel
// benchmark (ADR 0017). The dispatcher below keeps the goroutines: a mailbox that turns busy
// is handed to a worker waiting for one, whose stack has already grown, and only when none
// waits does a new goroutine start — which, its run done, waits for the next mailbox
// instead of ending. So the number of goroutines still follows the load, as it did, and
// Schedule never blocks (it runs inside another actor's send).

// mailboxThroughput is how many messages a mailbox handles before its goroutine yields:
// protoactor's own default.
const mailboxThroughput = 300

// dispatcher is an actor.Dispatcher over reusable goroutines. The zero value is not ready;
// use newDispatcher. Stop lets the waiting workers end; a Schedule after it still runs.
type dispatcher struct {
	work    chan func() // unbuffered: a send succeeds only into a waiting worker's hands
	done    chan struct{}
	maxIdle int32
	idle    atomic.Int32 // workers waiting (approximate: read and changed without a lock)
	stopped atomic.Bool
}

var _ actor.Dispatcher = (*dispatcher)(nil)

// dispatcherMaxIdle is how many workers may wait at once. The poll loops hand frames to
// many sessions in one burst, so a mailbox per sender turns busy together: with 8 kept
// (4 × GOMAXPROCS here) the workers above that ended after each burst, and
// runtime.newstack still took 5 % of the node's CPU in the hot-channel profile; with 256,
// 1.4 %. A waiting worker costs its stack, which the garbage collector shrinks when unused.
const dispatcherMaxIdle = 256

// newDispatcher keeps at most maxIdle workers waiting (≤ 0: dispatcherMaxIdle); a worker
// that finds that many already waiting ends instead.
func newDispatcher(maxIdle int) *dispatcher {
	if maxIdle <= 0 {
		maxIdle = dispatcherMaxIdle
	}
	return &dispatcher{work: make(chan func()), done: make(chan struct{}), maxIdle: int32(maxIdle)}
}

func (d *dispatcher) Schedule(fn func()) {
	select {
	case d.work <- fn:
	default:
		go d.worker(fn)
	}
}

func (d *dispatcher) Throughput() int { return mailboxThroughput }

func (d *dispatcher) worker(fn func()) {
	for {
		fn()
		fn = nil // let the mailbox go while this goroutine waits
		if d.idle.Add(1) > d.maxIdle {
			d.idle.Add(-1)
			return
		}
		select {
		case fn = <-d.work:
			d.idle.Add(-1)
		case <-d.done:
			d.idle.Add(-1)
			return
		}
	}
}

// Stop ends the waiting workers. Safe to call more than once.
func (d *dispatcher) Stop() {
	if !d.stopped.Swap(true) {
		close(d.done)
	}
}
