// Package bustest is the contract suite of cluster.Bus: every implementation runs it (as
// watermill's Pub/Subs share one test suite), so the actors can rely on the same semantics
// from the Redis bus, the in-memory bus, and whatever bus comes next.
package bustest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-chat/parley/cluster"
)

// Harness builds the clusters the suite runs on.
type Harness struct {
	// NewCluster starts a cluster isolated from every other one and returns the function
	// that adds a node to it. Nodes are closed at the test's cleanup (closing twice is fine).
	NewCluster func(t *testing.T) (newNode func() cluster.Bus)
	// Cut, when set, cuts node off from the others until restore is called, as a network
	// partition would. Without it the tests of reconnection are skipped.
	Cut func(t *testing.T, node cluster.Bus) (restore func())
	// MaxPayload is the nodes' payload limit. Default cluster.DefaultBusMaxPayload.
	MaxPayload int
}

// Run runs the contract suite. The subtests run in parallel.
func Run(t *testing.T, h Harness) {
	if h.MaxPayload == 0 {
		h.MaxPayload = cluster.DefaultBusMaxPayload
	}
	tests := []struct {
		name string
		fn   func(*testing.T, Harness)
	}{
		{"DeliversToOtherNodesOnly", testDeliversToOtherNodesOnly},
		{"KeepsTheOrderOfPosts", testKeepsTheOrderOfPosts},
		{"OnlyHeldTopics", testOnlyHeldTopics},
		{"NothingIsRetained", testNothingIsRetained},
		{"SubscriptionsShareATopic", testSubscriptionsShareATopic},
		{"EverythingAfterResyncIsDelivered", testEverythingAfterResyncIsDelivered},
		{"DoneCallbacks", testDoneCallbacks},
		{"PayloadsAreCopied", testPayloadsAreCopied},
		{"Close", testClose},
		{"ConcurrentUse", testConcurrentUse},
		{"ResyncAfterCut", testResyncAfterCut},
		{"Broadcast", testBroadcast},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, h)
		})
	}
}

// nodes starts a cluster of n nodes, each Healthy.
func nodes(t *testing.T, h Harness, n int) []cluster.Bus {
	t.Helper()
	newNode := h.NewCluster(t)
	out := make([]cluster.Bus, n)
	for i := range out {
		out[i] = newNode()
	}
	for i, b := range out {
		waitFor(t, fmt.Sprintf("node %d healthy", i), b.Healthy)
	}
	return out
}

// Three nodes on one topic: each post reaches the two others, never its own node.
func testDeliversToOtherNodesOnly(t *testing.T, h Harness) {
	ns := nodes(t, h, 3)
	recs := make([]*recorder, 3)
	for i, b := range ns {
		recs[i] = &recorder{}
		b.SubscribeChannel(1, recs[i])
	}
	for _, r := range recs {
		r.waitLive(t)
	}
	post(t, ns[0], 1, "a1")
	post(t, ns[1], 1, "b1")
	// a1 was delivered everywhere before b1 was posted: an echo of a1 to node 0 would come
	// before b1.
	recs[0].waitFor(t, "b1")
	recs[1].waitFor(t, "a1")
	recs[2].waitFor(t, "a1", "b1")
	if ns[0].Healthy() && ns[0].Ping(t.Context()) != nil {
		t.Error("a Healthy node's Ping failed")
	}
}

// Two posts, then thousands, on a channel and a user topic interleaved: each topic's
// messages arrive in the order posted, each once.
func testKeepsTheOrderOfPosts(t *testing.T, h Harness) {
	ns := nodes(t, h, 2)
	a, b := ns[0], ns[1]
	var ch, user recorder
	b.SubscribeChannel(9, &ch)
	b.SubscribeUser(9, &user)
	ch.waitLive(t)
	user.waitLive(t)
	if err := a.Post(9, []byte("first"), nil); err != nil {
		t.Fatal(err)
	}
	if err := a.Post(9, []byte("second"), nil); err != nil {
		t.Fatal(err)
	}
	ch.waitFor(t, "first", "second")

	const n = 2000
	var want []string
	var pending sync.WaitGroup
	var failed atomic.Value
	done := func(err error) {
		if err != nil {
			failed.Store(err)
		}
		pending.Done()
	}
	for i := range n {
		p := fmt.Sprintf("m%d", i)
		want = append(want, p)
		pending.Add(2)
		if err := a.Post(9, []byte(p), done); err != nil {
			t.Fatalf("Post %d: %v", i, err)
		}
		if err := a.PostUser(9, []byte(p), done); err != nil {
			t.Fatalf("PostUser %d: %v", i, err)
		}
	}
	pending.Wait()
	if err := failed.Load(); err != nil {
		t.Fatalf("a Post failed: %v", err)
	}
	ch.waitFor(t, append([]string{"first", "second"}, want...)...)
	user.waitFor(t, want...)
}

