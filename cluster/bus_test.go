package cluster

import (
	"context"
	"encoding/binary"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/parley-chat/parley/cluster/redistest"
)

// testBusConfig is quick to notice failures and to reconnect, and isolated by prefix.
func testBusConfig(prefix string) BusConfig {
	return BusConfig{
		TopicPrefix:    prefix + "bus:",
		PublishTimeout: 500 * time.Millisecond,
		ConnectTimeout: 2 * time.Second,
		PingInterval:   150 * time.Millisecond,
		ReconnectMin:   10 * time.Millisecond,
		ReconnectMax:   200 * time.Millisecond,
	}
}

func newTestBus(t testing.TB, rdb redis.UniversalClient, cfg BusConfig) *RedisBus {
	t.Helper()
	b, err := NewRedisBus(rdb, cfg, nil, prometheus.NewRegistry())
	if err != nil {
		t.Fatalf("NewBus: %v", err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// recorder is a Handler that keeps what it is given.
type recorder struct {
	mu      sync.Mutex
	msgs    [][]byte
	resyncs int
}

func (r *recorder) Deliver(p []byte) {
	r.mu.Lock()
	r.msgs = append(r.msgs, p)
	r.mu.Unlock()
}

func (r *recorder) Resync() {
	r.mu.Lock()
	r.resyncs++
	r.mu.Unlock()
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.msgs)
}

func (r *recorder) resyncCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.resyncs
}

func (r *recorder) strings() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, len(r.msgs))
	for i, m := range r.msgs {
		out[i] = string(m)
	}
	return out
}

func (r *recorder) waitCount(t testing.TB, n int) {
	t.Helper()
	waitFor(t, "messages", func() bool { return r.count() >= n })
	if got := r.count(); got != n {
		t.Fatalf("received %d messages, want %d", got, n)
	}
}

func (r *recorder) waitLive(t testing.TB) {
	t.Helper()
	waitFor(t, "subscription live", func() bool { return r.resyncCount() > 0 })
}

func numSub(t testing.TB, rdb *redis.Client, topic string) int64 {
	t.Helper()
	m, err := rdb.PubSubNumSub(context.Background(), topic).Result()
	if err != nil {
		t.Fatalf("PUBSUB NUMSUB: %v", err)
	}
	return m[topic]
}

func TestBusConfigDefaultsAndValidation(t *testing.T) {
	t.Parallel()
	c := BusConfig{}.withDefaults()
	if err := c.validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
	if c.TopicPrefix != DefaultBusTopicPrefix || c.PublishTimeout != DefaultBusPublishTimeout || c.PostQueue != DefaultBusPostQueue {
		t.Fatalf("defaults not applied: %+v", c)
	}
	bad := []BusConfig{
		{PublishTimeout: time.Minute},
		{PingInterval: time.Millisecond},
		{ReconnectMin: time.Second, ReconnectMax: time.Millisecond},
		{MaxPayload: -1},
		{PostBatch: 1 << 20},
		{ConnectTimeout: -time.Second},
	}
	for _, cfg := range bad {
		if err := cfg.withDefaults().validate(); err == nil {
			t.Errorf("config %+v accepted", cfg)
		}
	}
	if _, err := NewRedisBus(nil, BusConfig{}, nil, nil); err == nil {
		t.Error("nil client accepted")
	}
}

func TestBackoffIsCappedWithJitter(t *testing.T) {
	t.Parallel()
	lo, hi := 100*time.Millisecond, 5*time.Second
	for n := range 64 {
		d := backoff(n, lo, hi)
		want := min(hi, lo<<min(n, 20))
		if d < want/2 || d > want {
			t.Fatalf("backoff(%d) = %s, want within [%s, %s]", n, d, want/2, want)
		}
	}
}

// A node without interest in a channel gets none of its traffic: Redis does not send it.
func TestBusInterestBasedDelivery(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.Client(t)
	cfg := testBusConfig(prefix)
	a, b, c := newTestBus(t, rdb, cfg), newTestBus(t, rdb, cfg), newTestBus(t, rdb, cfg)

	var onB, onC recorder
	b.SubscribeChannel(1, &onB)
	c.SubscribeChannel(2, &onC)
	onB.waitLive(t)
	onC.waitLive(t)

	ctx := context.Background()
	for i := range 50 {
		if err := a.Publish(ctx, 2, []byte("two-"+string(rune('a'+i%26)))); err != nil {
			t.Fatal(err)
		}
	}
	for range 5 {
		if err := a.Publish(ctx, 1, []byte("one")); err != nil {
			t.Fatal(err)
		}
	}
	onC.waitCount(t, 50)
	// Channel 1's messages were published after channel 2's, so had B been sent any of
	// channel 2's traffic it would have arrived by now.
	onB.waitCount(t, 5)
	for _, m := range onB.strings() {
		if m != "one" {
			t.Fatalf("node B got %q, a message of a channel it has no interest in", m)
		}
	}
	if s := b.Stats(); s.ReceivedChannel != 5 {
		t.Fatalf("node B received %d channel messages from Redis, want 5 (none of channel 2's 50)", s.ReceivedChannel)
	}
	if s := a.Stats(); s.ReceivedChannel != 0 || s.Published != 55 {
		t.Fatalf("publisher stats %+v: want 0 received, 55 published", s)
	}
	if n := numSub(t, rdb, b.channelTopic(2)); n != 1 {
		t.Fatalf("channel 2 has %d Redis subscribers, want 1 (node C only)", n)
	}
}

