package cluster

import (
	"context"
	"encoding/binary"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/parley-chat/parley/cluster/redistest"
)

// newRedisProxy runs an in-process toxiproxy in front of the test Redis.
func newRedisProxy(t *testing.T) *toxiproxy.Proxy {
	t.Helper()
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop())
	p := toxiproxy.NewProxy(srv, "redis", "127.0.0.1:0", redistest.Addr())
	if err := p.Start(); err != nil {
		t.Fatalf("toxiproxy: %v", err)
	}
	t.Cleanup(p.Stop)
	return p
}

// proxiedClient is a client through p with short timeouts, so a stalled link fails fast.
func proxiedClient(t *testing.T, p *toxiproxy.Proxy) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{
		Addr:         p.Listen,
		DialTimeout:  500 * time.Millisecond,
		ReadTimeout:  500 * time.Millisecond,
		WriteTimeout: 500 * time.Millisecond,
	})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// gapFiller plays a channel actor's receiving side: live messages carry a sequence number,
// a gap or a Resync is filled from the source of truth (PostgreSQL in parley; here the
// list of committed numbers), duplicates are dropped.
type gapFiller struct {
	truth func(from uint32) []uint32 // committed numbers >= from
	inbox chan any                   // the actor's mailbox: Deliver and Resync only enqueue
	done  chan struct{}

	mu      sync.Mutex
	got     []uint32
	filled  int // taken from the source of truth
	live    int // taken from the bus
	resyncs int
}

type resyncMsg struct{}

// committedSeq is channel 5's committed numbers 0, 1, 2…: the source of truth a gapFiller
// reads, and what a bus publishes after each commit.
type committedSeq struct {
	mu   sync.Mutex
	seqs []uint32
}

// from returns the committed numbers >= from.
func (c *committedSeq) from(from uint32) []uint32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if int(from) >= len(c.seqs) {
		return nil
	}
	return append([]uint32(nil), c.seqs[from:]...)
}

func (c *committedSeq) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.seqs)
}

// commitAndPublish commits the next number, then publishes it through b. The publisher
// carries on whatever happens to the receiver's link; its errors are the receiver's gaps.
func (c *committedSeq) commitAndPublish(b *RedisBus) {
	c.mu.Lock()
	n := uint32(len(c.seqs))
	c.seqs = append(c.seqs, n)
	c.mu.Unlock()
	_ = b.Publish(context.Background(), 5, binary.BigEndian.AppendUint32(nil, n))
}

func newGapFiller(truth func(uint32) []uint32) *gapFiller {
	g := &gapFiller{truth: truth, inbox: make(chan any, 1<<16), done: make(chan struct{})}
	go g.loop()
	return g
}

func (g *gapFiller) Deliver(p []byte) { g.inbox <- binary.BigEndian.Uint32(p) }
func (g *gapFiller) Resync()          { g.inbox <- resyncMsg{} }

func (g *gapFiller) loop() {
	defer close(g.done)
	for m := range g.inbox {
		g.mu.Lock()
		next := uint32(len(g.got))
		switch v := m.(type) {
		case resyncMsg:
			g.resyncs++
			for _, s := range g.truth(next) {
				g.got = append(g.got, s)
				g.filled++
			}
		case uint32:
			if v > next {
				for _, s := range g.truth(next) {
					if s >= v {
						break
					}
					g.got = append(g.got, s)
					g.filled++
				}
			}
			if v == uint32(len(g.got)) {
				g.got = append(g.got, v)
				g.live++
			}
		}
		g.mu.Unlock()
	}
}

func (g *gapFiller) liveCount() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.live
}

func (g *gapFiller) snapshot() (got []uint32, filled, resyncs int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]uint32(nil), g.got...), g.filled, g.resyncs
}

