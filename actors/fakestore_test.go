package actors

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-chat/parley/persistence"
	"github.com/parley-chat/parley/stomp"
)

// fakeStore is the Store of the channel actor's unit tests: PostgreSQL's append semantics
// (per-channel seq, a batch in one transaction, clientMsgId dedup) in memory, shared by the
// Systems of a test as one database is shared by the nodes, and told to fail, hold a
// commit, or leave one in doubt.
type fakeStore struct {
	mu      sync.Mutex
	msgs    map[int64][]persistence.Message // by channel; index seq-1
	batches []int                           // sizes of the committed AppendMessages calls
	after   []int64                         // afterSeq of every MessagesAfter call
	// Faults, each for the next AppendMessages only.
	failNext  error         // commit nothing, return it
	doubtNext bool          // commit, then answer persistence.ErrInDoubt
	gate      chan struct{} // wait for it to be closed before committing (or after: late)
	entered   chan struct{} // closed when the gated call has started (or committed: late)
	late      bool
	// The next baseline read (ChannelAccess for user 0, the channel actor's) waits for
	// baseGate.
	baseGate, baseEntered chan struct{}
}

func newFakeStore() *fakeStore { return &fakeStore{msgs: make(map[int64][]persistence.Message)} }

func (s *fakeStore) AppendMessages(ctx context.Context, channelID int64, batch []persistence.NewMessage) ([]persistence.AppendResult, error) {
	s.mu.Lock()
	gate, entered, late := s.gate, s.entered, s.late
	s.gate, s.entered, s.late = nil, nil, false
	s.mu.Unlock()
	wait := func() error {
		close(entered)
		select {
		case <-gate:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if gate != nil && !late {
		if err := wait(); err != nil {
			return nil, err
		}
	}
	res, err := s.appendBatch(channelID, batch)
	if gate != nil && late {
		if err := wait(); err != nil {
			return nil, err
		}
	}
	return res, err
}

func (s *fakeStore) appendBatch(channelID int64, batch []persistence.NewMessage) ([]persistence.AppendResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.failNext; err != nil {
		s.failNext = nil
		return nil, err
	}
	out := make([]persistence.AppendResult, len(batch))
	for i, m := range batch {
		if m.ClientMsgID != "" {
			if j := slices.IndexFunc(s.msgs[channelID], func(old persistence.Message) bool {
				return old.UserID == m.UserID && old.ClientMsgID == m.ClientMsgID
			}); j >= 0 {
				out[i] = persistence.AppendResult{Message: s.msgs[channelID][j], Duplicate: true}
				continue
			}
		}
		out[i] = persistence.AppendResult{Message: s.appendLocked(channelID, m)}
	}
	s.batches = append(s.batches, len(batch))
	if s.doubtNext {
		s.doubtNext = false
		return nil, persistence.ErrInDoubt
	}
	return out, nil
}

func (s *fakeStore) appendLocked(channelID int64, m persistence.NewMessage) persistence.Message {
	msg := persistence.Message{
		ID: m.ID, ChannelID: channelID, Seq: int64(len(s.msgs[channelID]) + 1), UserID: m.UserID,
		Content: m.Content, ClientMsgID: m.ClientMsgID,
		CreatedAt: persistence.Time{Time: time.Now().UTC().Truncate(time.Millisecond)},
	}
	s.msgs[channelID] = append(s.msgs[channelID], msg)
	return msg
}

// commit stores messages as another node's commit would, bypassing every actor here.
func (s *fakeStore) commit(channelID int64, contents ...string) []persistence.Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []persistence.Message
	for _, c := range contents {
		out = append(out, s.appendLocked(channelID, persistence.NewMessage{ID: nextFakeID(), UserID: 99, Content: c}))
	}
	return out
}

func (s *fakeStore) MessagesAfter(_ context.Context, channelID, afterSeq int64, limit int) ([]persistence.Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.after = append(s.after, afterSeq)
	all := s.msgs[channelID]
	if afterSeq >= int64(len(all)) {
		return nil, nil
	}
	return slices.Clone(all[afterSeq:min(int64(len(all)), afterSeq+int64(limit))]), nil
}

func (s *fakeStore) ChannelAccess(ctx context.Context, userID, channelID int64) (persistence.Access, error) {
	s.mu.Lock()
	gate, entered := s.baseGate, s.baseEntered
	if userID == 0 {
		s.baseGate, s.baseEntered = nil, nil
	} else {
		gate = nil
	}
	s.mu.Unlock()
	if gate != nil {
		close(entered)
		select {
		case <-gate:
		case <-ctx.Done():
			return persistence.Access{}, ctx.Err()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return persistence.Access{
		UserID: userID, ChannelID: channelID, WorkspaceID: 1, Role: persistence.RoleMember,
		Type: persistence.ChannelPublic, Member: true, LastSeq: int64(len(s.msgs[channelID])),
	}, nil
}

// hold makes the next AppendMessages wait for release; started is closed once it waits.
func (s *fakeStore) hold() (started <-chan struct{}, release func()) {
	gate, entered := make(chan struct{}), make(chan struct{})
	s.mu.Lock()
	s.gate, s.entered = gate, entered
	s.mu.Unlock()
	return entered, func() { close(gate) }
}

// holdLate is hold with the batch committed before the wait: the commit has landed, its
// answer is not back yet.
func (s *fakeStore) holdLate() (committed <-chan struct{}, release func()) {
	entered, release := s.hold()
	s.mu.Lock()
	s.late = true
	s.mu.Unlock()
	return entered, release
}

// holdBaseline makes the next channel actor's baseline read wait for release.
func (s *fakeStore) holdBaseline() (started <-chan struct{}, release func()) {
	gate, entered := make(chan struct{}), make(chan struct{})
	s.mu.Lock()
	s.baseGate, s.baseEntered = gate, entered
	s.mu.Unlock()
	return entered, func() { close(gate) }
}

func (s *fakeStore) failNextAppend(err error) {
	s.mu.Lock()
	s.failNext = err
	s.mu.Unlock()
}

func (s *fakeStore) doubtNextAppend() {
	s.mu.Lock()
	s.doubtNext = true
	s.mu.Unlock()
}

func (s *fakeStore) batchSizes() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.batches)
}

func (s *fakeStore) reads() []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.after)
}