func TestBusRefCountedSubscriptions(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.Client(t)
	cfg := testBusConfig(prefix)
	a, b := newTestBus(t, rdb, cfg), newTestBus(t, rdb, cfg)
	ctx := context.Background()
	name := b.channelTopic(7)

	var h1, h2 recorder
	s1 := b.SubscribeChannel(7, &h1)
	h1.waitLive(t)
	s2 := b.SubscribeChannel(7, &h2)
	if h2.resyncCount() != 1 {
		t.Fatal("a Subscription added to a live topic must be told at once that it is live")
	}
	if n := numSub(t, rdb, name); n != 1 {
		t.Fatalf("two local subscriptions made %d Redis subscriptions, want 1", n)
	}
	if err := a.Publish(ctx, 7, []byte("m1")); err != nil {
		t.Fatal(err)
	}
	h1.waitCount(t, 1)
	h2.waitCount(t, 1)

	s1.Close()
	s1.Close() // idempotent
	if err := a.Publish(ctx, 7, []byte("m2")); err != nil {
		t.Fatal(err)
	}
	h2.waitCount(t, 2)
	if h1.count() != 1 {
		t.Fatalf("closed subscription got %d messages, want 1", h1.count())
	}
	if n := numSub(t, rdb, name); n != 1 {
		t.Fatalf("after closing one of two subscriptions Redis has %d subscribers, want 1", n)
	}

	s2.Close()
	waitFor(t, "Redis unsubscribe", func() bool { return numSub(t, rdb, name) == 0 })
	waitFor(t, "topic gauge at 0", func() bool { return b.Stats().Topics == 0 })
	if err := a.Publish(ctx, 7, []byte("m3")); err != nil {
		t.Fatal(err)
	}

	// Subscribing again makes a fresh Redis subscription and a fresh Resync.
	var h3 recorder
	b.SubscribeChannel(7, &h3)
	h3.waitLive(t)
	if err := a.Publish(ctx, 7, []byte("m4")); err != nil {
		t.Fatal(err)
	}
	h3.waitCount(t, 1)
	if got := h3.strings()[0]; got != "m4" {
		t.Fatalf("new subscription got %q, want m4 (m3 was published while nobody here held the topic)", got)
	}
	if s := b.Stats(); s.ReceivedChannel != 3 {
		t.Fatalf("node B received %d messages from Redis, want 3 (m3 not sent to it)", s.ReceivedChannel)
	}
}

// Subscribe/Close churn from many goroutines leaves the Redis subscription matching the
// final local state.
func TestBusSubscriptionChurn(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.Client(t)
	b := newTestBus(t, rdb, testBusConfig(prefix))
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				s := b.SubscribeChannel(int64(i%5), HandlerFuncs{})
				if i%7 != g {
					s.Close()
				}
			}
		})
	}
	wg.Wait()
	// Goroutine g kept the subscriptions with i%7 == g, which cover every channel 0..4.
	for ch := range int64(5) {
		waitFor(t, "held topic subscribed", func() bool { return numSub(t, rdb, b.channelTopic(ch)) == 1 })
	}
	waitFor(t, "topic gauge", func() bool { return b.Stats().Topics == 5 })
}

func TestBusUserTopics(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.Client(t)
	cfg := testBusConfig(prefix)
	a, b := newTestBus(t, rdb, cfg), newTestBus(t, rdb, cfg)
	ctx := context.Background()

	// Two sessions of user 42 on node B share one Redis subscription.
	var s1, s2 recorder
	sub1 := b.SubscribeUser(42, &s1)
	b.SubscribeUser(42, &s2)
	s1.waitLive(t)
	if n := numSub(t, rdb, b.userTopic(42)); n != 1 {
		t.Fatalf("user 42 has %d Redis subscriptions, want 1", n)
	}
	if err := a.PublishUser(ctx, 43, []byte("not yours")); err != nil {
		t.Fatal(err)
	}
	if err := a.PublishUser(ctx, 42, []byte("mention")); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	if err := a.PostUser(42, []byte("notification"), func(err error) { done <- err }); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	s1.waitCount(t, 2)
	s2.waitCount(t, 2)
	if got := strings.Join(s2.strings(), ","); got != "mention,notification" {
		t.Fatalf("user 42 got %s", got)
	}
	if st := b.Stats(); st.ReceivedUser != 2 || st.ReceivedChannel != 0 {
		t.Fatalf("node B stats %+v: want 2 user messages (none of user 43's)", st)
	}

	sub1.Close()
	if err := a.PublishUser(ctx, 42, []byte("third")); err != nil {
		t.Fatal(err)
	}
	s2.waitCount(t, 3)
	if s1.count() != 2 {
		t.Fatal("closed user subscription still receives")
	}
}

