package outbound

import (
	"sync"
	"time"

	"github.com/parley-chat/parley/stomp"
)

// writeArena is a writer's encoding buffer, pooled between bursts.
type writeArena struct {
	buf    []byte
	frames [][]byte
	ends   []int
}

var arenaPool = sync.Pool{New: func() any { return &writeArena{buf: make([]byte, 0, 16<<10)} }}

// maxChunk is how many bytes the writer encodes before writing them out.
const maxChunk = 64 << 10

func (o *Outbox) run() {
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
func (o *Outbox) take() (batch []outItem, ok bool) {
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
func (o *Outbox) taken(batch []outItem) {
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
func (o *Outbox) write(ar *writeArena, batch []outItem) error {
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
