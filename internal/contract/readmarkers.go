package contract

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/parley-chat/parley/persistence"
)

// ReadMarkers is api.ReadMarkers and actors.ReadMarks: MarkRead raises userID's marker in
// channelID to seq (already clamped to the channel's last seq by the caller) and returns
// the marker after the call; a marker never moves backwards.
//
// MarkThreadRead is the same for userID's marker in the thread of rootID in channelID: the
// same guarantees, and the suite runs twice, once over channel markers and once over
// thread markers (ADR 0040).
type ReadMarkers interface {
	MarkRead(ctx context.Context, userID, channelID, seq int64) (int64, error)
	MarkThreadRead(ctx context.Context, userID, channelID, rootID, seq int64) (int64, error)
}

// ReadMarkersEnv is one ReadMarkers under test over its own database, built afresh for each
// test.
type ReadMarkersEnv struct {
	// Markers is the implementation under test.
	Markers ReadMarkers
	// Store is where the markers end up (Store.ReadMarker); the suite seeds users and
	// channels through it.
	Store *persistence.Store
	// Read returns the marker readers see as soon as MarkRead has returned (the REST
	// readers with a marker cache take the larger of the cache and PostgreSQL). Nil:
	// Store.ReadMarker.
	Read func(ctx context.Context, userID, channelID int64) (int64, error)
	// ReadThread is Read for the marker of the thread of rootID. Nil:
	// Store.ThreadReadMarker.
	ReadThread func(ctx context.Context, userID, channelID, rootID int64) (int64, error)
	// Settle is how long a marker may take to reach PostgreSQL after MarkRead returns;
	// 0: it is there when MarkRead returns.
	Settle time.Duration
	// AnswersBelowStored declares a known gap, as watermill's Features do: MarkRead
	// answers from a cache that does not see a marker PostgreSQL got another way (posting
	// advances the poster's marker in the append), so its answer can be below the marker.
	// Readers must then take the larger of the answer and PostgreSQL's, as the REST
	// handler does; the suite checks that what readers see is still right.
	AnswersBelowStored bool
}

// markersLastSeq is the last seq of the fixture's channels.
const markersLastSeq = 30

// RunReadMarkers runs the ReadMarkers contract against the implementation newEnv builds.
func RunReadMarkers(t *testing.T, newEnv func(t *testing.T) ReadMarkersEnv) {
	tests := []struct {
		name string
		fn   func(t *testing.T, f *markersFixture)
	}{
		{"NeverBackwards", testNeverBackwards},
		{"Independent", testMarkersIndependent},
		{"ConcurrentRaises", testConcurrentRaises},
		{"AfterPosting", testMarkAfterPosting},
	}
	for _, kind := range []string{"Channel", "Thread"} {
		for _, tc := range tests {
			t.Run(kind+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				tc.fn(t, newMarkersFixture(t, newEnv(t), kind == "Thread"))
			})
		}
	}
}

// markersFixture: a workspace of alice's with two public channels of markersLastSeq
// messages each, posted by poster; alice and bob have read nothing yet. With thread, the
// first message of each channel is a thread root and the others its replies, and the
// suite's markers are the thread's (roots[channel]).
type markersFixture struct {
	env               ReadMarkersEnv
	alice, bob, owner int64
	ch, ch2           int64
	thread            bool
	roots             map[int64]int64
}

func newMarkersFixture(t *testing.T, env ReadMarkersEnv, thread bool) *markersFixture {
	t.Helper()
	if env.Markers == nil || env.Store == nil {
		t.Fatal("contract: ReadMarkersEnv needs Markers and Store")
	}
	ctx := context.Background()
	if env.Read == nil {
		env.Read = func(ctx context.Context, userID, channelID int64) (int64, error) {
			return env.Store.ReadMarker(ctx, userID, channelID)
		}
	}
	if env.ReadThread == nil {
		env.ReadThread = func(ctx context.Context, userID, _, rootID int64) (int64, error) {
			return env.Store.ThreadReadMarker(ctx, userID, rootID)
		}
	}
	f := &markersFixture{env: env, thread: thread, roots: map[int64]int64{}}
	for name, id := range map[string]*int64{"owner": &f.owner, "alice": &f.alice, "bob": &f.bob} {
		u, err := env.Store.UpsertUser(ctx, persistence.Identity{Subject: "contract-" + name, Username: name})
		if err != nil {
			t.Fatal(err)
		}
		*id = u.ID
	}
	w, err := env.Store.CreateWorkspace(ctx, f.owner, "contract")
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []int64{f.alice, f.bob} {
		if _, err := env.Store.Pool().Exec(ctx, `INSERT INTO workspace_members (workspace_id, user_id, role)
			VALUES ($1, $2, 'member')`, w.ID, u); err != nil {
			t.Fatal(err)
		}
	}
	for name, c := range map[string]*int64{"contract-one": &f.ch, "contract-two": &f.ch2} {
		ch, err := env.Store.CreateChannel(ctx, w.ID, f.owner, name, persistence.ChannelPublic, "")
		if err != nil {
			t.Fatal(err)
		}
		*c = ch.ID
		batch := make([]persistence.NewMessage, markersLastSeq)
		for i := range batch {
			batch[i] = persistence.NewMessage{UserID: f.owner, Content: fmt.Sprintf("m%d", i+1)}
		}
		if thread {
			res, err := env.Store.AppendMessages(ctx, ch.ID, batch[:1])
			if err != nil || res[0].Err != nil {
				t.Fatalf("root: %v %v", err, res)
			}
			f.roots[ch.ID] = res[0].Message.ID
			batch = batch[1:]
			for i := range batch {
				batch[i].ParentID = res[0].Message.ID
			}
		}
		if _, err := env.Store.AppendMessages(ctx, ch.ID, batch); err != nil {
			t.Fatal(err)
		}
		for _, u := range []int64{f.alice, f.bob} {
			if _, err := env.Store.AddChannelMember(ctx, ch.ID, u); err != nil {
				t.Fatal(err)
			}
		}
	}
	return f
}

