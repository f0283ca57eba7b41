package actors

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parley-chat/parley/errcode"
	"github.com/parley-chat/parley/stomp"
)

// Wire is a session's socket as its writer sees it; transport/ws implements it over a
// WebSocket connection.
type Wire interface {
	// WriteFrames writes each element of frames as one WebSocket text message, in order, in
	// as few system calls as it can, giving up at deadline. Only one goroutine calls it at a
	// time; frames are not retained.
	WriteFrames(frames [][]byte, deadline time.Time) error
	// Close closes the socket at once, so that a blocked WriteFrames and the read goroutine
	// return. It is safe to call concurrently with WriteFrames and more than once.
	Close() error
}

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

var (
	heartbeatEOL      = []byte{'\n'}
	slowConsumerFrame = stomp.AppendFrame(nil, stomp.ErrorFrame(errcode.SlowConsumer,
		[]byte("outbound queue full: reconnect and resubscribe with since-seq"),
		stomp.Header{Key: hdrCode, Value: errcode.SlowConsumer}))
)

// outbox is a session's bounded outbound queue. Pushes never block (a full queue drops the
// session with ERROR slow-consumer); a writer goroutine exists only while there is something
// to write, so an idle session costs no goroutine and no buffer on this side.
type outbox struct {
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

	pool     *writerPool  // nil (or a wire that cannot write without waiting): a goroutine per burst
	lazy     *lazyFlusher // nil: lazy frames are written at once
	lazyWait bool         // registered with lazy; under mu

	lastWrite atomic.Int64 // unix nanos
	hb        *time.Timer
	hbEvery   time.Duration
	closeOnce sync.Once
	done      chan struct{} // closed once the wire is closed
}

func newOutbox(wire Wire, max int, timeout time.Duration, met *metrics, lazy *lazyFlusher, pool *writerPool) *outbox {
	o := &outbox{wire: wire, max: max, timeout: timeout, met: met, lazy: lazy, done: make(chan struct{})}
	if tw, ok := wire.(tryWire); ok && tw.CanTryWrite() {
		o.pool = pool
	}
	o.lastWrite.Store(time.Now().UnixNano())
	return o
}

// push queues a frame; false when the session is closing or was just dropped as a slow
// consumer. It never blocks, so a channel actor may call it.
func (o *outbox) push(it outItem) bool {
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
func (o *outbox) appendLocked(it ...outItem) {
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
func (o *outbox) pushWait(ctx context.Context, it outItem) error {
	for {
		o.mu.Lock()
		if o.state != boxOpen {
			o.mu.Unlock()
			return errSessionClosed
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
			return errSessionClosed
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// closeAfter queues final frames (beyond the limit) and closes the socket once everything
// queued is written. Later pushes are refused.
func (o *outbox) closeAfter(final ...outItem) {
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
func (o *outbox) closeNow() {
	o.mu.Lock()
	o.state = boxClosed
	clear(o.items)
	o.items = o.items[:0]
	o.mu.Unlock()
	o.closeWire()
}

func (o *outbox) closeWire() {
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
func (o *outbox) startHeartbeats(every time.Duration) {
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

func (o *outbox) beat() {
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
func (o *outbox) kickLocked() {
	if !o.writing && len(o.items) > 0 {
		o.writing = true
		if o.pool != nil {
			o.pool.submit(o)
		} else {
			go o.run()
		}
	}
}

// writeArena is a writer's encoding buffer, pooled between bursts.
type writeArena struct {
	buf    []byte
	frames [][]byte
	ends   []int
}

var arenaPool = sync.Pool{New: func() any { return &writeArena{buf: make([]byte, 0, 16<<10)} }}

// maxChunk is how many bytes the writer encodes before writing them out.
const maxChunk = 64 << 10

func (o *outbox) run() {
	ar := arenaPool.Get().(*writeArena)
	defer putArena(ar)
	for {
		batch, ok := o.take()
		if !ok {
			return
		}
		err := o.write(ar, batch)
		if err != nil {
			clear(batch)
			o.closeNow()
			return
		}
		o.taken(batch)
	}
}

// take returns what is queued, for the writer to write. When nothing is, or the session
// is closed, it ends the writer's run: ok is false, and a closing session's wire is closed.
func (o *outbox) take() (batch []outItem, ok bool) {
	o.mu.Lock()
	if o.state == boxClosed {
		o.writing = false
		o.mu.Unlock()
		return nil, false
	}
	if len(o.items) == 0 {
		o.writing = false
		putItems(o.items)
		putItems(o.spare)
		o.items, o.spare = nil, nil
		closing := o.state == boxClosing
		o.mu.Unlock()
		if closing {
			o.closeWire()
		}
		return nil, false
	}
	batch = o.items
	o.items, o.spare = o.spare[:0], nil
	space := o.space
	o.mu.Unlock()
	if space != nil {
		select {
		case space <- struct{}{}:
		default:
		}
	}
	return batch, true
}

// taken gives a written batch's slice back for the next one.
func (o *outbox) taken(batch []outItem) {
	clear(batch)
	o.mu.Lock()
	if cap(batch) <= maxPooledItems { // a burst's big slice goes back to the GC
		o.spare = batch[:0]
	}
	o.mu.Unlock()
}

func putArena(ar *writeArena) {
	if cap(ar.buf) <= 4*maxChunk {
		arenaPool.Put(ar)
	}
}

// encode encodes the first items of batch, about maxChunk bytes of them, into ar.frames
// and returns how many it took.
func (ar *writeArena) encode(batch []outItem) int {
	ar.buf, ar.ends = ar.buf[:0], ar.ends[:0]
	n := 0
	for n < len(batch) && len(ar.buf) < maxChunk {
		ar.buf = encodeItem(ar.buf, &batch[n])
		ar.ends = append(ar.ends, len(ar.buf))
		n++
	}
	ar.frames = ar.frames[:0]
	start := 0
	for _, end := range ar.ends {
		ar.frames = append(ar.frames, ar.buf[start:end])
		start = end
	}
	return n
}

// write encodes batch in chunks of about maxChunk bytes and writes each chunk at once.
func (o *outbox) write(ar *writeArena, batch []outItem) error {
	for len(batch) > 0 {
		n := ar.encode(batch)
		err := o.wire.WriteFrames(ar.frames, time.Now().Add(o.timeout))
		clear(ar.frames)
		if err != nil {
			return err
		}
		o.lastWrite.Store(time.Now().UnixNano())
		batch = batch[n:]
	}
	return nil
}

func encodeItem(dst []byte, it *outItem) []byte {
	switch it.kind {
	case itemTemplate:
		return it.tpl.AppendTo(dst, it.a, it.b)
	case itemReceipt:
		if it.b == "" {
			return stomp.AppendReceipt(dst, it.a)
		}
		return stomp.AppendReceipt(dst, it.a,
			stomp.Header{Key: stomp.HdrMessageID, Value: it.b}, stomp.Header{Key: hdrSeq, Value: it.c})
	default:
		return append(dst, it.raw...)
	}
}
