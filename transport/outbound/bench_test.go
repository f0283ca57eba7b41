package outbound

import (
	"strconv"
	"testing"
	"time"

	"github.com/parley-chat/parley/stomp"
)

// discardWire is a socket that accepts everything at once.
type discardWire struct{}

func (discardWire) WriteFrames([][]byte, time.Time) error { return nil }
func (discardWire) Close() error                          { return nil }

// tryDiscardWire also accepts everything without waiting, so outboxes use the writer pool.
type tryDiscardWire struct{ discardWire }

func (tryDiscardWire) CanTryWrite() bool                           { return true }
func (tryDiscardWire) TryWriteFrames([][]byte) (bool, bool, error) { return true, true, nil }

var benchBody = []byte(`{"type":"message","message":{"id":"7205759403792793600","channelId":"7205759403792793601",` +
	`"seq":1042,"userId":"7205759403792793602","content":"hello @bob, see the thread","createdAt":` +
	`"2026-01-02T03:04:05.678Z","deleted":false,"reactions":[]}}`)

// sink is the part of actors.Sink a channel actor's fan-out calls, through an interface
// as the actor does.
type sink interface {
	Deliver(tpl *stomp.MessageTemplate, subID, msgID string, lazy bool) bool
}

// BenchmarkFanout is a channel actor's delivery of one committed message to 100 local
// subscribers (the loop of actors' channelActor.deliver), writers included: one op is one
// event to all of them. Allocations are per event, whatever the number of subscribers.
// writer-pool writes on the node's bounded pool (writers.go), goroutine-per-burst starts a
// writer per outbox as wires without a non-blocking write do (ADR 0011).
func BenchmarkFanout(b *testing.B) {
	b.Run("writer-pool", func(b *testing.B) { benchFanout(b, tryDiscardWire{}, newWriterPool(0)) })
	b.Run("goroutine-per-burst", func(b *testing.B) { benchFanout(b, discardWire{}, nil) })
}

func benchFanout(b *testing.B, wire Wire, pool *writerPool) {
	met, _ := newMetrics(nil)
	type sub struct {
		out sink
		id  string
	}
	boxes := make([]*Outbox, 100)
	subs := make([]sub, len(boxes))
	for i := range boxes {
		boxes[i] = newOutbox(wire, 1<<20, time.Second, met, nil, pool)
		subs[i] = sub{out: boxes[i], id: "sub-" + strconv.Itoa(i)}
	}
	tpl := stomp.NewMessageTemplate("/topic/channel.1", "application/json", []stomp.Header{{Key: hdrSeq, Value: "1042"}}, benchBody)
	msgID := "7205759403792793600"
	delivered := 0
	b.ReportAllocs()
	for b.Loop() {
		for i := range subs {
			if subs[i].out.Deliver(tpl, subs[i].id, msgID, false) {
				delivered++
			}
		}
	}
	for _, o := range boxes {
		o.CloseAfter(nil)
		<-o.Done()
	}
	if delivered != b.N*len(subs) {
		b.Fatalf("%d deliveries, want %d", delivered, b.N*len(subs))
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(subs)), "ns/delivery")
}

// BenchmarkWriteBatch is a session's writer: 64 queued frames encoded into its arena and
// handed to the socket in one call.
func BenchmarkWriteBatch(b *testing.B) {
	met, _ := newMetrics(nil)
	o := newOutbox(discardWire{}, 1<<20, time.Second, met, nil, nil)
	tpl := stomp.NewMessageTemplate("/topic/channel.1", "application/json", []stomp.Header{{Key: hdrSeq, Value: "1042"}}, benchBody)
	batch := make([]outItem, 64)
	for i := range batch {
		batch[i] = outItem{kind: itemTemplate, tpl: tpl, a: "sub-7", b: "7205759403792793600"}
	}
	batch[63] = outItem{kind: itemReceipt, a: "r-99", b: "7205759403792793600", c: "1042"}
	ar := &writeArena{}
	b.ReportAllocs()
	b.SetBytes(int64(64 * tpl.Len("sub-7", "7205759403792793600")))
	for b.Loop() {
		if err := o.write(ar, batch); err != nil {
			b.Fatal(err)
		}
	}
}
