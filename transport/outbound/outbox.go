package outbound

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parley-chat/parley/errcode"
	"github.com/parley-chat/parley/stomp"
)

type itemKind uint8

const (
	itemTemplate itemKind = iota // tpl for subscription a, message-id b
	itemRaw                      // raw bytes, shared and read-only
	itemReceipt                  // RECEIPT for receipt-id a, with message-id b and seq c when b != ""
)

// outItem is one frame waiting for the socket, kept unencoded so that a delivery costs a
// struct copy: the writer encodes it into its arena right before writing.
type outItem struct {
	kind    itemKind
	tpl     *stomp.MessageTemplate
	a, b, c string
	raw     []byte
}

const (
	boxOpen    = iota
	boxClosing // takes no more frames; the writer closes the wire once the queue is written
	boxClosed
)

// Headers parley adds to the frames it writes here (package actors names the same).
const (
	hdrCode = "code"
	hdrSeq  = "seq"
)

var (
	heartbeatEOL      = []byte{'\n'}
	slowConsumerFrame = stomp.AppendFrame(nil, stomp.ErrorFrame(errcode.SlowConsumer,
		[]byte("outbound queue full: reconnect and resubscribe with since-seq"),
		stomp.Header{Key: hdrCode, Value: errcode.SlowConsumer}))
)

// ErrClosed is DeliverWait's error once the session is closing or closed.
var ErrClosed = errors.New("outbound: session closed")

// Outbox is a session's bounded outbound queue; it implements actors.Sink. Pushes never
// block (a full queue drops the session with ERROR slow-consumer); a writer goroutine exists
// only while there is something to write, so an idle session costs no goroutine and no
// buffer on this side.
type Outbox struct {
	wire    Wire
	max     int
	timeout time.Duration
	met     *metrics

	mu      sync.Mutex
	items   []outItem
	spare   []outItem
	writing bool
	state   int
	space   chan struct{} // signalled when the writer takes frames off the queue; made by the first pushWait

	try      TryWire      // wire, when it can write without waiting; nil: pool is nil
	pool     *writerPool  // nil (or a wire that cannot write without waiting): a goroutine per burst
	lazy     *lazyFlusher // nil: lazy frames are written at once
	lazyWait bool         // registered with lazy; under mu

	lastWrite atomic.Int64 // unix nanos
	hb        *time.Timer
	hbEvery   time.Duration
	closeOnce sync.Once
	done      chan struct{} // closed once the wire is closed
}

func newOutbox(wire Wire, max int, timeout time.Duration, met *metrics, lazy *lazyFlusher, pool *writerPool) *Outbox {
	o := &Outbox{wire: wire, max: max, timeout: timeout, met: met, lazy: lazy, done: make(chan struct{})}
	if tw, ok := wire.(TryWire); ok && tw.CanTryWrite() && pool != nil {
		o.try, o.pool = tw, pool
	}
	o.lastWrite.Store(time.Now().UnixNano())
	return o
}

// push queues a frame; false when the session is closing or was just dropped as a slow
// consumer. It never blocks, so a channel actor may call it.
func (o *Outbox) push(it outItem) bool {
	o.mu.Lock()
	if o.state != boxOpen {
		o.mu.Unlock()
		return false
	}
	if len(o.items) >= o.max {
		clear(o.items)
		o.items = append(o.items[:0], outItem{kind: itemRaw, raw: slowConsumerFrame}) // o.items is full, not nil
		o.state = boxClosing
		o.kickLocked()
		o.mu.Unlock()
		o.met.slowConsumers.Inc()
		return false
	}
	o.appendLocked(it)
	o.kickLocked()
	o.mu.Unlock()
	return true
}

// appendLocked queues it. An outbox whose writer has finished holds no queue slice: an idle
// session keeps nothing here, and a busy one takes a slice from the pool.
func (o *Outbox) appendLocked(it ...outItem) {
	if o.items == nil {
		o.items = getItems()
	}
	o.items = append(o.items, it...)
}

// itemsPool holds emptied queue slices between bursts, of at most maxPooledItems, each in
// a *[]outItem box; boxPool keeps the emptied boxes. Boxing each Put anew cost an
// allocation per put, two per write burst: ~1 MB/s of garbage at 10,000 users.
var itemsPool, boxPool sync.Pool

const maxPooledItems = 256

func getItems() []outItem {
	box, _ := itemsPool.Get().(*[]outItem)
	if box == nil {
		return make([]outItem, 0, 16)
	}
	s := *box
	*box = nil
	boxPool.Put(box)
	return s
}

func putItems(s []outItem) {
	if s == nil || cap(s) > maxPooledItems {
		return
	}
	box, _ := boxPool.Get().(*[]outItem)
	if box == nil {
		box = new([]outItem)
	}
	*box = s[:0]
	itemsPool.Put(box)
}

