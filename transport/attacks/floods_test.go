package attacks_test

import (
	"bytes"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-chat/parley/actors"
	"github.com/parley-chat/parley/stomp"
	"github.com/parley-chat/parley/stomp/stompclient"
	"github.com/parley-chat/parley/transport"
	"github.com/parley-chat/parley/transport/outbound"
)

// TestTenThousandSubscriptions: of 10,000 SUBSCRIBEs on one connection exactly
// MaxSubscriptions (100) are accepted and each of the others gets ERROR
// too_many_subscriptions; the connection, the node and the other clients carry on, and a
// message reaches each accepted subscription once.
func TestTenThousandSubscriptions(t *testing.T) {
	t.Parallel()
	n := startNode(t, nil)
	alice, bob := n.user("alice"), n.user("bob")
	s := n.workspace(alice, "acme", bob)
	watcher := n.dial(bob)
	wsub, err := watcher.Subscribe(destOf(s.general))
	if err != nil {
		t.Fatal(err)
	}

	c := n.raw(alice)
	const tries, limit, perMessage = 10_000, actors.DefaultMaxSubscriptions, 250
	// The client keeps up with its answers: it writes while it reads them below, and never
	// has more than window of them outstanding. A client that floods without reading is
	// dropped as a slow consumer once its answers fill the outbound queue — correctly, but
	// that is not this test; under -race on a loaded machine the reader can fall that far
	// behind an unpaced writer.
	const window = outbound.DefaultQueue / 2
	var answered atomic.Int64
	go func() {
		var b []byte
		deadline := time.Now().Add(time.Minute)
		for i := range tries {
			b = append(b, frame(stomp.CmdSubscribe, nil, stomp.HdrID, "s"+strconv.Itoa(i),
				stomp.HdrDestination, destOf(s.general), stomp.HdrReceipt, "r"+strconv.Itoa(i))...)
			if (i+1)%perMessage == 0 {
				for int64(i+1-perMessage)-answered.Load() > window-perMessage && time.Now().Before(deadline) {
					time.Sleep(time.Millisecond)
				}
				if c.tryWrite(b) != nil {
					return // the test has failed below and closed the socket
				}
				b = b[:0]
			}
		}
	}()
	accepted := map[string]bool{}
	refused := 0
	for len(accepted)+refused < tries {
		answered.Store(int64(len(accepted) + refused))
		f := c.next()
		id := f.Value(stomp.HdrReceiptID)
		switch {
		case f.Command == stomp.CmdReceipt:
			accepted[id] = true
		case f.Command == stomp.CmdError && f.Value("code") == "too_many_subscriptions" && id != "":
			refused++
		default:
			t.Fatalf("after %d answers: %s %v %q", len(accepted)+refused, f.Command, f.Headers, f.Body)
		}
	}
	t.Logf("%d SUBSCRIBEs: %d accepted, %d refused", tries, len(accepted), refused)
	if len(accepted) != limit || refused != tries-limit {
		t.Fatalf("%d accepted, %d refused; want %d and %d", len(accepted), refused, limit, tries-limit)
	}
	for i := range limit { // the first ones, in order
		if !accepted["r"+strconv.Itoa(i)] {
			t.Fatalf("SUBSCRIBE %d was not among the accepted", i)
		}
	}

	n.healthy()
	m := n.post(bob, s.general, "after the flood")
	subs := map[string]bool{}
	for len(subs) < limit {
		f := c.next()
		if f.Command != stomp.CmdMessage || f.Value("seq") != strconv.FormatInt(m.Seq, 10) || subs[f.Value(stomp.HdrSubscription)] {
			t.Fatalf("after %d deliveries: %s %v", len(subs), f.Command, f.Headers)
		}
		subs[f.Value(stomp.HdrSubscription)] = true
	}
	select {
	case f := <-wsub.C:
		if messageContent(t, f) != "after the flood" {
			t.Fatalf("watcher got %q", f.Body)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("watcher got nothing: %v", watcher.Err())
	}
}

// TestSendFloodBeyondTheRateLimit: 600 SENDs at once against 20/s with a burst of 50.
// Each SEND is answered, by RECEIPT or ERROR rate_limited; exactly the acknowledged ones
// are committed, and no more than the allowance for the time the flood took.
func TestSendFloodBeyondTheRateLimit(t *testing.T) {
	t.Parallel()
	n := startNode(t, nil)
	u := n.user("alice")
	s := n.workspace(u, "acme")
	c := n.raw(u)
	const flood = 600
	var b []byte
	for i := range flood {
		b = append(b, frame(stomp.CmdSend, sendBody(s.general, "flood "+strconv.Itoa(i)),
			stomp.HdrDestination, actors.DestMessageSend, stomp.HdrReceipt, "r"+strconv.Itoa(i))...)
	}
	start := time.Now()
	for len(b) > 0 { // in WebSocket messages within the 64 KiB frame limit
		k := min(len(b), 32<<10)
		c.write(b[:k])
		b = b[k:]
	}
	acked, limited := 0, 0
	for acked+limited < flood {
		f := c.next()
		switch {
		case f.Command == stomp.CmdReceipt && f.Value("seq") != "":
			acked++
		case f.Command == stomp.CmdError && f.Value("code") == "rate_limited" && f.Value(stomp.HdrReceiptID) != "":
			limited++
		default:
			t.Fatalf("%s %v %q", f.Command, f.Headers, f.Body)
		}
	}
	took := time.Since(start)
	t.Logf("%d SENDs: %d acknowledged, %d rate_limited, in %v", flood, acked, limited, took)
	allowance := actors.DefaultSendBurst + int(actors.DefaultSendRate*took.Seconds()) + 1
	if acked < actors.DefaultSendBurst || acked > allowance {
		t.Fatalf("%d SENDs acknowledged in %v, want %d..%d", acked, took, actors.DefaultSendBurst, allowance)
	}
	if got := n.count(`SELECT count(*) FROM messages WHERE channel_id = $1`, s.general); got != int64(acked) {
		t.Fatalf("%d messages committed, %d acknowledged", got, acked)
	}
	if got := n.metric("parley_rate_limited_frames_total"); got != float64(limited) {
		t.Errorf("rate-limited metric %v, want %d", got, limited)
	}
	// The session is still usable once the bucket refills.
	waitFor(t, "a SEND to be accepted again", 10*time.Second, func() bool {
		c.write(frame(stomp.CmdSend, sendBody(s.general, "after"), stomp.HdrDestination, actors.DestMessageSend, stomp.HdrReceipt, "after"))
		return c.next().Command == stomp.CmdReceipt
	})
	n.healthy()
}

// TestSlowConsumerNextToHealthyOnes: a client that never reads is dropped (ERROR
// slow-consumer, then the close) while two healthy clients on the same channel receive
// every message, in seq order, once.
func TestSlowConsumerNextToHealthyOnes(t *testing.T) {
	t.Parallel()
	n := startNode(t, func(c *transport.Config) {
		fastSends(c)
		c.WebSocket.Outbound.WriteTimeout = 2 * time.Second
		c.WebSocket.SocketSendBuffer = 4 << 10
	})
	alice, bob, carol, slow := n.user("alice"), n.user("bob"), n.user("carol"), n.user("slow")
	s := n.workspace(alice, "acme", bob, carol, slow)

	// The slow client subscribes and then never reads again; its kernel receive buffer is
	// the only slack it has.
	lazy, err := n.rawDial(nil, false)
	if err != nil {
		t.Fatal(err)
	}
	lazy.write(connectFrame(slow.token))
	lazy.write(frame(stomp.CmdSubscribe, nil, stomp.HdrID, "s", stomp.HdrDestination, destOf(s.general), stomp.HdrReceipt, "sub"))
	for _, want := range []string{stomp.CmdConnected, stomp.CmdReceipt} {
		if f := lazy.readOne(); f.Command != want {
			t.Fatalf("got %s %v, want %s", f.Command, f.Headers, want)
		}
	}
	var healthy []*stompclient.Subscription
	var clients []*stompclient.Client
	for _, u := range []*user{bob, carol} {
		cl := n.dial(u)
		sub, err := cl.Subscribe(destOf(s.general))
		if err != nil {
			t.Fatal(err)
		}
		healthy, clients = append(healthy, sub), append(clients, cl)
	}

	// The healthy clients read as fast as they can. The sender stays at most `ahead`
	// messages in front of the slower one: a healthy client under -race can fall further
	// behind a flood than its outbound queue (1,024 frames) holds, and would rightly be
	// dropped too; the never-reading one falls behind without bound either way.
	const total, ahead = 3000, 400
	progress := make([]atomic.Int64, len(healthy))
	errs := make(chan error, len(healthy))
	for i, sub := range healthy {
		go func() {
			var last int64
			for range total {
				select {
				case f, ok := <-sub.C:
					if !ok {
						errs <- fmt.Errorf("healthy client %d was dropped at seq %d: %v", i, last, clients[i].Err())
						return
					}
					seq, _ := strconv.ParseInt(f.Value("seq"), 10, 64)
					if seq != last+1 {
						errs <- fmt.Errorf("healthy client %d: seq %d after %d", i, seq, last)
						return
					}
					last = seq
					progress[i].Store(last)
				case <-time.After(20 * time.Second):
					errs <- fmt.Errorf("healthy client %d stalled at seq %d of %d", i, last, total)
					return
				}
			}
			errs <- nil
		}()
	}
	slowest := func() int64 { return min(progress[0].Load(), progress[1].Load()) }

	sender := n.raw(alice)
	floodStart := time.Now()
	payload := string(bytes.Repeat([]byte("x"), 1000))
	for i := 0; i < total; i += 25 {
		waitFor(t, "the healthy clients to keep up", 20*time.Second, func() bool { return slowest() >= int64(i-ahead) })
		var b []byte
		for j := i; j < i+25; j++ {
			b = append(b, frame(stomp.CmdSend, sendBody(s.general, fmt.Sprintf("%05d %s", j, payload)),
				stomp.HdrDestination, actors.DestMessageSend)...)
		}
		sender.write(b)
	}
	for range healthy {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the slow consumer to be dropped", 20*time.Second, func() bool {
		return n.metric("parley_slow_consumer_disconnects_total") == 1 && n.metric("parley_ws_connections") == 3
	})
	t.Logf("%d messages of ~1 KiB: both healthy clients got all in order; the slow consumer was dropped within %v of the first send",
		total, time.Since(floodStart).Round(time.Millisecond))
	if got := n.count(`SELECT count(*) FROM messages WHERE channel_id = $1`, s.general); got != total {
		t.Fatalf("%d messages stored, want %d", got, total)
	}
	n.healthy()
}