func (s *fakeStore) forgetReads() {
	s.mu.Lock()
	s.after = nil
	s.mu.Unlock()
}

func (s *fakeStore) stored(channelID int64) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.msgs[channelID])
}

var fakeIDs atomic.Int64

func nextFakeID() int64 { return 1_000_000 + fakeIDs.Add(1) }

type fakeIDGen struct{}

func (fakeIDGen) Next() int64 { return nextFakeID() }

// newTestNode starts a System on store and bus (nil: a single node) with short cross-node
// timers, stopped at cleanup.
func newTestNode(t *testing.T, nodeID int, store Store, bus Bus, tune func(*Config)) *System {
	t.Helper()
	cfg := Config{
		NodeID: nodeID, GapWait: 50 * time.Millisecond, AnnounceInterval: 50 * time.Millisecond,
		ReadEventDelay: -1, NoHeartBeat: true,
	}
	if tune != nil {
		tune(&cfg)
	}
	sys, err := New(cfg, Deps{Store: store, ReadMarks: unreachableReadMarks{}, IDs: fakeIDGen{}, Bus: bus})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = sys.Shutdown(ctx)
	})
	return sys
}

// subscriber is a STOMP session subscribed to one channel, keeping the seqs of the MESSAGE
// frames it is sent, in order.
type subscriber struct {
	mu     sync.Mutex
	dec    *stomp.Decoder
	frames []*stomp.Frame
}

func (w *subscriber) WriteFrames(frames [][]byte, _ time.Time) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, f := range frames {
		w.dec.Feed(f)
		for {
			fr, err := w.dec.Next()
			if err != nil {
				return err
			}
			if fr == nil {
				break
			}
			w.frames = append(w.frames, fr)
		}
	}
	return nil
}

func (*subscriber) Close() error { return nil }

// startSubscribe opens a session on sys and sends SUBSCRIBE to channelID with a receipt.
func startSubscribe(t *testing.T, sys *System, channelID int64) *subscriber {
	t.Helper()
	w := &subscriber{dec: stomp.NewDecoder(stomp.Limits{})}
	sess, err := sys.Open(SessionInfo{UserID: 7, Username: "u7"}, w)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sess.Close)
	sess.Handle(&stomp.Frame{Command: stomp.CmdSubscribe, Headers: []stomp.Header{
		{Key: stomp.HdrID, Value: "s1"}, {Key: stomp.HdrDestination, Value: ChannelDestination(channelID)},
		{Key: "receipt", Value: "r1"},
	}})
	return w
}

// subscribe opens a session on sys and subscribes it to channelID, waiting for the RECEIPT.
func subscribe(t *testing.T, sys *System, channelID int64) *subscriber {
	t.Helper()
	w := startSubscribe(t, sys, channelID)
	w.waitReceipt(t)
	return w
}

func (w *subscriber) waitReceipt(t *testing.T) {
	t.Helper()
	waitUntilT(t, "RECEIPT", func() bool { return w.has(stomp.CmdReceipt) || w.has(stomp.CmdError) })
	if w.has(stomp.CmdError) {
		t.Fatalf("SUBSCRIBE refused: %v", w.all())
	}
}

func (w *subscriber) has(cmd string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.ContainsFunc(w.frames, func(f *stomp.Frame) bool { return f.Command == cmd })
}

func (w *subscriber) all() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for _, f := range w.frames {
		out = append(out, f.Command+" "+string(f.Body))
	}
	return out
}

// seqs are the seq headers of the MESSAGE frames received, in order.
func (w *subscriber) seqs() []int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []int64
	for _, f := range w.frames {
		if f.Command != stomp.CmdMessage {
			continue
		}
		if v, ok := f.Get(hdrSeq); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			out = append(out, n)
		}
	}
	return out
}

// waitSeqs waits until the subscriber has received n messages and checks they are want.
func (w *subscriber) waitSeqs(t *testing.T, want ...int64) {
	t.Helper()
	waitUntilT(t, fmt.Sprintf("%d messages", len(want)), func() bool { return len(w.seqs()) >= len(want) })
	if got := w.seqs(); !slices.Equal(got, want) {
		t.Fatalf("subscriber got seqs %v, want %v", got, want)
	}
}

// seqRange is from, from+1, …, to.
func seqRange(from, to int64) []int64 {
	var out []int64
	for s := from; s <= to; s++ {
		out = append(out, s)
	}
	return out
}

// waitUntilT polls cond until it holds, failing the test after 10 s.
func waitUntilT(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
