package actors

import (
	"slices"
	"sync"
	"testing"

	"github.com/parley-chat/parley/cluster"
	"github.com/parley-chat/parley/persistence"
	"github.com/parley-chat/parley/stomp"
)

// openQueue opens a session of userID on sys subscribed to its notifications queue.
func openQueue(t *testing.T, sys *System, userID int64) *subscriber {
	t.Helper()
	w := &subscriber{dec: stomp.NewDecoder(stomp.Limits{})}
	sess, err := sys.Open(SessionInfo{UserID: userID, Username: "u"}, newWireSink(w))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sess.Close)
	sess.Handle(&stomp.Frame{Command: stomp.CmdSubscribe, Headers: []stomp.Header{
		{Key: stomp.HdrID, Value: "q"}, {Key: stomp.HdrDestination, Value: persistence.QueueNotifications},
		{Key: "receipt", Value: "r1"},
	}})
	w.waitReceipt(t)
	return w
}

// broadcastRecorder is a bare bus node's handler of the broadcast topic.
type broadcastRecorder struct {
	mu       sync.Mutex
	payloads [][]byte
}

func (r *broadcastRecorder) Deliver(p []byte) {
	r.mu.Lock()
	r.payloads = append(r.payloads, p)
	r.mu.Unlock()
}
func (r *broadcastRecorder) Resync() {}
func (r *broadcastRecorder) got() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.payloads)
}

// One notification for 12,000 users is two bus posts (10,000 users each at most), not
// 12,000; each node hands it to the listed users' sessions it has, and to no one else.
func TestUsersEventIsOnePostForItsAudience(t *testing.T) {
	t.Parallel()
	store, hub := newFakeStore(), cluster.NewMemoryHub()
	a := newTestNode(t, 1, store, ClusterBus(newMemoryBus(t, hub)), nil)
	b := newTestNode(t, 2, store, ClusterBus(newMemoryBus(t, hub)), nil)
	x := newMemoryBus(t, hub)
	rec := &broadcastRecorder{}
	defer x.SubscribeBroadcast(rec).Close()

	onA, onB, notListed := openQueue(t, a, 3), openQueue(t, b, 2), openQueue(t, b, 99)
	var audience []int64
	for id := int64(1); id <= 12_000; id++ {
		if id != 99 {
			audience = append(audience, id)
		}
	}
	a.UsersEvent(audience, persistence.QueueNotifications, map[string]string{"type": "channel.created"})

	for name, w := range map[string]*subscriber{"user 3 on the posting node": onA, "user 2 on the other node": onB} {
		waitUntilT(t, name+" notified", func() bool { return w.has(stomp.CmdMessage) })
	}
	waitUntilT(t, "the posts on the bus", func() bool { return len(rec.got()) >= 2 })
	var named int
	for _, p := range rec.got() {
		ids, dest, ev, err := decodeUsersEvent(p)
		if err != nil || dest != persistence.QueueNotifications || string(ev.body) != `{"type":"channel.created"}` {
			t.Fatalf("post: %v %q %s", err, dest, ev.body)
		}
		named += len(ids)
	}
	if n := len(rec.got()); n != 2 || named != len(audience) {
		t.Fatalf("%d posts naming %d users, want 2 naming %d", n, named, len(audience))
	}
	if notListed.has(stomp.CmdMessage) {
		t.Fatal("a user outside the audience was notified")
	}
	if b.met.cl.received.WithLabelValues("users") == nil || counterOf(t, b.met.cl.received.WithLabelValues("users")) != 2 {
		t.Fatalf("node b received %v users' events, want 2", counterOf(t, b.met.cl.received.WithLabelValues("users")))
	}
}

// A users' event that is malformed or addressed to a destination no client may subscribe
// to is dropped and counted.
func TestUsersEventDecoding(t *testing.T) {
	ev := event{msgID: "e1", body: []byte(`{}`)}
	p := encodeUsersEvent(1, []int64{5, 6}, persistence.QueueNotifications, ev)
	ids, dest, got, err := decodeUsersEvent(p)
	if err != nil || !slices.Equal(ids, []int64{5, 6}) || dest != persistence.QueueNotifications || got.msgID != "e1" || string(got.body) != "{}" {
		t.Fatalf("round trip: %v %v %q %+v", err, ids, dest, got)
	}
	for name, bad := range map[string][]byte{
		"truncated":  p[:len(p)-1],
		"trailing":   append(slices.Clone(p), 0),
		"no users":   encodeUsersEvent(1, nil, persistence.QueueNotifications, ev),
		"user 0":     encodeUsersEvent(1, []int64{0}, persistence.QueueNotifications, ev),
		"other kind": encodeUserEvent(1, &userEvent{userID: 5, dest: persistence.QueueNotifications, ev: ev}),
		"too many":   encodeUsersEvent(1, make([]int64, maxAudiencePerPost+1), persistence.QueueNotifications, ev),
	} {
		if _, _, _, err := decodeUsersEvent(bad); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
}