func TestBusBroadcastAndNoEcho(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.Client(t)
	cfg := testBusConfig(prefix)
	a, b := newTestBus(t, rdb, cfg), newTestBus(t, rdb, cfg)
	var onA, onB recorder
	a.SubscribeBroadcast(&onA)
	b.SubscribeBroadcast(&onB)
	onA.waitLive(t)
	onB.waitLive(t)
	if err := a.PublishBroadcast(context.Background(), []byte("drain")); err != nil {
		t.Fatal(err)
	}
	onB.waitCount(t, 1)
	waitFor(t, "echo dropped", func() bool { return a.Stats().DroppedEcho == 1 })
	if onA.count() != 0 {
		t.Fatal("a bus delivered its own publish to itself")
	}
	if st := a.Stats(); st.ReceivedBroadcast != 1 {
		t.Fatalf("publisher received %d broadcasts from Redis, want its 1 echo", st.ReceivedBroadcast)
	}
}

// Messages from one publisher arrive in the order published, through Publish and Post.
func TestBusOrderingFromOnePublisher(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.Client(t)
	cfg := testBusConfig(prefix)
	cfg.PostBatch = 64
	a, b := newTestBus(t, rdb, cfg), newTestBus(t, rdb, cfg)

	var got recorder
	b.SubscribeChannel(9, &got)
	got.waitLive(t)

	const nPublish, nPost = 500, 5000
	ctx := context.Background()
	for i := range nPublish {
		if err := a.Publish(ctx, 9, binary.BigEndian.AppendUint32(nil, uint32(i))); err != nil {
			t.Fatal(err)
		}
	}
	var failed sync.WaitGroup
	var postErr error
	var mu sync.Mutex
	for i := nPublish; i < nPublish+nPost; i++ {
		failed.Add(1)
		err := a.Post(9, binary.BigEndian.AppendUint32(nil, uint32(i)), func(err error) {
			if err != nil {
				mu.Lock()
				postErr = err
				mu.Unlock()
			}
			failed.Done()
		})
		if err != nil {
			t.Fatalf("Post %d: %v", i, err)
		}
	}
	failed.Wait()
	if postErr != nil {
		t.Fatal(postErr)
	}
	got.waitCount(t, nPublish+nPost)
	got.mu.Lock()
	defer got.mu.Unlock()
	for i, m := range got.msgs {
		if v := binary.BigEndian.Uint32(m); v != uint32(i) {
			t.Fatalf("message %d is %d: order not preserved", i, v)
		}
	}
}

func TestBusPublishLimitsAndClose(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.Client(t)
	cfg := testBusConfig(prefix)
	cfg.MaxPayload = 16
	reg := prometheus.NewRegistry()
	b, err := NewRedisBus(rdb, cfg, nil, reg)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "healthy", b.Healthy)
	if err := b.Ping(context.Background()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if err := b.Publish(context.Background(), 1, make([]byte, 17)); !errors.Is(err, ErrPayloadTooLarge) {
		t.Fatalf("oversized Publish: %v", err)
	}
	if err := b.Post(1, make([]byte, 17), nil); !errors.Is(err, ErrPayloadTooLarge) {
		t.Fatalf("oversized Post: %v", err)
	}
	if v := gaugeValue(t, reg, "parley_bus_connected"); v != 1 {
		t.Fatalf("parley_bus_connected = %v, want 1", v)
	}

	// Posts queued before Close are flushed by it.
	var h recorder
	other := newTestBus(t, rdb, cfg)
	other.SubscribeChannel(3, &h)
	h.waitLive(t)
	for range 10 {
		if err := b.Post(3, []byte("last words"), nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	h.waitCount(t, 10)
	if b.Healthy() {
		t.Fatal("closed bus reports healthy")
	}
	if err := b.Publish(context.Background(), 3, nil); !errors.Is(err, ErrBusClosed) {
		t.Fatalf("Publish after Close: %v", err)
	}
	if err := b.Post(3, nil, nil); !errors.Is(err, ErrBusClosed) {
		t.Fatalf("Post after Close: %v", err)
	}
	if err := b.Ping(context.Background()); !errors.Is(err, ErrBusDisconnected) {
		t.Fatalf("Ping after Close: %v", err)
	}
	b.SubscribeChannel(3, HandlerFuncs{OnDeliver: func([]byte) { t.Error("handler called after Close") }}).Close()
}

func gaugeValue(t testing.TB, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("metric %s not registered", name)
	return 0
}
