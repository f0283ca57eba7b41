package contract

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-chat/parley/persistence"
)

// Poster is api.Poster: it appends a message for a user who may post in the channel,
// returns once the message is committed, returns a per-message rejection as the error,
// and delivers the message and its mentions to subscribers.
type Poster interface {
	Post(ctx context.Context, userID, channelID int64, m persistence.NewMessage) (persistence.AppendResult, error)
}

// PosterEnv is one Poster under test over its own database, built afresh for each test.
type PosterEnv struct {
	// Poster is the implementation under test.
	Poster Poster
	// Store is the store the Poster writes to: the suite seeds users, a workspace and
	// channels through it and reads back what was committed.
	Store *persistence.Store
	// NewUser creates a user called name and returns its id. Nil: Store.UpsertUser.
	NewUser func(t *testing.T, name string) int64
	// Watch subscribes userID to channelID's new messages and to userID's mentions as the
	// Poster delivers them; the suite calls it before posting. Required.
	Watch func(t *testing.T, userID, channelID int64) Watcher
}

// Watcher is what one subscriber receives. The channels need not ever close.
type Watcher struct {
	Messages <-chan persistence.Message      // new messages of the channel
	Mentions <-chan persistence.MentionEvent // the subscriber's mentions
}

// deliveryWait bounds each wait for a delivery; it only matters when one is missing.
const deliveryWait = 10 * time.Second

// RunPoster runs the Poster contract against the implementation newEnv builds.
func RunPoster(t *testing.T, newEnv func(t *testing.T) PosterEnv) {
	tests := []struct {
		name string
		fn   func(t *testing.T, f *posterFixture)
	}{
		{"CommittedOnReturn", testCommittedOnReturn},
		{"ConcurrentSeqs", testConcurrentSeqs},
		{"ClientMsgIDRetry", testClientMsgIDRetry},
		{"ConcurrentRetries", testConcurrentRetries},
		{"Rejections", testRejections},
		{"RejectionAmidBatch", testRejectionAmidBatch},
		{"ContextDone", testContextDone},
		{"ContextEndsInFlight", testContextEndsInFlight},
		{"Mentions", testMentions},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newPosterFixture(t, newEnv(t)))
		})
	}
}

// posterFixture: alice owns a workspace with two public channels, bob is a member, and both
// watch ch.
type posterFixture struct {
	env              PosterEnv
	alice, bob       int64
	ch, other        int64
	aliceSaw, bobSaw Watcher
}

func newPosterFixture(t *testing.T, env PosterEnv) *posterFixture {
	t.Helper()
	if env.Poster == nil || env.Store == nil || env.Watch == nil {
		t.Fatal("contract: PosterEnv needs Poster, Store and Watch")
	}
	ctx := context.Background()
	newUser := env.NewUser
	if newUser == nil {
		newUser = func(t *testing.T, name string) int64 {
			u, err := env.Store.UpsertUser(ctx, persistence.Identity{Subject: "contract-" + name, Username: name})
			if err != nil {
				t.Fatal(err)
			}
			return u.ID
		}
	}
	f := &posterFixture{env: env, alice: newUser(t, "alice"), bob: newUser(t, "bob")}
	w, err := env.Store.CreateWorkspace(ctx, f.alice, "contract")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.Store.Pool().Exec(ctx, `INSERT INTO workspace_members (workspace_id, user_id, role)
		VALUES ($1, $2, 'member')`, w.ID, f.bob); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]*int64{"contract-one": &f.ch, "contract-two": &f.other} {
		ch, err := env.Store.CreateChannel(ctx, w.ID, f.alice, name, persistence.ChannelPublic, "")
		if err != nil {
			t.Fatal(err)
		}
		*c = ch.ID
		if _, err := env.Store.AddChannelMember(ctx, ch.ID, f.bob); err != nil {
			t.Fatal(err)
		}
	}
	f.aliceSaw = env.Watch(t, f.alice, f.ch)
	f.bobSaw = env.Watch(t, f.bob, f.ch)
	return f
}

