package actors

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-chat/parley/persistence"
	"github.com/parley-chat/parley/stomp"
)

// recordSink is a Sink that keeps every frame it is given, encoded, in order.
type recordSink struct {
	mu     sync.Mutex
	frames []string
	closed bool
	done   chan struct{}
}

func newRecordSink() *recordSink { return &recordSink{done: make(chan struct{})} }

func (s *recordSink) add(b []byte) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.frames = append(s.frames, string(b))
	return true
}

func (s *recordSink) Deliver(tpl *stomp.MessageTemplate, subID, msgID string, _ bool) bool {
	return s.add(tpl.AppendTo(nil, subID, msgID))
}

func (s *recordSink) DeliverWait(_ context.Context, tpl *stomp.MessageTemplate, subID, msgID string) error {
	if !s.Deliver(tpl, subID, msgID, false) {
		return errSessionClosed
	}
	return nil
}

func (s *recordSink) Receipt(id, msgID, seq string) bool {
	if msgID == "" {
		return s.add(stomp.AppendReceipt(nil, id))
	}
	return s.add(stomp.AppendReceipt(nil, id, stomp.Header{Key: stomp.HdrMessageID, Value: msgID}, stomp.Header{Key: hdrSeq, Value: seq}))
}

func (s *recordSink) Frame(b []byte) bool { return s.add(b) }

func (s *recordSink) CloseAfter(final []byte) {
	if final != nil {
		s.add(final)
	}
	s.CloseNow()
}

func (s *recordSink) CloseNow() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed = true
		close(s.done)
	}
}

func (s *recordSink) Done() <-chan struct{} { return s.done }

func (s *recordSink) commands() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var cmds []string
	for _, f := range s.frames {
		cmd, _, _ := strings.Cut(f, "\n")
		cmds = append(cmds, cmd)
	}
	return cmds
}

// sendStore lets anyone post to any channel and commits or fails every batch.
type sendStore struct {
	unreachableStore
	fail error
	seq  atomic.Int64
}

func (s *sendStore) ChannelAccess(_ context.Context, userID, channelID int64) (persistence.Access, error) {
	return persistence.Access{UserID: userID, ChannelID: channelID, Role: persistence.RoleMember,
		Type: persistence.ChannelPublic, Member: true}, nil
}

func (s *sendStore) AppendMessages(_ context.Context, channelID int64, batch []persistence.NewMessage) ([]persistence.AppendResult, error) {
	if s.fail != nil {
		return nil, s.fail
	}
	res := make([]persistence.AppendResult, len(batch))
	for i, m := range batch {
		res[i].Message = persistence.Message{ID: m.ID, ChannelID: channelID, UserID: m.UserID, Seq: s.seq.Add(1), Content: m.Content}
	}
	return res, nil
}

type countIDs struct{ n atomic.Int64 }

func (c *countIDs) Next() int64 { return c.n.Add(1) }

// A SEND's outcome is one postDone handed to its Session whether the commit succeeded or
// failed: RECEIPT (with message-id and seq, queued on the channel actor) or ERROR (through
// the connection actor), and in both cases the SEND counts as answered, so the DISCONNECT
// behind it gets its RECEIPT and the session closes.
func TestSendOutcomeTakesOneRoute(t *testing.T) {
	for _, tc := range []struct {
		name string
		fail error
		want []string
	}{
		{"committed", nil, []string{"CONNECTED", "RECEIPT", "RECEIPT"}},
		{"failed", errors.New("commit failed"), []string{"CONNECTED", "ERROR", "RECEIPT"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := &sendStore{fail: tc.fail}
			sys, err := New(Config{}, Deps{Store: store, ReadMarks: unreachableReadMarks{}, IDs: &countIDs{}})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				_ = sys.Shutdown(ctx)
			})
			out := newRecordSink()
			sess, err := sys.Open(SessionInfo{UserID: 7, Username: "alice"}, out)
			if err != nil {
				t.Fatal(err)
			}
			sess.Handle(&stomp.Frame{Command: stomp.CmdSend, Headers: []stomp.Header{
				{Key: stomp.HdrDestination, Value: DestMessageSend}, {Key: stomp.HdrReceipt, Value: "r-send"}},
				Body: []byte(`{"channelId":"42","content":"hello"}`)})
			sess.Handle(&stomp.Frame{Command: stomp.CmdDisconnect, Headers: []stomp.Header{{Key: stomp.HdrReceipt, Value: "r-bye"}}})
			select {
			case <-out.Done():
			case <-time.After(5 * time.Second):
				t.Fatalf("session not closed after DISCONNECT; frames %v", out.commands())
			}
			if got := out.commands(); !slices.Equal(got, tc.want) {
				t.Fatalf("frames %v, want %v", got, tc.want)
			}
			out.mu.Lock()
			answer, bye := out.frames[1], out.frames[2]
			out.mu.Unlock()
			if !strings.Contains(answer, "receipt-id:r-send") || !strings.Contains(bye, "receipt-id:r-bye") {
				t.Fatalf("answer %q, then %q", answer, bye)
			}
			if tc.fail == nil && (!strings.Contains(answer, "message-id:") || !strings.Contains(answer, "seq:1")) {
				t.Fatalf("RECEIPT without the message's id and seq: %q", answer)
			}
			sess.Close()
		})
	}
}
