package cluster

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/parley-chat/parley/cluster/redistest"
)

// presenceNode is one node's bus and presence on the shared test Redis.
func newTestPresence(t *testing.T, rdb redis.UniversalClient, prefix string, cfg PresenceConfig) *Presence {
	t.Helper()
	bus := newTestBus(t, rdb, testBusConfig(prefix))
	waitFor(t, "bus healthy", bus.Healthy)
	cfg.KeyPrefix = prefix + "presence:"
	p, err := NewPresence(rdb, bus, cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close(context.Background()) })
	return p
}

// kill stops p as a SIGKILL would: no withdrawal, no unregistration, no more renewals.
func (p *Presence) kill() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.cancel()
	p.wg.Wait()
}

// changes records a watcher's status changes and resyncs.
type changes struct {
	mu      sync.Mutex
	last    map[int64]string
	n       int
	resyncs int
}

func (c *changes) Changed(uid int64, st string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.last == nil {
		c.last = map[int64]string{}
	}
	c.last[uid] = st
	c.n++
}

func (c *changes) Resync(int64) {
	c.mu.Lock()
	c.resyncs++
	c.mu.Unlock()
}

func (c *changes) status(uid int64) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last[uid]
}

func (c *changes) live() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.resyncs > 0
}

func status(t *testing.T, p *Presence, uid int64) string {
	t.Helper()
	m, err := p.Statuses(context.Background(), []int64{uid})
	if err != nil {
		t.Fatal(err)
	}
	return m[uid]
}

func TestPresenceConfigDefaultsAndValidation(t *testing.T) {
	d := PresenceConfig{}.withDefaults()
	if d.TTL != 30*time.Second || d.RenewInterval != 10*time.Second || d.SweepInterval != 5*time.Second {
		t.Errorf("defaults %+v", d)
	}
	if d.TTL+d.SweepInterval > MaxPresenceOffline {
		t.Errorf("default TTL+sweep %s above %s", d.TTL+d.SweepInterval, MaxPresenceOffline)
	}
	for _, bad := range []PresenceConfig{
		{TTL: time.Millisecond},
		{TTL: 10 * time.Second, RenewInterval: 6 * time.Second},
		{TTL: 44 * time.Second, SweepInterval: 2 * time.Second},
		{Batch: -1},
		{SweepInterval: -time.Second},
	} {
		if err := bad.Validate(); err == nil {
			t.Errorf("%+v: no error", bad)
		}
	}
}

// Two nodes: a user's status is the best of what every node says, each change reaches a
// watcher on the other node, and a node that dies is swept within TTL + SweepInterval.
func TestPresenceAcrossNodesAndDeadNode(t *testing.T) {
	rdb, prefix := redistest.Client(t)
	testPresenceAcrossNodes(t, rdb, prefix)
}

// The same on a Redis Cluster: the scripts' keys share a hash tag, the bus is sharded.
func TestPresenceAcrossNodesOnRedisCluster(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.SharedCluster(t).Client(t)
	testPresenceAcrossNodes(t, rdb, prefix)
}