// pushWait queues a frame for a replay, waiting while the queue is more than half full so
// that a long replay neither overflows the queue nor crowds out live traffic.
func (o *Outbox) pushWait(ctx context.Context, it outItem) error {
	for {
		o.mu.Lock()
		if o.state != boxOpen {
			o.mu.Unlock()
			return ErrClosed
		}
		if len(o.items) < o.max/2 {
			o.appendLocked(it)
			o.kickLocked()
			o.mu.Unlock()
			return nil
		}
		if o.space == nil {
			o.space = make(chan struct{}, 1)
		}
		space := o.space
		o.mu.Unlock()
		select {
		case <-space:
		case <-o.done:
			return ErrClosed
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// closeAfter queues final frames (beyond the limit) and closes the socket once everything
// queued is written. Later pushes are refused.
func (o *Outbox) closeAfter(final ...outItem) {
	o.mu.Lock()
	if o.state != boxOpen {
		o.mu.Unlock()
		return
	}
	o.appendLocked(final...)
	o.state = boxClosing
	o.kickLocked()
	idle := !o.writing
	o.mu.Unlock()
	if idle { // nothing to write: close now
		o.closeWire()
	}
}

// closeNow drops whatever is queued and closes the socket.
func (o *Outbox) closeNow() {
	o.mu.Lock()
	o.state = boxClosed
	clear(o.items)
	o.items = o.items[:0]
	o.mu.Unlock()
	o.closeWire()
}

func (o *Outbox) closeWire() {
	o.closeOnce.Do(func() {
		o.mu.Lock()
		o.state = boxClosed
		if o.hb != nil {
			o.hb.Stop()
		}
		o.mu.Unlock()
		_ = o.wire.Close()
		close(o.done)
	})
}

// startHeartbeats sends an EOL whenever the session has written nothing for half of every.
func (o *Outbox) startHeartbeats(every time.Duration) {
	if every <= 0 {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.state != boxOpen {
		return
	}
	o.hbEvery = every
	o.hb = time.AfterFunc(every/2, o.beat)
}

func (o *Outbox) beat() {
	if time.Since(time.Unix(0, o.lastWrite.Load())) >= o.hbEvery/2 {
		o.push(outItem{kind: itemRaw, raw: heartbeatEOL})
	}
	o.mu.Lock()
	if o.state == boxOpen {
		o.hb.Reset(o.hbEvery / 2)
	}
	o.mu.Unlock()
}

// kickLocked starts the writer when frames wait and none runs.
func (o *Outbox) kickLocked() {
	if !o.writing && len(o.items) > 0 {
		o.writing = true
		if o.pool != nil {
			o.pool.submit(o)
		} else {
			go o.run()
		}
	}
}

// Deliver queues MESSAGE tpl for subscription subID with message-id msgID, encoded only
// when the writer writes it; a lazy one (a read event) may wait for the next write (lazy.go).
// False when the session is closing or was just dropped as a slow consumer.
func (o *Outbox) Deliver(tpl *stomp.MessageTemplate, subID, msgID string, lazy bool) bool {
	it := outItem{kind: itemTemplate, tpl: tpl, a: subID, b: msgID}
	if lazy {
		return o.pushLazy(it)
	}
	return o.push(it)
}

// DeliverWait is Deliver for a replay: it waits while the queue is more than half full
// (pushWait), and fails with ErrClosed once the session closes or with ctx's error.
func (o *Outbox) DeliverWait(ctx context.Context, tpl *stomp.MessageTemplate, subID, msgID string) error {
	return o.pushWait(ctx, outItem{kind: itemTemplate, tpl: tpl, a: subID, b: msgID})
}

// Receipt queues RECEIPT receipt-id id, with message-id and seq headers when msgID != "".
func (o *Outbox) Receipt(id, msgID, seq string) bool {
	return o.push(outItem{kind: itemReceipt, a: id, b: msgID, c: seq})
}

// Frame queues an encoded frame, which the outbox shares and never changes.
func (o *Outbox) Frame(frame []byte) bool {
	return o.push(outItem{kind: itemRaw, raw: frame})
}

// CloseAfter queues final (nil: nothing) even past the limit and closes the socket once
// everything queued is written; later pushes are refused.
func (o *Outbox) CloseAfter(final []byte) {
	if final == nil {
		o.closeAfter()
		return
	}
	o.closeAfter(outItem{kind: itemRaw, raw: final})
}

// CloseNow drops whatever is queued and closes the socket.
func (o *Outbox) CloseNow() { o.closeNow() }

// Done is closed once the socket is closed, by either side.
func (o *Outbox) Done() <-chan struct{} { return o.done }

// StartHeartbeats sends an EOL whenever the session has written nothing for half of every
// (the interval negotiated in CONNECTED); every <= 0: none.
func (o *Outbox) StartHeartbeats(every time.Duration) { o.startHeartbeats(every) }