// A node whose Redis link is cut mid-stream (and which even starts while Redis is out of
// reach) reconnects, resubscribes, resyncs, and with gap filling misses nothing.
func TestBusConnectionCutMidStream(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.Client(t)
	proxy := newRedisProxy(t)
	cfg := testBusConfig(prefix)
	cfg.PublishTimeout = 300 * time.Millisecond
	a := newTestBus(t, rdb, cfg)

	// The committed sequence of channel 5: "commit" appends, then the publisher publishes.
	var committed committedSeq
	truth := committed.from
	commitAndPublish := func() { committed.commitAndPublish(a) }

	// Node B starts with Redis unreachable.
	proxy.Stop()
	b := newTestBus(t, proxiedClient(t, proxy), cfg)
	var nodeResyncs atomic.Int32
	b.OnResync(func() { nodeResyncs.Add(1) })
	g := newGapFiller(truth)
	t.Cleanup(func() { _ = b.Close(); close(g.inbox); <-g.done })
	b.SubscribeChannel(5, g)
	var user recorder
	b.SubscribeUser(9, &user)

	start := time.Now()
	if err := b.Publish(context.Background(), 5, []byte("x")); err == nil {
		t.Fatal("Publish succeeded with Redis unreachable")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Publish blocked %s with PublishTimeout %s", d, cfg.PublishTimeout)
	}
	if err := b.Ping(context.Background()); err == nil || b.Healthy() {
		t.Fatal("bus reports ready with Redis unreachable")
	}
	for range 20 {
		commitAndPublish() // before B ever connected: only gap filling can bring these
	}

	if err := proxy.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "first connection", func() bool { return b.Healthy() && nodeResyncs.Load() == 1 })
	waitFor(t, "channel resync", func() bool { _, _, r := g.snapshot(); return r == 1 })
	user.waitLive(t)

	// A publisher running across the cut.
	stop := make(chan struct{})
	pubDone := make(chan struct{})
	go func() {
		defer close(pubDone)
		for {
			select {
			case <-stop:
				return
			default:
				commitAndPublish()
			}
		}
	}()
	waitFor(t, "live traffic before the cut", func() bool { return g.liveCount() > 200 })

	proxy.Stop()
	waitFor(t, "bus to notice the cut", func() bool { return !b.Healthy() })
	postErr := make(chan error, 1)
	if err := b.Post(5, []byte("during outage"), func(err error) { postErr <- err }); err != nil {
		t.Fatal(err)
	}
	if err := <-postErr; err == nil {
		t.Fatal("Post during the outage reported success")
	}
	atCut := committed.len()
	waitFor(t, "messages committed during the outage", func() bool { return len(truth(0)) > atCut+200 })

	if err := proxy.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "reconnection", func() bool { return b.Healthy() && nodeResyncs.Load() == 2 })
	waitFor(t, "channel resync after reconnection", func() bool { _, _, r := g.snapshot(); return r == 2 })
	waitFor(t, "user topic resync after reconnection", func() bool { return user.resyncCount() == 2 })
	if s := b.Stats(); s.Reconnects != 1 || s.Topics != 2 {
		t.Fatalf("after one cut: reconnects %d, topics %d; want 1 and 2", s.Reconnects, s.Topics)
	}
	liveAtRecovery := g.liveCount()
	waitFor(t, "live traffic after recovery", func() bool { return g.liveCount() > liveAtRecovery+200 })
	close(stop)
	<-pubDone

	// Once the last message is delivered live, B has every committed message exactly once
	// and in order.
	commitAndPublish()
	total := len(truth(0))
	waitFor(t, "the final message", func() bool { got, _, _ := g.snapshot(); return len(got) == total })
	got, filled, _ := g.snapshot()
	if g.liveCount() != total-filled {
		t.Fatalf("%d live + %d filled != %d", g.liveCount(), filled, total)
	}
	for i, v := range got {
		if v != uint32(i) {
			t.Fatalf("position %d holds %d", i, v)
		}
	}
	if filled < 20 {
		t.Fatalf("only %d messages filled from the source of truth; at least the 20 from before the first connection must be", filled)
	}
	t.Logf("%d messages, %d live, %d filled from the source of truth", total, total-filled, filled)

	if err := a.PublishUser(context.Background(), 9, []byte("after")); err != nil {
		t.Fatal(err)
	}
	user.waitCount(t, 1)
	if err := b.Publish(context.Background(), 6, []byte("publishing works again")); err != nil {
		t.Fatal(err)
	}
}

// A link that goes silent without closing is found out by the health-check ping.
func TestBusDetectsStalledLink(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.Client(t)
	proxy := newRedisProxy(t)
	cfg := testBusConfig(prefix)
	a := newTestBus(t, rdb, cfg)
	b := newTestBus(t, proxiedClient(t, proxy), cfg)
	var h recorder
	b.SubscribeChannel(11, &h)
	h.waitLive(t)
	// Healthy before the stall, and the resyncs so far (a topic may see one from Subscribe and
	// one from its lane's first ping): CI once saw "stall detected" pass before the stall.
	waitFor(t, "bus healthy", b.Healthy)
	before := h.resyncCount()

	if _, err := proxy.Toxics.AddToxicJson(strings.NewReader(
		`{"name":"stall","type":"timeout","stream":"downstream","attributes":{"timeout":0}}`)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "stall detected", func() bool { return !b.Healthy() })
	if err := proxy.Toxics.RemoveToxic(context.Background(), "stall"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "reconnection", func() bool { return b.Healthy() && h.resyncCount() > before })
	if err := a.Publish(context.Background(), 11, []byte("after stall")); err != nil {
		t.Fatal(err)
	}
	h.waitCount(t, 1)
	if s := b.Stats(); s.Reconnects != 1 {
		t.Fatalf("reconnects = %d, want 1", s.Reconnects)
	}
}

// The server closing the subscriber connection (CLIENT KILL, a Redis restart or failover)
// is handled the same way.
func TestBusReconnectsAfterClientKill(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.Client(t)
	cfg := testBusConfig(prefix)
	name := strings.ReplaceAll(strings.TrimSuffix(prefix, ":"), ":", "-")
	named := redis.NewClient(&redis.Options{Addr: redistest.Addr(), ClientName: name})
	t.Cleanup(func() { _ = named.Close() })
	a := newTestBus(t, rdb, cfg)
	b := newTestBus(t, named, cfg)
	var h recorder
	b.SubscribeChannel(12, &h)
	h.waitLive(t)

	ctx := context.Background()
	list, err := rdb.ClientList(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	killed := 0
	for line := range strings.Lines(list) {
		f := clientFields(line)
		if f["name"] == name && f["sub"] != "0" {
			id, _ := strconv.ParseInt(f["id"], 10, 64)
			if err := rdb.ClientKillByFilter(ctx, "ID", strconv.FormatInt(id, 10)).Err(); err != nil {
				t.Fatal(err)
			}
			killed++
		}
	}
	if killed != 1 {
		t.Fatalf("found %d subscriber connections named %s, want 1", killed, name)
	}
	waitFor(t, "resubscription", func() bool { return h.resyncCount() == 2 && b.Healthy() })
	if err := a.Publish(ctx, 12, []byte("after kill")); err != nil {
		t.Fatal(err)
	}
	h.waitCount(t, 1)
	if s := b.Stats(); s.Reconnects != 1 {
		t.Fatalf("reconnects = %d, want 1", s.Reconnects)
	}
}

func clientFields(line string) map[string]string {
	m := map[string]string{}
	for kv := range strings.FieldsSeq(line) {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}
