package actors

import (
	"errors"
	"sync"
	"testing"

	"github.com/parley-chat/parley/cluster"
)

// userTopicRecorder is a bare bus node's handler of one user's topic.
type userTopicRecorder struct {
	mu   sync.Mutex
	dest []string
}

func (r *userTopicRecorder) Deliver(p []byte) {
	ue, err := decodeUserEvent(p)
	if err != nil {
		return
	}
	r.mu.Lock()
	r.dest = append(r.dest, ue.dest)
	r.mu.Unlock()
}

func (r *userTopicRecorder) Resync() {}

func (r *userTopicRecorder) got() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.dest...)
}

// An access change and a token revocation made while the bus's post queue is full (a burst
// of notifications) still reach the other nodes once it drains; an ordinary user event is
// refused, as before.
func TestAccessChangeWaitsOutAFullPostQueue(t *testing.T) {
	t.Parallel()
	store, hub := newFakeStore(), cluster.NewMemoryHub()
	bus, err := cluster.NewMemoryBus(hub, cluster.MemoryBusConfig{PostQueue: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bus.Close() })
	a := newTestNode(t, 1, store, ClusterBus(bus), nil)
	other := newMemoryBus(t, hub)
	rec := &userTopicRecorder{}
	defer other.SubscribeUser(42, rec).Close()

	// The bus's sender is busy with one post and one more waits: the queue is full.
	sending, unblock := make(chan struct{}), make(chan struct{})
	if err := bus.Post(1, nil, func(error) { close(sending); <-unblock }); err != nil {
		t.Fatal(err)
	}
	<-sending
	if err := bus.Post(1, nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := bus.PostUser(42, nil, nil); !errors.Is(err, cluster.ErrPostQueueFull) {
		t.Fatalf("the queue is not full: %v", err)
	}
	a.UserEvent(42, "/user/queue/notifications", map[string]string{"type": "x"}) // refused, dropped
	a.AccessChanged(42, 7)
	a.TokenRevoked(42, 9)
	close(unblock)
	waitUntilT(t, "the access change and the revocation on the other node", func() bool { return len(rec.got()) == 2 })
	if got := rec.got(); !(got[0] == accessDest && got[1] == tokenDest || got[0] == tokenDest && got[1] == accessDest) {
		t.Fatalf("the other node heard %q, want the access change and the revocation", got)
	}
}