// markRead is MarkRead or, in the thread run, MarkThreadRead of the channel's thread.
func (f *markersFixture) markRead(ctx context.Context, user, channel, seq int64) (int64, error) {
	if f.thread {
		return f.env.Markers.MarkThreadRead(ctx, user, channel, f.roots[channel], seq)
	}
	return f.env.Markers.MarkRead(ctx, user, channel, seq)
}

// read is what readers see, and stored what PostgreSQL holds, of the marker under test.
func (f *markersFixture) read(ctx context.Context, user, channel int64) (int64, error) {
	if f.thread {
		return f.env.ReadThread(ctx, user, channel, f.roots[channel])
	}
	return f.env.Read(ctx, user, channel)
}

func (f *markersFixture) stored(ctx context.Context, user, channel int64) (int64, error) {
	if f.thread {
		return f.env.Store.ThreadReadMarker(ctx, user, f.roots[channel])
	}
	return f.env.Store.ReadMarker(ctx, user, channel)
}

func (f *markersFixture) mark(t *testing.T, user, channel, seq int64) int64 {
	t.Helper()
	got, err := f.markRead(context.Background(), user, channel, seq)
	if err != nil {
		t.Fatalf("MarkRead(%d, %d, %d): %v", user, channel, seq, err)
	}
	return got
}

// expect checks what readers see now and what PostgreSQL holds once the marker settled.
func (f *markersFixture) expect(t *testing.T, user, channel, want int64) {
	t.Helper()
	ctx := context.Background()
	if got, err := f.read(ctx, user, channel); err != nil || got != want {
		t.Errorf("readers see marker %d (%v) of user %d in %d, want %d", got, err, user, channel, want)
	}
	deadline := time.Now().Add(f.env.Settle)
	for {
		got, err := f.stored(ctx, user, channel)
		if err != nil {
			t.Fatal(err)
		}
		if got > want {
			t.Fatalf("PostgreSQL holds marker %d of user %d in %d, above %d", got, user, channel, want)
		}
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("PostgreSQL holds marker %d of user %d in %d after %s, want %d", got, user, channel, f.env.Settle, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// testNeverBackwards: MarkRead returns the marker after the call, which a lower seq does
// not lower.
func testNeverBackwards(t *testing.T, f *markersFixture) {
	steps := []struct{ seq, want int64 }{{0, 0}, {5, 5}, {3, 5}, {5, 5}, {0, 5}, {12, 12}, {markersLastSeq, markersLastSeq}, {1, markersLastSeq}}
	for _, s := range steps {
		if got := f.mark(t, f.alice, f.ch, s.seq); got != s.want {
			t.Fatalf("MarkRead(%d) returned %d, want %d", s.seq, got, s.want)
		}
		f.expect(t, f.alice, f.ch, s.want)
	}
}

// testMarkersIndependent: a marker is per user and channel.
func testMarkersIndependent(t *testing.T, f *markersFixture) {
	f.mark(t, f.alice, f.ch, 7)
	f.mark(t, f.bob, f.ch, 3)
	f.mark(t, f.alice, f.ch2, 9)
	f.expect(t, f.alice, f.ch, 7)
	f.expect(t, f.bob, f.ch, 3)
	f.expect(t, f.alice, f.ch2, 9)
	f.expect(t, f.bob, f.ch2, 0)
}

// testConcurrentRaises: racing MarkReads leave the highest seq, and each returns a marker
// at or above its own seq that never falls between one call of a caller and its next.
func testConcurrentRaises(t *testing.T, f *markersFixture) {
	const callers, each = 8, 25
	var wg sync.WaitGroup
	for c := range callers {
		wg.Go(func() {
			var prev int64
			for i := range each {
				seq := int64((c*7+i*13)%(markersLastSeq-1)) + 1 // 1..29, scattered
				got, err := f.markRead(context.Background(), f.bob, f.ch, seq)
				if err != nil {
					t.Errorf("MarkRead: %v", err)
					return
				}
				if got < seq || got < prev || got >= markersLastSeq {
					t.Errorf("caller %d: MarkRead(%d) returned %d after %d", c, seq, got, prev)
				}
				prev = got
			}
		})
	}
	wg.Wait()
	f.expect(t, f.bob, f.ch, markersLastSeq-1)
}

// testMarkAfterPosting: posting advances the poster's marker to their message (the store
// does it in the append; in a thread, replying advances the replier's thread marker); a
// later MarkRead of an older seq does not take it back.
func testMarkAfterPosting(t *testing.T, f *markersFixture) {
	ctx := context.Background()
	f.mark(t, f.alice, f.ch, 10)
	res, err := f.env.Store.AppendMessages(ctx, f.ch, []persistence.NewMessage{{UserID: f.alice, Content: "mine", ParentID: f.roots[f.ch]}})
	if err != nil || res[0].Err != nil {
		t.Fatalf("post: %v %v", err, res)
	}
	posted := res[0].Message.Seq
	got := f.mark(t, f.alice, f.ch, 20)
	switch {
	case f.env.AnswersBelowStored && got != 20 && got != posted:
		t.Errorf("MarkRead(20) after alice posted at seq %d returned %d, want 20 (the cache's) or %d", posted, got, posted)
	case !f.env.AnswersBelowStored && got != posted:
		t.Errorf("MarkRead(20) after alice posted at seq %d returned %d, want %d", posted, got, posted)
	}
	f.expect(t, f.alice, f.ch, posted)
}