// A node gets the traffic of the topics it holds and of no other; a channel and a user with
// the same id are different topics.
func testOnlyHeldTopics(t *testing.T, h Harness) {
	ns := nodes(t, h, 2)
	a, b := ns[0], ns[1]
	var ch1, user2 recorder
	b.SubscribeChannel(1, &ch1)
	b.SubscribeUser(2, &user2)
	ch1.waitLive(t)
	user2.waitLive(t)
	postUser(t, a, 1, "user 1")
	post(t, a, 2, "channel 2")
	post(t, a, 1, "channel 1")
	postUser(t, a, 2, "user 2")
	ch1.waitFor(t, "channel 1")
	user2.waitFor(t, "user 2")
}

// A message posted while no node holds its topic is not kept for a later subscriber.
func testNothingIsRetained(t *testing.T, h Harness) {
	ns := nodes(t, h, 2)
	a, b := ns[0], ns[1]
	post(t, a, 7, "before")
	var r recorder
	b.SubscribeChannel(7, &r)
	r.waitLive(t)
	post(t, a, 7, "after")
	r.waitFor(t, "after")
}

// Subscriptions of one node share the topic: each gets every message, each is told when it
// is live, closing one leaves the others, and holding the topic again makes a fresh start.
func testSubscriptionsShareATopic(t *testing.T, h Harness) {
	ns := nodes(t, h, 2)
	a, b := ns[0], ns[1]
	var h1, h2 recorder
	s1 := b.SubscribeChannel(3, &h1)
	h1.waitLive(t)
	s2 := b.SubscribeChannel(3, &h2)
	h2.waitLive(t) // a subscription to a topic already live gets its Resync too
	post(t, a, 3, "p1")
	h1.waitFor(t, "p1")
	h2.waitFor(t, "p1")

	s1.Close()
	s1.Close() // idempotent
	post(t, a, 3, "p2")
	h2.waitFor(t, "p1", "p2")
	if got := h1.payloads(); !slices.Equal(got, []string{"p1"}) {
		t.Fatalf("a closed subscription got %q, want only p1", got)
	}

	s2.Close()
	post(t, a, 3, "p3") // nobody on b holds the topic
	var h3 recorder
	b.SubscribeChannel(3, &h3)
	h3.waitLive(t)
	post(t, a, 3, "p4")
	// p3 was posted before h3's Resync: it may come (RedisBus's unsubscribe had not reached
	// Redis yet) or not; p4 must.
	waitFor(t, "p4", func() bool { return slices.Contains(h3.payloads(), "p4") })
	if got := h3.payloads(); got[len(got)-1] != "p4" || len(got) > 2 {
		t.Fatalf("a new subscription got %q, want p4 last (after p3 at most)", got)
	}
	if got := h2.payloads(); !slices.Equal(got, []string{"p1", "p2"}) {
		t.Fatalf("a closed subscription got %q, want p1 p2", got)
	}
	if n := h3.resyncCount(); n != 1 {
		t.Fatalf("a new subscription was told to resync %d times, want 1", n)
	}
}

