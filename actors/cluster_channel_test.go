package actors

import (
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/parley-chat/parley/cluster"
	"github.com/parley-chat/parley/persistence"
)

// Unit tests of the channel actor's cross-node side (cluster_channel.go, reorder.go): nodes
// are Systems on one in-memory bus hub and one fake Store. Node "X" is a bare bus node
// through which a test posts the payloads another node would, in whatever order, twice, or
// not at all.

func newMemoryBus(t *testing.T, hub *cluster.MemoryHub) *cluster.MemoryBus {
	t.Helper()
	b, err := cluster.NewMemoryBus(hub, cluster.MemoryBusConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// sendBatch posts, from bus node x, the batch another node would publish after committing
// msgs (nil: an announcement of head alone), and waits until it has been sent.
func sendBatch(t *testing.T, x cluster.Bus, channelID, head int64, msgs ...persistence.Message) {
	t.Helper()
	var evs []*event
	for i := range msgs {
		ev, err := messageEvent(ChannelDestination(channelID), &msgs[i])
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, ev)
	}
	for _, p := range encodeChannelBatches(9, channelID, head, evs) {
		done := make(chan error, 1)
		if err := x.Post(channelID, p, func(err error) { done <- err }); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

func counterOf(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// subscribeSettled subscribes on sys and waits for the read of the store that the
// subscription's first Resync makes (the bus may have carried messages before it was
// live), so that a test sees only the reads it causes.
func subscribeSettled(t *testing.T, sys *System, store *fakeStore, channelID int64) *subscriber {
	t.Helper()
	sub := subscribe(t, sys, channelID)
	waitUntilT(t, "the first resync's read", func() bool { return len(store.reads()) > 0 })
	store.forgetReads()
	return sub
}

// A message committed on one node reaches the other node's subscriber through the bus,
// in seq order, with no read of the store.
func TestClusterChannelPostReachesOtherNode(t *testing.T) {
	store, hub := newFakeStore(), cluster.NewMemoryHub()
	a := newTestNode(t, 1, store, ClusterBus(newMemoryBus(t, hub)), nil)
	b := newTestNode(t, 2, store, ClusterBus(newMemoryBus(t, hub)), nil)
	onB := subscribeSettled(t, b, store, 1)
	for i := range 5 {
		if _, err := postMsg(a, 1, "m", ""); err != nil {
			t.Fatalf("post %d: %v", i, err)
		}
	}
	onB.waitSeqs(t, 1, 2, 3, 4, 5)
	if r := store.reads(); len(r) != 0 {
		t.Fatalf("node b read the store after seqs %v: the bus did not carry the messages", r)
	}
}

// Batches that arrive out of order or twice are delivered in seq order, once each, without
// a read of the store (GapWait is long: only the reorder buffer can put them right).
func TestClusterChannelReordersAndDropsDuplicates(t *testing.T) {
	store, hub := newFakeStore(), cluster.NewMemoryHub()
	b := newTestNode(t, 2, store, ClusterBus(newMemoryBus(t, hub)), func(c *Config) { c.GapWait = time.Minute })
	x := newMemoryBus(t, hub)
	sub := subscribeSettled(t, b, store, 1)
	m := store.commit(1, "one", "two", "three", "four")

	sendBatch(t, x, 1, 0, m[2])
	sendBatch(t, x, 1, 0, m[1])
	sendBatch(t, x, 1, 0, m[1]) // a publish go-redis retried
	time.Sleep(20 * time.Millisecond)
	if got := sub.seqs(); len(got) != 0 {
		t.Fatalf("delivered %v before seq 1 arrived", got)
	}
	sendBatch(t, x, 1, 0, m[0])
	sub.waitSeqs(t, 1, 2, 3)
	sendBatch(t, x, 1, 0, m[0]) // already delivered
	sendBatch(t, x, 1, 0, m[3])
	sub.waitSeqs(t, 1, 2, 3, 4)
	if r := store.reads(); len(r) != 0 {
		t.Fatalf("the store was read after seqs %v", r)
	}
	if d := counterOf(t, b.met.cl.duplicates); d != 2 {
		t.Fatalf("%v duplicates counted, want 2", d)
	}
}

// A gap that the bus does not close within GapWait is filled from the store; a message of
// the gap that comes late over the bus is then a duplicate.
func TestClusterChannelFillsAGapFromTheStore(t *testing.T) {
	store, hub := newFakeStore(), cluster.NewMemoryHub()
	b := newTestNode(t, 2, store, ClusterBus(newMemoryBus(t, hub)), nil)
	x := newMemoryBus(t, hub)
	sub := subscribeSettled(t, b, store, 1)
	m := store.commit(1, "1", "2", "3", "4", "5")

	sendBatch(t, x, 1, 0, m[0], m[1])
	sub.waitSeqs(t, 1, 2)
	sendBatch(t, x, 1, 0, m[4]) // 3 and 4 lost on the way
	sub.waitSeqs(t, 1, 2, 3, 4, 5)
	if r := store.reads(); !slices.Contains(r, 2) {
		t.Fatalf("store reads after seqs %v, want one after 2", r)
	}
	sendBatch(t, x, 1, 0, m[2]) // late
	m6 := store.commit(1, "6")
	sendBatch(t, x, 1, 0, m6...)
	sub.waitSeqs(t, 1, 2, 3, 4, 5, 6)
}

// An announcement (a batch of no messages, only the head) reveals messages whose publish
// was lost: they are read from the store. One that comes late, for messages already
// delivered, reads nothing.
func TestClusterChannelLateAnnounce(t *testing.T) {
	store, hub := newFakeStore(), cluster.NewMemoryHub()
	b := newTestNode(t, 2, store, ClusterBus(newMemoryBus(t, hub)), nil)
	x := newMemoryBus(t, hub)
	sub := subscribeSettled(t, b, store, 1)
	m := store.commit(1, "1", "2")
	sendBatch(t, x, 1, 0, m...)
	sub.waitSeqs(t, 1, 2)

	sendBatch(t, x, 1, 2, nil...) // late: seq 2 is here already
	time.Sleep(4 * b.cfg.GapWait)
	if r := store.reads(); len(r) != 0 {
		t.Fatalf("a late announcement made the node read the store after %v", r)
	}

	store.commit(1, "3", "4") // published by their node, lost on the way
	sendBatch(t, x, 1, 4, nil...)
	sub.waitSeqs(t, 1, 2, 3, 4)
	if r := store.reads(); !slices.Equal(r, []int64{2}) {
		t.Fatalf("store reads after seqs %v, want one after 2", r)
	}
}

// A node whose publish fails announces the channel's head until an announcement gets
// through, so the other nodes learn of the message even though the channel goes quiet.
func TestClusterChannelAnnouncesAfterAFailedPublish(t *testing.T) {
	store, hub := newFakeStore(), cluster.NewMemoryHub()
	busA := newMemoryBus(t, hub)
	a := newTestNode(t, 1, store, ClusterBus(busA), nil)
	b := newTestNode(t, 2, store, ClusterBus(newMemoryBus(t, hub)), nil)
	sub := subscribeSettled(t, b, store, 1)
	if _, err := postMsg(a, 1, "m1", ""); err != nil {
		t.Fatal(err)
	}
	sub.waitSeqs(t, 1)

	busA.Disconnect()
	if _, err := postMsg(a, 1, "m2", ""); err != nil {
		t.Fatalf("a post must not depend on the bus: %v", err)
	}
	waitUntilT(t, "an announcement attempt", func() bool { return counterOf(t, a.met.cl.announcements) > 0 })
	if got := sub.seqs(); len(got) != 1 {
		t.Fatalf("node b got %v while node a was cut off", got)
	}
	busA.Connect()
	sub.waitSeqs(t, 1, 2)
	if r := store.reads(); !slices.Equal(r, []int64{1}) {
		t.Fatalf("node b read the store after seqs %v, want after 1", r)
	}
	// Once an announcement got through, node a stops announcing.
	n := counterOf(t, a.met.cl.announcements)
	time.Sleep(5 * a.cfg.AnnounceInterval)
	if more := counterOf(t, a.met.cl.announcements) - n; more > 1 {
		t.Fatalf("node a announced %v more times after an announcement got through", more)
	}
}

// After the bus resyncs (a reconnection: what was posted meanwhile is lost), the node
// rereads the channel from the store after the last seq it delivered.
func TestClusterChannelResyncRereads(t *testing.T) {
	store, hub := newFakeStore(), cluster.NewMemoryHub()
	busB := newMemoryBus(t, hub)
	b := newTestNode(t, 2, store, ClusterBus(busB), nil)
	x := newMemoryBus(t, hub)
	sub := subscribeSettled(t, b, store, 1)
	sendBatch(t, x, 1, 0, store.commit(1, "1")...)
	sub.waitSeqs(t, 1)

	busB.Disconnect()
	sendBatch(t, x, 1, 0, store.commit(1, "2", "3")...) // lost: b is cut off
	busB.Connect()
	sub.waitSeqs(t, 1, 2, 3)
	if r := store.reads(); !slices.Equal(r, []int64{1}) {
		t.Fatalf("store reads after seqs %v, want one after 1", r)
	}
	if n := counterOf(t, b.met.cl.resyncs); n < 2 {
		t.Fatalf("%v resyncs counted, want the first and the reconnection's", n)
	}
}
