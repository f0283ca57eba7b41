package actors

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/parley-chat/parley/persistence"
	"github.com/parley-chat/parley/stomp"
)

// gateStore commits every batch with the next seqs of its channel; while gate is set, a
// commit waits for it to close.
type gateStore struct {
	unreachableStore
	mu       sync.Mutex
	seq      map[int64]int64
	gate     chan struct{}
	accesses atomic.Int64
}

// ChannelAccess answers the channel actor's baseline (user 0) and counts the sessions'
// lookups, for which it finds no channel.
func (s *gateStore) ChannelAccess(_ context.Context, userID, channelID int64) (persistence.Access, error) {
	if userID == 0 {
		s.mu.Lock()
		defer s.mu.Unlock()
		return persistence.Access{ChannelID: channelID, LastSeq: s.seq[channelID]}, nil
	}
	s.accesses.Add(1)
	return persistence.Access{}, persistence.ErrNotFound
}

func (s *gateStore) hold() chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gate = make(chan struct{})
	return s.gate
}

func (s *gateStore) AppendMessages(ctx context.Context, channelID int64, batch []persistence.NewMessage) ([]persistence.AppendResult, error) {
	s.mu.Lock()
	gate := s.gate
	s.gate = nil
	s.mu.Unlock()
	if gate != nil {
		<-gate
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]persistence.AppendResult, len(batch))
	for i, m := range batch {
		s.seq[channelID]++
		out[i].Message = persistence.Message{ID: m.ID, ChannelID: channelID, Seq: s.seq[channelID], UserID: m.UserID, Content: m.Content}
	}
	return out, nil
}

type counterIDs struct{ n atomic.Int64 }

func (c *counterIDs) Next() int64 { return c.n.Add(1) }

// recWire records what a session writes and whether it was closed.
type recWire struct {
	mu     sync.Mutex
	frames [][]byte
	closed bool
}

func (w *recWire) WriteFrames(frames [][]byte, _ time.Time) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, f := range frames {
		w.frames = append(w.frames, bytes.Clone(f))
	}
	return nil
}

func (w *recWire) Close() error {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
	return nil
}

// erroredAndClosed reports whether an ERROR with code was written and the wire closed.
func (w *recWire) erroredAndClosed(code string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, f := range w.frames {
		if bytes.HasPrefix(f, []byte("ERROR\n")) && bytes.Contains(f, []byte("\ncode:"+code+"\n")) {
			return w.closed
		}
	}
	return false
}

func (w *recWire) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return fmt.Sprintf("closed %v, frames %q", w.closed, w.frames)
}

func waitFor(t *testing.T, what string, cond func() bool, state ...any) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s %v", what, state)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A panic inside a channel actor's Receive restarts it as a fresh instance: the crashed
// one answers the post it had queued with an error and sends its subscriber ERROR, the
// commit it had in flight is answered by the new instance, and later posts are committed
// as before. Reusing the crashed instance (the old producer) kept the queued post and the
// subscriber, which this test sees.
func TestChannelActorPanicRestartsFresh(t *testing.T) {
	store := &gateStore{seq: map[int64]int64{}}
	reg := prometheus.NewRegistry()
	sys, err := New(Config{}, Deps{Store: store, ReadMarks: unreachableReadMarks{}, IDs: &counterIDs{}, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { shutdown(t, sys) })
	const ch = 7
	post := func() chan *postResult {
		got := make(chan *postResult, 1)
		sys.post(ch, &postReq{msg: persistence.NewMessage{ID: sys.ids.Next(), UserID: 1, Content: "x"}, reply: func(r *postResult) { got <- r }})
		return got
	}
	answer := func(what string, got chan *postResult) *postResult {
		t.Helper()
		select {
		case r := <-got:
			return r
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: no answer", what)
			return nil
		}
	}
	if r := answer("first post", post()); r.err != nil || r.res.Message.Seq != 1 {
		t.Fatalf("first post: seq %d err %v", r.res.Message.Seq, r.err)
	}

	wire := &recWire{}
	sess, err := sys.Open(SessionInfo{UserID: 2, Username: "sub"}, wire)
	if err != nil {
		t.Fatal(err)
	}
	sys.toChannel(ch, &subscribeReq{out: sess.out, subID: "s1", since: -1})

	gate := store.hold()
	var once sync.Once
	release := func() { once.Do(func() { close(gate) }) }
	t.Cleanup(release)
	inFlight := post()
	waitFor(t, "the second post's commit to start", func() bool {
		store.mu.Lock()
		defer store.mu.Unlock()
		return store.gate == nil
	})
	queued := post()
	sys.toChannel(ch, &eventReq{ev: nil}) // deliver(nil) panics inside Receive

	if r := answer("queued post", queued); !errors.Is(r.err, errRestarted) {
		t.Fatalf("post queued at the crash: err %v, want errRestarted", r.err)
	}
	waitFor(t, "ERROR to the subscriber and its socket closed", func() bool { return wire.erroredAndClosed("unavailable") }, wire)
	sess.Close() // as the transport does once the socket is closed
	release()
	if r := answer("post in flight", inFlight); r.err != nil || r.res.Message.Seq != 2 {
		t.Fatalf("post in flight at the crash: seq %d err %v", r.res.Message.Seq, r.err)
	}
	if r := answer("post after the crash", post()); r.err != nil || r.res.Message.Seq != 3 {
		t.Fatalf("post after the crash: seq %d err %v", r.res.Message.Seq, r.err)
	}
	waitFor(t, "no post counted in flight", func() bool { return sys.pendingPosts.Load() == 0 })
	if n := rcptMetric(t, reg, "parley_actor_restarts_total"); n != 1 {
		t.Fatalf("parley_actor_restarts_total = %v, want 1", n)
	}
}

// A panic inside a connection actor's Receive fails its session with ERROR and closes it;
// the fresh instance handles no frame of the failed session, and the session's close still
// removes it. Reusing the crashed instance left the session open as if nothing happened.
func TestConnectionActorPanicFailsItsSession(t *testing.T) {
	store := &gateStore{seq: map[int64]int64{}}
	sys, err := New(Config{}, Deps{Store: store, ReadMarks: unreachableReadMarks{}, IDs: &counterIDs{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { shutdown(t, sys) })
	wire := &recWire{}
	sess, err := sys.Open(SessionInfo{UserID: 3, Username: "u"}, wire)
	if err != nil {
		t.Fatal(err)
	}
	sess.Handle(nil) // a nil frame: connActor.frame panics
	// Queued behind the crash: handled by the fresh instance, which must ignore it (a SEND
	// it handled would look up the channel's access).
	sess.Handle(&stomp.Frame{Command: stomp.CmdSend, Headers: []stomp.Header{
		{Key: stomp.HdrDestination, Value: DestMessageSend}}, Body: []byte(`{"channelId":"7","content":"x"}`)})
	waitFor(t, "ERROR and the socket closed", func() bool { return wire.erroredAndClosed("unavailable") }, wire)
	sess.Close()
	waitFor(t, "the session removed", func() bool { return sys.Sessions() == 0 })
	if n := store.accesses.Load(); n != 0 {
		t.Fatalf("a SEND queued behind the crash was handled (%d access lookups)", n)
	}
}

func shutdown(t *testing.T, sys *System) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := sys.Shutdown(ctx); err != nil {
		t.Errorf("shutdown: %v", err)
	}
}