// Resync's promise: whatever is posted once it has been called is delivered, on a topic
// subscribed the moment before as on one held for long.
func testEverythingAfterResyncIsDelivered(t *testing.T, h Harness) {
	ns := nodes(t, h, 2)
	a, b := ns[0], ns[1]
	for i := range int64(30) {
		var r recorder
		var s cluster.Subscription
		if i%2 == 0 {
			s = b.SubscribeChannel(100+i, &r)
		} else {
			s = b.SubscribeUser(100+i, &r)
		}
		r.waitLive(t)
		if i%2 == 0 {
			post(t, a, 100+i, "live")
		} else {
			postUser(t, a, 100+i, "live")
		}
		r.waitFor(t, "live")
		s.Close()
	}
}

// done is called once per accepted Post, with nil when it was sent; a refused Post (too
// large, bus closed) returns the error and never calls done.
func testDoneCallbacks(t *testing.T, h Harness) {
	ns := nodes(t, h, 2)
	a, b := ns[0], ns[1]
	var r recorder
	b.SubscribeChannel(5, &r)
	r.waitLive(t)
	const n = 200
	calls := make([]atomic.Int32, n)
	var errs atomic.Int32
	for i := range n {
		if err := a.Post(5, []byte{byte(i)}, func(err error) {
			calls[i].Add(1)
			if err != nil {
				errs.Add(1)
			}
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Post(5, []byte("no callback"), nil); err != nil {
		t.Fatal(err)
	}
	r.waitCount(t, n+1)
	waitFor(t, "every done", func() bool {
		for i := range calls {
			if calls[i].Load() == 0 {
				return false
			}
		}
		return true
	})
	for i := range calls {
		if c := calls[i].Load(); c != 1 {
			t.Fatalf("done of post %d called %d times", i, c)
		}
	}
	if e := errs.Load(); e != 0 {
		t.Fatalf("%d posts reported errors on a healthy bus", e)
	}

	refused := func(err error) { t.Errorf("done called for a refused post: %v", err) }
	if err := a.Post(5, make([]byte, h.MaxPayload+1), refused); !errors.Is(err, cluster.ErrPayloadTooLarge) {
		t.Fatalf("oversized Post: %v, want ErrPayloadTooLarge", err)
	}
	if err := a.PostUser(5, make([]byte, h.MaxPayload+1), refused); !errors.Is(err, cluster.ErrPayloadTooLarge) {
		t.Fatalf("oversized PostUser: %v, want ErrPayloadTooLarge", err)
	}
	// A large payload arrives whole.
	big := bytes.Repeat([]byte("0123456789abcdef"), min(h.MaxPayload, 64<<10)/16)
	post(t, a, 5, string(big))
	r.waitCount(t, n+2)
	if got := r.payloads()[n+1]; got != string(big) {
		t.Fatalf("a %d-byte payload arrived as %d bytes", len(big), len(got))
	}
}

// A caller may reuse its buffer once Post has returned.
func testPayloadsAreCopied(t *testing.T, h Harness) {
	ns := nodes(t, h, 2)
	a, b := ns[0], ns[1]
	var r recorder
	b.SubscribeChannel(6, &r)
	r.waitLive(t)
	buf := []byte("original")
	if err := a.Post(6, buf, nil); err != nil {
		t.Fatal(err)
	}
	copy(buf, "REUSED!!")
	r.waitFor(t, "original")
}

// Close flushes what was posted, refuses what comes after, and no handler runs once it
// has returned.
func testClose(t *testing.T, h Harness) {
	ns := nodes(t, h, 3)
	a, b, c := ns[0], ns[1], ns[2]
	var onB recorder
	b.SubscribeChannel(8, &onB)
	var closedCalls atomic.Int32
	var cClosed atomic.Bool
	var onC recorder
	c.SubscribeChannel(8, cluster.HandlerFuncs{
		OnDeliver: func(p []byte) {
			if cClosed.Load() {
				closedCalls.Add(1)
			}
			onC.Deliver(p)
		},
		OnResync: onC.Resync,
	})
	onB.waitLive(t)
	onC.waitLive(t)

	var want []string
	for i := range 20 {
		p := fmt.Sprintf("last-%d", i)
		want = append(want, p)
		if err := a.Post(8, []byte(p), nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	onB.waitFor(t, want...) // Close flushed the queue
	if err := a.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	refused := func(err error) { t.Errorf("done called for a post after Close: %v", err) }
	if err := a.Post(8, []byte("x"), refused); !errors.Is(err, cluster.ErrBusClosed) {
		t.Fatalf("Post after Close: %v, want ErrBusClosed", err)
	}
	if err := a.PostUser(8, []byte("x"), refused); !errors.Is(err, cluster.ErrBusClosed) {
		t.Fatalf("PostUser after Close: %v, want ErrBusClosed", err)
	}
	if a.Healthy() || a.Ping(t.Context()) == nil {
		t.Fatal("a closed node reports healthy")
	}
	a.SubscribeChannel(8, cluster.HandlerFuncs{
		OnDeliver: func([]byte) { t.Error("a subscription made after Close was delivered to") },
		OnResync:  func() { t.Error("a subscription made after Close was resynced") },
	}).Close()

	// Node c closes while b keeps posting to it.
	stop := make(chan struct{})
	posting := make(chan struct{})
	go func() {
		defer close(posting)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			_ = b.Post(8, []byte("more"), nil)
			if i%64 == 63 {
				time.Sleep(time.Millisecond) // let the queue drain
			}
		}
	}()
	waitFor(t, "traffic to node c", func() bool { return onC.count() > 20 })
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	cClosed.Store(true)
	time.Sleep(50 * time.Millisecond) // b posts on; none of it may reach c's handler
	close(stop)
	<-posting
	if n := closedCalls.Load(); n != 0 {
		t.Fatalf("a handler was called %d times after Close returned", n)
	}
}

// Posts, subscriptions and closes from many goroutines on several nodes at once: steady
// subscribers get every other node's messages, each publisher's in order, and a
// subscription's Deliver calls never overlap. Run it under -race.
func testConcurrentUse(t *testing.T, h Harness) {
	const nNodes, perNode, perPublisher = 3, 3, 300
	ns := nodes(t, h, nNodes)
	steady := make([][]*orderChecker, nNodes) // [node][channel]
	for i, b := range ns {
		for ch := range int64(2) {
			oc := &orderChecker{node: uint32(i), perNode: perNode, last: map[uint32]uint32{}}
			steady[i] = append(steady[i], oc)
			b.SubscribeChannel(ch, oc)
		}
	}
	for _, node := range steady {
		for _, oc := range node {
			waitFor(t, "steady subscriptions live", func() bool { return oc.resyncs.Load() > 0 })
		}
	}

	var wg sync.WaitGroup
	var failed atomic.Value
	for i, b := range ns {
		for g := range perNode {
			wg.Go(func() {
				id := uint32(i*perNode + g)
				var pending sync.WaitGroup
				for n := range uint32(perPublisher) {
					p := binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, id), n+1)
					pending.Add(1)
					done := func(err error) {
						if err != nil {
							failed.Store(err)
						}
						pending.Done()
					}
					var err error
					if n%3 == 2 {
						err = b.PostUser(int64(id), p, done)
					} else {
						err = b.Post(int64(n%2), p, done)
					}
					if err != nil {
						failed.Store(err)
						pending.Done()
					}
				}
				pending.Wait()
			})
		}
		// Churn: subscriptions come and go on the same topics meanwhile.
		wg.Go(func() {
			for n := range 200 {
				var s cluster.Subscription
				if n%2 == 0 {
					s = b.SubscribeChannel(int64(n%3), cluster.HandlerFuncs{})
				} else {
					s = b.SubscribeUser(int64(n%5), cluster.HandlerFuncs{})
				}
				if n%4 != 0 {
					s.Close()
				}
			}
		})
	}
	wg.Wait()
	if err := failed.Load(); err != nil {
		t.Fatalf("a post failed: %v", err)
	}
	// Each publisher posted perPublisher messages; two in three went to channels 0 and 1.
	for i, node := range steady {
		others := (nNodes - 1) * perNode
		want := 0
		for n := range perPublisher {
			if n%3 != 2 {
				want++
			}
		}
		waitFor(t, fmt.Sprintf("node %d's steady subscribers", i), func() bool {
			return node[0].total.Load()+node[1].total.Load() >= int64(others*want)
		})
		for ch, oc := range node {
			if err := oc.err(); err != nil {
				t.Fatalf("node %d channel %d: %v", i, ch, err)
			}
			if oc.own.Load() != 0 {
				t.Fatalf("node %d channel %d got %d of its own node's posts", i, ch, oc.own.Load())
			}
		}
		if got := node[0].total.Load() + node[1].total.Load(); got != int64(others*want) {
			t.Fatalf("node %d's steady subscribers got %d messages, want %d", i, got, others*want)
		}
	}
}

// A node cut off from the others misses what is posted meanwhile, says so with a failed
// done (or Post error) for what it posts, and once back tells every subscription to Resync,
// after which it receives again.
func testResyncAfterCut(t *testing.T, h Harness) {
	if h.Cut == nil {
		t.Skip("the harness cannot cut a node off")
	}
	ns := nodes(t, h, 2)
	a, b := ns[0], ns[1]
	var ch, user recorder
	b.SubscribeChannel(4, &ch)
	b.SubscribeUser(4, &user)
	var onA recorder
	a.SubscribeChannel(4, &onA)
	ch.waitLive(t)
	user.waitLive(t)
	onA.waitLive(t)
	post(t, a, 4, "before")
	ch.waitFor(t, "before")

	restore := h.Cut(t, b)
	waitFor(t, "node b to notice the cut", func() bool { return !b.Healthy() })
	if err := b.Ping(t.Context()); err == nil {
		t.Fatal("Ping succeeded on a node cut off")
	}
	failed := make(chan error, 1)
	if err := b.Post(4, []byte("from the cut node"), func(err error) { failed <- err }); err == nil {
		select {
		case err := <-failed:
			if err == nil {
				t.Fatal("a post from a node cut off reported success")
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a post from a node cut off never reported")
		}
	}
	post(t, a, 4, "during") // may or may not reach b: at most once
	restore()
	waitFor(t, "node b healthy again", b.Healthy)
	waitFor(t, "resync after the cut", func() bool { return ch.resyncCount() >= 2 && user.resyncCount() >= 2 })
	post(t, a, 4, "after")
	postUser(t, a, 4, "after")
	waitFor(t, "traffic after the resync", func() bool {
		return slices.Contains(ch.payloads(), "after") && slices.Contains(user.payloads(), "after")
	})
	post(t, b, 4, "b is back")
	waitFor(t, "b's post", func() bool { return slices.Contains(onA.payloads(), "b is back") })
}

// post posts payload to channelID and waits for its done.
func post(t *testing.T, b cluster.Bus, channelID int64, payload string) {
	t.Helper()
	wait(t, func(done func(error)) error { return b.Post(channelID, []byte(payload), done) })
}

func postUser(t *testing.T, b cluster.Bus, userID int64, payload string) {
	t.Helper()
	wait(t, func(done func(error)) error { return b.PostUser(userID, []byte(payload), done) })
}

func wait(t *testing.T, post func(done func(error)) error) {
	t.Helper()
	ch := make(chan error, 1)
	if err := post(func(err error) { ch <- err }); err != nil {
		t.Fatalf("post: %v", err)
	}
	select {
	case err := <-ch:
		if err != nil {
			t.Fatalf("post: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("post: done never called")
	}
}

// waitFor polls cond until it holds or 10 s have passed.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// The broadcast topic is a topic like the others that every node may hold: a post reaches
// every other holder, in order, never its own node, and no channel or user topic.
func testBroadcast(t *testing.T, h Harness) {
	ns := nodes(t, h, 3)
	recs := make([]*recorder, 3)
	var user recorder
	ns[2].SubscribeUser(1, &user)
	for i, b := range ns {
		recs[i] = &recorder{}
		b.SubscribeBroadcast(recs[i])
	}
	for _, r := range append(recs, &user) {
		r.waitLive(t)
	}
	for _, m := range []string{"x1", "x2"} {
		done := make(chan error, 1)
		if err := ns[0].PostBroadcast([]byte(m), func(err error) { done <- err }); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	post(t, ns[1], 1, "c1")
	recs[1].waitFor(t, "x1", "x2")
	recs[2].waitFor(t, "x1", "x2")
	recs[0].waitFor(t)
	user.waitFor(t)
}
