package actors

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/parley-chat/parley/persistence"
)

// Unit tests of the channel actor (channel.go) on one node, with a fake Store.

func postMsg(sys *System, channelID int64, content, clientMsgID string) (persistence.AppendResult, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return sys.Post(ctx, 7, channelID, persistence.NewMessage{Content: content, ClientMsgID: clientMsgID})
}

// While one commit is in flight, the sends that arrive queue up and go in the next commit
// together; each sender gets its own message back, and the subscriber gets them in seq order.
func TestChannelGroupCommitBatchesConcurrentPosts(t *testing.T) {
	store := newFakeStore()
	sys := newTestNode(t, 1, store, nil, nil)
	sub := subscribe(t, sys, 1)

	started, release := store.hold()
	first := make(chan error, 1)
	go func() {
		_, err := postMsg(sys, 1, "first", "")
		first <- err
	}()
	<-started // the first commit is in flight and held

	const n = 20
	type answer struct {
		content string
		res     persistence.AppendResult
		err     error
	}
	answers := make(chan answer, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			c := fmt.Sprintf("m%d", i)
			res, err := postMsg(sys, 1, c, "")
			answers <- answer{c, res, err}
		})
	}
	waitUntilT(t, "the sends queued behind the commit", func() bool { return queued(sys) == n })
	release()
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(answers)
	seqs := map[int64]bool{}
	for a := range answers {
		if a.err != nil {
			t.Fatalf("post %s: %v", a.content, a.err)
		}
		if a.res.Message.Content != a.content {
			t.Fatalf("the sender of %q got %q back", a.content, a.res.Message.Content)
		}
		seqs[a.res.Message.Seq] = true
	}
	if len(seqs) != n {
		t.Fatalf("%d distinct seqs for %d messages", len(seqs), n)
	}
	if got := store.batchSizes(); !slices.Equal(got, []int{1, n}) {
		t.Fatalf("commits of %v messages, want [1 %d]: the queued sends were not committed together", got, n)
	}
	sub.waitSeqs(t, seqRange(1, n+1)...)
}

// queued is how many sends wait in channel actors' queues (the gauge the actor keeps).
func queued(sys *System) int {
	var m dto.Metric
	if err := sys.met.queuedSends.Write(&m); err != nil {
		panic(err)
	}
	return int(m.GetGauge().GetValue())
}

// A failed commit is every sender's error, stores nothing and delivers nothing; the next
// commit goes on as if it had not happened.
func TestChannelCommitFailureReachesSenderAndChangesNothing(t *testing.T) {
	store := newFakeStore()
	sys := newTestNode(t, 1, store, nil, nil)
	sub := subscribe(t, sys, 1)

	boom := errors.New("connection refused")
	store.failNextAppend(boom)
	if _, err := postMsg(sys, 1, "lost", ""); !errors.Is(err, boom) {
		t.Fatalf("post during a failed commit: %v, want the store's error", err)
	}
	if n := store.stored(1); n != 0 {
		t.Fatalf("%d messages stored by a failed commit", n)
	}
	res, err := postMsg(sys, 1, "next", "")
	if err != nil || res.Message.Seq != 1 {
		t.Fatalf("post after the failure: seq %d, %v; want seq 1", res.Message.Seq, err)
	}
	sub.waitSeqs(t, 1)
	if got := sub.all(); len(got) != 3 { // CONNECTED, RECEIPT, MESSAGE
		t.Fatalf("subscriber got %q", got)
	}
}

// A commit whose outcome the store cannot settle is answered outcome_unknown (ADR 0007).
// When it did commit, the channel's next message reveals the gap, the subscriber gets the
// doubtful message from the store before it, in order, and a retry with the same
// clientMsgId is a duplicate, not a second message.
func TestChannelCommitInDoubt(t *testing.T) {
	store := newFakeStore()
	sys := newTestNode(t, 1, store, nil, nil)
	sub := subscribe(t, sys, 1)

	store.doubtNextAppend()
	if _, err := postMsg(sys, 1, "doubtful", "c-1"); !errors.Is(err, persistence.ErrInDoubt) {
		t.Fatalf("post with its commit in doubt: %v, want ErrInDoubt", err)
	}
	if n := store.stored(1); n != 1 {
		t.Fatalf("the doubtful commit stored %d messages, want 1", n)
	}
	res, err := postMsg(sys, 1, "after", "c-2")
	if err != nil || res.Message.Seq != 2 {
		t.Fatalf("post after the doubt: seq %d, %v; want seq 2", res.Message.Seq, err)
	}
	sub.waitSeqs(t, 1, 2)
	if r := store.reads(); !slices.Contains(r, 0) {
		t.Fatalf("store reads after seqs %v: the gap before seq 2 was not filled from the store", r)
	}

	retry, err := postMsg(sys, 1, "doubtful", "c-1")
	if err != nil || !retry.Duplicate || retry.Message.Seq != 1 {
		t.Fatalf("retry with the same clientMsgId: %+v, %v; want the duplicate at seq 1", retry, err)
	}
	res, err = postMsg(sys, 1, "last", "c-3")
	if err != nil || res.Message.Seq != 3 {
		t.Fatalf("post: seq %d, %v; want 3", res.Message.Seq, err)
	}
	sub.waitSeqs(t, 1, 2, 3) // the retry delivered nothing
}

// A send that follows a SUBSCRIBE can commit before the channel's baseline has been read,
// and the baseline read can then see its seq: the commit's messages must still reach the
// waiting subscriber. The baseline that comes back while that commit is in flight is parked
// until the commit is done (cluster_channel.go: baseCommit, localFloor, parked).
func TestChannelBaselineWaitsForACommitInFlight(t *testing.T) {
	store := newFakeStore()
	sys := newTestNode(t, 1, store, nil, nil) // NopBus: the interest is taken all the same
	baseStarted, releaseBase := store.holdBaseline()
	sub := startSubscribe(t, sys, 1)
	<-baseStarted // the channel actor took interest and reads the baseline

	committed, releaseCommit := store.holdLate()
	posted := make(chan error, 1)
	go func() {
		_, err := postMsg(sys, 1, "right after the SUBSCRIBE", "")
		posted <- err
	}()
	<-committed // stored at seq 1; the actor has not heard back
	releaseBase()
	// The baseline (last seq 1) reaches the actor while the commit is in flight. Letting it
	// arrive first is what makes a broken parking fail; the outcome must not depend on it.
	time.Sleep(50 * time.Millisecond)
	releaseCommit()
	if err := <-posted; err != nil {
		t.Fatal(err)
	}
	sub.waitReceipt(t)
	sub.waitSeqs(t, 1)
}