func (f *posterFixture) post(t *testing.T, user int64, m persistence.NewMessage) persistence.AppendResult {
	t.Helper()
	r, err := f.env.Poster.Post(context.Background(), user, f.ch, m)
	if err != nil {
		t.Fatalf("post %q: %v", m.Content, err)
	}
	return r
}

// stored is every message of ch, by seq.
func (f *posterFixture) stored(t *testing.T) []persistence.Message {
	t.Helper()
	ms, err := f.env.Store.MessagesAfter(context.Background(), f.ch, 0, 10_000)
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

func (f *posterFixture) lastSeq(t *testing.T, channelID int64) int64 {
	t.Helper()
	var n int64
	if err := f.env.Store.Pool().QueryRow(context.Background(), `SELECT last_seq FROM channels WHERE id = $1`, channelID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// deliveredUntilSentinel posts a sentinel message and returns how many times each message
// id reached w before it: what was delivered for everything posted earlier.
func (f *posterFixture) deliveredUntilSentinel(t *testing.T, w Watcher) map[int64]int {
	t.Helper()
	return f.deliveriesUntilSentinel(t, w)[0]
}

// deliveriesUntilSentinel is deliveredUntilSentinel for several watchers and one sentinel.
func (f *posterFixture) deliveriesUntilSentinel(t *testing.T, ws ...Watcher) []map[int64]int {
	t.Helper()
	s := f.post(t, f.alice, persistence.NewMessage{Content: "sentinel"})
	out := make([]map[int64]int, len(ws))
	timeout := time.After(deliveryWait)
	for i, w := range ws {
		seen := map[int64]int{}
		out[i] = seen
	wait:
		for {
			select {
			case m := <-w.Messages:
				if m.ID == s.Message.ID {
					break wait
				}
				seen[m.ID]++
			case <-timeout:
				t.Fatalf("the sentinel message was not delivered within %s (saw %v)", deliveryWait, seen)
			}
		}
	}
	return out
}

// testCommittedOnReturn: what Post returns is in PostgreSQL already, and is delivered once.
func testCommittedOnReturn(t *testing.T, f *posterFixture) {
	r := f.post(t, f.alice, persistence.NewMessage{Content: "hello"})
	m := r.Message
	if m.ID == 0 || m.Seq != 1 || m.ChannelID != f.ch || m.UserID != f.alice || m.Content != "hello" || r.Duplicate {
		t.Fatalf("result %+v, want a new message at seq 1 of alice in %d", r, f.ch)
	}
	got := f.stored(t) // no polling: Post returns once committed
	if len(got) != 1 || got[0].ID != m.ID || got[0].Seq != m.Seq || got[0].Content != "hello" {
		t.Fatalf("stored %+v, want the returned message %+v", got, m)
	}
	if n := f.lastSeq(t, f.ch); n != 1 {
		t.Fatalf("channel last_seq %d, want 1", n)
	}
	for i, d := range f.deliveriesUntilSentinel(t, f.aliceSaw, f.bobSaw) {
		if d[m.ID] != 1 || len(d) != 1 {
			t.Errorf("%s was delivered %v, want message %d once", [...]string{"alice", "bob"}[i], d, m.ID)
		}
	}
}

// testConcurrentSeqs: concurrent posts get distinct, gapless seqs, increasing for each
// poster, all stored and each delivered once.
func testConcurrentSeqs(t *testing.T, f *posterFixture) {
	const writers, each = 6, 12
	results := make([][]persistence.Message, writers)
	var wg sync.WaitGroup
	for w := range writers {
		user := f.alice
		if w%2 == 1 {
			user = f.bob
		}
		wg.Go(func() {
			for i := range each {
				r, err := f.env.Poster.Post(context.Background(), user, f.ch, persistence.NewMessage{Content: fmt.Sprintf("w%d m%d", w, i)})
				if err != nil {
					t.Errorf("writer %d post %d: %v", w, i, err)
					return
				}
				results[w] = append(results[w], r.Message)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	bySeq := map[int64]persistence.Message{}
	for w, ms := range results {
		for i, m := range ms {
			if i > 0 && m.Seq <= ms[i-1].Seq {
				t.Errorf("writer %d: seq %d after %d, want increasing", w, m.Seq, ms[i-1].Seq)
			}
			if prev, dup := bySeq[m.Seq]; dup {
				t.Fatalf("seq %d handed to %d and %d", m.Seq, prev.ID, m.ID)
			}
			bySeq[m.Seq] = m
		}
	}
	stored := f.stored(t)
	if len(stored) != writers*each {
		t.Fatalf("%d messages stored, want %d", len(stored), writers*each)
	}
	for i, s := range stored {
		if s.Seq != int64(i+1) || bySeq[s.Seq].ID != s.ID || bySeq[s.Seq].Content != s.Content {
			t.Fatalf("stored seq %d is %+v, Post returned %+v (seqs must be gapless from 1)", i+1, s, bySeq[int64(i+1)])
		}
	}
	d := f.deliveredUntilSentinel(t, f.bobSaw)
	for _, s := range stored {
		if d[s.ID] != 1 {
			t.Errorf("message at seq %d delivered %d times, want once", s.Seq, d[s.ID])
		}
	}
}

// testClientMsgIDRetry: a retry with the same clientMsgId returns the first message,
// writes nothing and delivers nothing; another user's same clientMsgId is a new message.
func testClientMsgIDRetry(t *testing.T, f *posterFixture) {
	nm := persistence.NewMessage{Content: "once", ClientMsgID: "c-1"}
	first := f.post(t, f.alice, nm)
	retry := f.post(t, f.alice, nm)
	if first.Duplicate || !retry.Duplicate || retry.Message.ID != first.Message.ID || retry.Message.Seq != first.Message.Seq ||
		retry.Message.ClientMsgID != "c-1" {
		t.Fatalf("first %+v, retry %+v: want the retry to return the first message marked Duplicate", first, retry)
	}
	bobs := f.post(t, f.bob, nm)
	if bobs.Duplicate || bobs.Message.ID == first.Message.ID || bobs.Message.Seq != 2 {
		t.Fatalf("bob's message with alice's clientMsgId: %+v, want a new message at seq 2", bobs)
	}
	if n := len(f.stored(t)); n != 2 || f.lastSeq(t, f.ch) != 2 {
		t.Fatalf("%d messages stored, last_seq %d; want 2 and 2", n, f.lastSeq(t, f.ch))
	}
	d := f.deliveredUntilSentinel(t, f.bobSaw)
	if d[first.Message.ID] != 1 || d[bobs.Message.ID] != 1 || len(d) != 2 {
		t.Errorf("delivered %v, want each of the two messages once", d)
	}
}

// testConcurrentRetries: retries racing each other (the same clientMsgId at once) make one
// message, and every one of them returns it.
func testConcurrentRetries(t *testing.T, f *posterFixture) {
	const racers = 8
	ids := make([]int64, racers)
	fresh := make([]bool, racers)
	var wg sync.WaitGroup
	for i := range racers {
		wg.Go(func() {
			r, err := f.env.Poster.Post(context.Background(), f.alice, f.ch, persistence.NewMessage{Content: "race", ClientMsgID: "c-race"})
			if err != nil {
				t.Errorf("racer %d: %v", i, err)
				return
			}
			ids[i], fresh[i] = r.Message.ID, !r.Duplicate
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	news := 0
	for i := range racers {
		if ids[i] != ids[0] {
			t.Fatalf("racers got messages %v, want one", ids)
		}
		if fresh[i] {
			news++
		}
	}
	if news != 1 {
		t.Errorf("%d racers were told the message is new, want 1", news)
	}
	if s := f.stored(t); len(s) != 1 || s[0].ID != ids[0] {
		t.Fatalf("stored %+v, want the one message %d", s, ids[0])
	}
	if d := f.deliveredUntilSentinel(t, f.bobSaw); d[ids[0]] != 1 || len(d) != 1 {
		t.Errorf("delivered %v, want message %d once", d, ids[0])
	}
}

// testRejections: a per-message rejection is Post's error; nothing is written, no seq is
// used up and nothing is delivered.
func testRejections(t *testing.T, f *posterFixture) {
	root := f.post(t, f.alice, persistence.NewMessage{Content: "root"}).Message
	reply := f.post(t, f.bob, persistence.NewMessage{Content: "reply", ParentID: root.ID}).Message
	elsewhere, err := f.env.Poster.Post(context.Background(), f.alice, f.other, persistence.NewMessage{Content: "elsewhere"})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		m    persistence.NewMessage
		want error
	}{
		{"unknown parent", persistence.NewMessage{Content: "x", ParentID: 1 << 60}, persistence.ErrBadParent},
		{"parent in another channel", persistence.NewMessage{Content: "x", ParentID: elsewhere.Message.ID}, persistence.ErrBadParent},
		{"reply to a reply", persistence.NewMessage{Content: "x", ParentID: reply.ID}, persistence.ErrBadParent},
		{"blank content", persistence.NewMessage{Content: " \n\t"}, persistence.ErrInvalid},
		{"content too long", persistence.NewMessage{Content: strings.Repeat("é", persistence.MaxContentRunes+1)}, persistence.ErrInvalid},
		{"clientMsgId too long", persistence.NewMessage{Content: "x", ClientMsgID: strings.Repeat("c", 65)}, persistence.ErrInvalid},
	}
	for _, tc := range cases {
		_, err := f.env.Poster.Post(context.Background(), f.bob, f.ch, tc.m)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: error %v, want %v", tc.name, err, tc.want)
		}
	}
	if n := f.lastSeq(t, f.ch); n != 2 || len(f.stored(t)) != 2 {
		t.Fatalf("after the rejections: last_seq %d and %d messages, want 2 and 2", n, len(f.stored(t)))
	}
	if d := f.deliveredUntilSentinel(t, f.bobSaw); len(d) != 2 || d[root.ID] != 1 || d[reply.ID] != 1 {
		t.Errorf("delivered %v, want only the root %d and the reply %d", d, root.ID, reply.ID)
	}
	if s := f.lastSeq(t, f.ch); s != 3 {
		t.Errorf("the sentinel took seq %d, want 3: a rejection used up a seq", s)
	}
}

// testRejectionAmidBatch: rejections posted at the same time as good messages refuse only
// themselves; the good ones commit with gapless seqs.
func testRejectionAmidBatch(t *testing.T, f *posterFixture) {
	const n = 20
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		m := persistence.NewMessage{Content: fmt.Sprintf("m%d", i)}
		if i%2 == 1 {
			m.ParentID = 1<<60 + int64(i) // unknown parent
		}
		wg.Go(func() { _, errs[i] = f.env.Poster.Post(context.Background(), f.alice, f.ch, m) })
	}
	wg.Wait()
	for i, err := range errs {
		switch {
		case i%2 == 0 && err != nil:
			t.Errorf("good message %d: %v", i, err)
		case i%2 == 1 && !errors.Is(err, persistence.ErrBadParent):
			t.Errorf("bad message %d: %v, want ErrBadParent", i, err)
		}
	}
	stored := f.stored(t)
	if len(stored) != n/2 || f.lastSeq(t, f.ch) != n/2 {
		t.Fatalf("%d stored, last_seq %d; want %d and %d", len(stored), f.lastSeq(t, f.ch), n/2, n/2)
	}
	for i, m := range stored {
		if m.Seq != int64(i+1) || m.ParentID != nil {
			t.Fatalf("stored %+v at index %d: want the good messages at seqs 1..%d", m, i, n/2)
		}
	}
}

// testContextDone: Post with a context that is already done returns its error and posts
// nothing.
func testContextDone(t *testing.T, f *posterFixture) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := f.env.Poster.Post(ctx, f.alice, f.ch, persistence.NewMessage{Content: "never", ClientMsgID: "c-never"})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("post with a cancelled context: %v, want context.Canceled", err)
	}
	if d := f.deliveredUntilSentinel(t, f.bobSaw); len(d) != 0 {
		t.Errorf("delivered %v before the sentinel, want nothing", d)
	}
	if s := f.stored(t); len(s) != 1 || s[0].Content != "sentinel" {
		t.Fatalf("stored %+v, want the sentinel alone", s)
	}
}

// testContextEndsInFlight: a post whose context ends while it waits either committed or
// did not; a retry with its clientMsgId settles which, and never makes a second message.
func testContextEndsInFlight(t *testing.T, f *posterFixture) {
	const n = 30
	first := make([]persistence.AppendResult, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			// From already over to comfortably long: some fail, some commit, some race.
			ctx, cancel := context.WithTimeout(context.Background(), time.Duration(i*i)*50*time.Microsecond)
			defer cancel()
			first[i], errs[i] = f.env.Poster.Post(ctx, f.alice, f.ch, persistence.NewMessage{Content: fmt.Sprintf("m%d", i), ClientMsgID: fmt.Sprintf("c-%d", i)})
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil && !errors.Is(errs[i], context.DeadlineExceeded) {
			t.Errorf("post %d: %v, want success or context.DeadlineExceeded", i, errs[i])
		}
		retry := f.post(t, f.alice, persistence.NewMessage{Content: fmt.Sprintf("m%d", i), ClientMsgID: fmt.Sprintf("c-%d", i)})
		if errs[i] == nil && (!retry.Duplicate || retry.Message.ID != first[i].Message.ID) {
			t.Errorf("post %d committed as %d; its retry returned %+v", i, first[i].Message.ID, retry)
		}
	}
	stored := f.stored(t)
	if len(stored) != n {
		t.Fatalf("%d messages stored after the retries, want %d (one per clientMsgId)", len(stored), n)
	}
	for i, m := range stored {
		if m.Seq != int64(i+1) {
			t.Fatalf("stored seq %d at index %d: want gapless seqs", m.Seq, i)
		}
	}
}

// testMentions: a mention is in the result, stored, and delivered to the mentioned user
// only once, however often the message is retried; the author is never mentioned.
func testMentions(t *testing.T, f *posterFixture) {
	nm := persistence.NewMessage{Content: "@bob look, and @alice", ClientMsgID: "c-m"}
	r := f.post(t, f.alice, nm)
	if len(r.Mentions) != 1 || r.Mentions[0].UserID != f.bob || r.Mentions[0].MessageID != r.Message.ID {
		t.Fatalf("mentions %+v, want bob's alone (never the author)", r.Mentions)
	}
	if retry := f.post(t, f.alice, nm); !retry.Duplicate {
		t.Fatalf("retry %+v, want Duplicate", retry)
	}
	items, err := f.env.Store.Mentions(context.Background(), f.bob, false, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 1 || items[0].MessageID != r.Message.ID {
		t.Fatalf("bob's stored mentions %+v, want the one of message %d", items, r.Message.ID)
	}
	select {
	case ev := <-f.bobSaw.Mentions:
		if ev.Type != persistence.EventMention || ev.Mention.UserID != f.bob || ev.Message.ID != r.Message.ID {
			t.Fatalf("bob's mention event %+v", ev)
		}
	case <-time.After(deliveryWait):
		t.Fatalf("bob's mention was not delivered within %s", deliveryWait)
	}
	// A second mention after the retry: had the retry delivered the first again, bob
	// would see it before this one.
	r2 := f.post(t, f.bob, persistence.NewMessage{Content: "@alice and @bob again"})
	f.post(t, f.alice, persistence.NewMessage{Content: "@bob again"})
	select {
	case ev := <-f.bobSaw.Mentions:
		if ev.Message.ID == r.Message.ID || ev.Message.UserID != f.alice {
			t.Fatalf("bob's next mention event %+v, want the newest one of alice", ev)
		}
	case <-time.After(deliveryWait):
		t.Fatalf("bob's second mention was not delivered within %s", deliveryWait)
	}
	select {
	case ev := <-f.aliceSaw.Mentions:
		if ev.Message.ID != r2.Message.ID {
			t.Fatalf("alice's mention event %+v, want the one of message %d", ev, r2.Message.ID)
		}
	case <-time.After(deliveryWait):
		t.Fatalf("alice's mention was not delivered within %s", deliveryWait)
	}
}