func testPresenceAcrossNodes(t *testing.T, rdb redis.UniversalClient, prefix string) {
	cfg := PresenceConfig{TTL: 600 * time.Millisecond, RenewInterval: 100 * time.Millisecond, SweepInterval: 100 * time.Millisecond}
	a := newTestPresence(t, rdb, prefix, cfg)
	b := newTestPresence(t, rdb, prefix, cfg)
	const alice = 101
	var onB, onA changes
	wb := b.Watch(alice, &onB)
	defer wb.Close()
	wa := a.Watch(alice, &onA)
	defer wa.Close()
	waitFor(t, "watches live", func() bool { return onB.live() && onA.live() })

	expect := func(want string) {
		t.Helper()
		waitFor(t, "watcher on b sees "+want, func() bool { return onB.status(alice) == want })
		waitFor(t, "watcher on a sees "+want, func() bool { return onA.status(alice) == want })
		if got := status(t, b, alice); got != want {
			t.Fatalf("Statuses: %q, want %q", got, want)
		}
	}
	if got := status(t, b, alice); got != StatusOffline {
		t.Fatalf("before any session: %q", got)
	}
	a.SetLocal(alice, StatusOnline)
	expect(StatusOnline)
	a.SetLocal(alice, StatusAway)
	expect(StatusAway)
	b.SetLocal(alice, StatusOnline) // a second node's active session wins over away
	expect(StatusOnline)
	b.SetLocal(alice, StatusOffline)
	expect(StatusAway)
	a.SetLocal(alice, StatusOffline)
	expect(StatusOffline)

	// a dies with alice online: b's sweeper clears it and b's watcher hears offline.
	a.SetLocal(alice, StatusOnline)
	expect(StatusOnline)
	n := onB.n
	killed := time.Now()
	wa.Close()
	a.kill()
	waitFor(t, "offline after the node died", func() bool { return onB.status(alice) == StatusOffline })
	if d := time.Since(killed); d > cfg.TTL+cfg.SweepInterval+time.Second {
		t.Errorf("offline %s after the kill, want within TTL+sweep", d)
	}
	if onB.n != n+1 {
		t.Errorf("%d changes seen for the death, want 1", onB.n-n)
	}
	if got := status(t, b, alice); got != StatusOffline {
		t.Errorf("Statuses after the death: %q", got)
	}
	if left, _ := rdb.Exists(context.Background(), a.cfg.KeyPrefix+"n:"+a.token).Result(); left != 0 {
		t.Errorf("the dead node's user set is still there")
	}
}

// A node wrongly swept (its renewals failed for a TTL) writes its users again as soon as a
// renewal succeeds.
func TestPresenceSweptNodeRewritesItsUsers(t *testing.T) {
	rdb, prefix := redistest.Client(t)
	cfg := PresenceConfig{TTL: 400 * time.Millisecond, RenewInterval: 100 * time.Millisecond, SweepInterval: 50 * time.Millisecond}
	a := newTestPresence(t, rdb, prefix, cfg)
	a.SetLocal(7, StatusOnline)
	waitFor(t, "online", func() bool { return status(t, a, 7) == StatusOnline })
	// Another node's sweep of a, as if a had been silent for longer than its TTL.
	ctx := context.Background()
	rdb.ZAdd(ctx, prefix+"presence:nodes", redis.Z{Score: 1, Member: a.token})
	waitFor(t, "online again after the false death", func() bool { return status(t, a, 7) == StatusOnline })
	if _, err := presenceSweepScript.Run(ctx, rdb, a.routeKeys(), a.cfg.KeyPrefix, 1, a.topicPrefix(), a.envelope(), 10).Result(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "online after renewal", func() bool { return status(t, a, 7) == StatusOnline })
}

// Close withdraws every user of the node at once: no waiting for a TTL.
func TestPresenceCloseWithdraws(t *testing.T) {
	rdb, prefix := redistest.Client(t)
	a := newTestPresence(t, rdb, prefix, PresenceConfig{})
	b := newTestPresence(t, rdb, prefix, PresenceConfig{})
	a.SetLocal(9, StatusOnline)
	waitFor(t, "online", func() bool { return status(t, b, 9) == StatusOnline })
	if err := a.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := status(t, b, 9); got != StatusOffline {
		t.Errorf("after Close: %q", got)
	}
	if n, _ := rdb.ZCard(context.Background(), prefix+"presence:nodes").Result(); n != 1 {
		t.Errorf("%d registered nodes after Close, want 1", n)
	}
}

// Watching a user again right after the last watch closed (the bus topic still live) must
// not deadlock on the synchronous Resync, and the new watch hears changes.
func TestPresenceRewatchChurn(t *testing.T) {
	rdb, prefix := redistest.Client(t)
	a := newTestPresence(t, rdb, prefix, PresenceConfig{})
	b := newTestPresence(t, rdb, prefix, PresenceConfig{})
	var c changes
	w := a.Watch(5, &c)
	waitFor(t, "live", c.live)
	for range 200 {
		w.Close()
		w = a.Watch(5, &c)
	}
	waitFor(t, "subscribed in redis", func() bool { return numSub(t, rdb, a.topic(5)) == 1 })
	b.SetLocal(5, StatusOnline)
	waitFor(t, "change heard after the churn", func() bool { return c.status(5) == StatusOnline })
	w.Close()
}
