package outbound

import (
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/parley-chat/parley/persistence"
	"github.com/parley-chat/parley/stomp"
)

// recordWire is the socket end of an outbox: it keeps each WriteFrames call, so a test can
// tell frames written together from frames written one by one.
type recordWire struct {
	mu    sync.Mutex
	calls [][]string
}

func (w *recordWire) WriteFrames(frames [][]byte, _ time.Time) error {
	call := make([]string, len(frames))
	for i, f := range frames {
		call[i] = string(f)
	}
	w.mu.Lock()
	w.calls = append(w.calls, call)
	w.mu.Unlock()
	return nil
}

func (*recordWire) Close() error { return nil }

func (w *recordWire) snapshot() [][]string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([][]string(nil), w.calls...)
}

func lazyTestEvent(t *testing.T, ev any, seq int64) outItem {
	t.Helper()
	body, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return outItem{kind: itemTemplate, tpl: stomp.NewMessageTemplate("/topic/channel.1", "application/json", nil, body), a: "sub-0", b: "m" + strconv.FormatInt(seq, 10)}
}

// waitFor polls cond until it holds, failing the test after d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// A read event waits for the session's next frame and leaves in the same write, before it;
// alone, it leaves when the flusher comes by. Without the delay each frame is a write.
func TestOutboxReadEventsShareWrites(t *testing.T) {
	met, err := newMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	read := lazyTestEvent(t, persistence.ReadEvent{Type: persistence.EventRead, ChannelID: 1, UserID: 2, Seq: 3}, 1)
	msg := lazyTestEvent(t, persistence.NewMessageEvent(persistence.Message{ID: 9, ChannelID: 1, Seq: 4}), 2)

	t.Run("with the next frame", func(t *testing.T) {
		w := &recordWire{}
		o := newOutbox(w, 64, time.Second, met, newLazyFlusher(time.Hour), nil)
		if !o.pushLazy(read) {
			t.Fatal("pushLazy refused")
		}
		time.Sleep(20 * time.Millisecond) // a writer woken by the read event would have written by now
		if calls := w.snapshot(); len(calls) != 0 {
			t.Fatalf("the read event was written on its own: %q", calls)
		}
		o.push(msg)
		waitFor(t, 5*time.Second, "the write", func() bool { return len(w.snapshot()) > 0 })
		calls := w.snapshot()
		if len(calls) != 1 || len(calls[0]) != 2 || !strings.Contains(calls[0][0], `"type":"read"`) || !strings.Contains(calls[0][1], `"type":"message"`) {
			t.Fatalf("writes %q; want one write with the read event, then the message", calls)
		}
	})
	t.Run("alone, by the flusher", func(t *testing.T) {
		w := &recordWire{}
		o := newOutbox(w, 64, time.Second, met, newLazyFlusher(50*time.Millisecond), nil)
		o.pushLazy(read)
		o.pushLazy(read)
		waitFor(t, 5*time.Second, "the flusher", func() bool { return len(w.snapshot()) > 0 })
		if calls := w.snapshot(); len(calls) != 1 || len(calls[0]) != 2 {
			t.Fatalf("writes %q; want both read events in one write", calls)
		}
	})
	t.Run("off", func(t *testing.T) {
		w := &recordWire{}
		o := newOutbox(w, 64, time.Second, met, nil, nil)
		o.pushLazy(read)
		waitFor(t, 5*time.Second, "the read event", func() bool { return len(w.snapshot()) == 1 })
		o.push(msg)
		waitFor(t, 5*time.Second, "the message", func() bool { return len(w.snapshot()) == 2 })
	})
}

// Each outbox waits about the delay after its own first read event, not until the flusher's
// next round: the flushes of many sessions spread over time instead of leaving in one burst
// (the burst was the P99 of the users benchmark). The bounds are one-sided: a slow machine
// only makes flushes later, and later than the delay is what the old flusher could not do
// for a box that came in after the first.
func TestLazyFlusherKicksEachBoxAfterItsOwnDelay(t *testing.T) {
	met, err := newMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	read := lazyTestEvent(t, persistence.ReadEvent{Type: persistence.EventRead, ChannelID: 1, UserID: 2, Seq: 3}, 1)
	const delay = 400 * time.Millisecond
	f := newLazyFlusher(delay)
	early, late := &recordWire{}, &recordWire{}
	first := newOutbox(early, 64, time.Second, met, f, nil)
	second := newOutbox(late, 64, time.Second, met, f, nil)

	start := time.Now()
	first.pushLazy(read)
	time.Sleep(delay / 2)
	lateStart := time.Now()
	second.pushLazy(read)

	waitFor(t, 5*time.Second, "the first flush", func() bool { return len(early.snapshot()) > 0 })
	firstAt := time.Since(start)
	waitFor(t, 5*time.Second, "the second flush", func() bool { return len(late.snapshot()) > 0 })
	secondWaited := time.Since(lateStart)
	if firstAt < delay-lazyTick {
		t.Errorf("first box flushed after %v; want about %v", firstAt, delay)
	}
	if secondWaited < delay-lazyTick {
		t.Errorf("second box flushed %v after its read event, with the first; want about %v of its own", secondWaited, delay)
	}
}
