package cluster

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// RedisBus is the Bus over Redis Pub/Sub (ADR 0004). Each channel, each user and the
// node-wide broadcast have their own Redis topic, and a node is subscribed to a topic only
// while something on it holds a Subscription, so a node receives only the traffic of the
// channels and users it serves. All subscriptions share one Redis connection, read by one
// goroutine; a lost connection is re-established with backoff, every topic resubscribed
// and every Handler told to Resync.
//
// On a Redis Cluster (ADR 0043) channel and user topics are sharded Pub/Sub channels
// (SPUBLISH/SSUBSCRIBE), so their traffic stays on the shard owning the topic's slot
// instead of being rebroadcast to every node of the cluster. Each such topic carries one of
// ShardLanes hash tags; a lane is one subscriber connection to the master serving its tag's
// slot, with the same session life as above. Lane 0 (plain SUBSCRIBE) carries the broadcast
// topic and topics without a tag (presence's).
//
// All methods are safe for concurrent use.
type RedisBus struct {
	rdb    redis.UniversalClient
	cfg    BusConfig
	log    *slog.Logger
	origin string // random id of this Bus in every envelope, to drop our own echoes
	stats  busStats

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{} // closed when every lane's subscriber loop has stopped

	sharded bool       // Redis Cluster: sharded Pub/Sub over lanes[1:]
	lanes   []*busLane // lanes[0] plain Pub/Sub; lanes[1:] sharded, one per hash tag

	mu       sync.RWMutex
	topics   map[string]*topic
	resyncFn []func()
	closed   bool

	postMu     sync.RWMutex // write-held only by Close, so no Post races the final drain
	postClosed bool
	postq      chan postItem
	postDone   chan struct{}

	closeOnce sync.Once
}

// topic is the node's state of one Redis channel. Guarded by Bus.mu.
type topic struct {
	kind busInterest
	lane *busLane
	// subs is copied on write, so the reader can use a snapshot without holding the lock.
	subs []*redisSubscription
	// sent: a SUBSCRIBE for the topic was written on the current connection and no
	// UNSUBSCRIBE since. pending: SUBSCRIBEs written whose confirmation has not arrived.
	// live: confirmed, with no SUBSCRIBE outstanding. All three reset with the connection.
	sent    bool
	pending int
	live    bool
}

// redisSubscription is one holder's interest in a topic.
type redisSubscription struct {
	bus    *RedisBus
	name   string
	h      Handler
	closed atomic.Bool
}

// NewBus validates cfg and starts the bus: its subscriber connection is opened in the
// background (see Healthy). logger and reg may be nil (discard; metrics unregistered).
func NewRedisBus(rdb redis.UniversalClient, cfg BusConfig, logger *slog.Logger, reg prometheus.Registerer) (*RedisBus, error) {
	if rdb == nil {
		return nil, errors.New("bus: nil redis client")
	}
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	sharded := IsRedisCluster(rdb)
	if sharded && strings.ContainsAny(cfg.TopicPrefix, "{}") {
		return nil, fmt.Errorf("bus TopicPrefix %q: no { or } on a Redis Cluster, where the bus's own hash tags place topics", cfg.TopicPrefix)
	}
	origin := make([]byte, busOriginLen)
	_, _ = rand.Read(origin)
	ctx, cancel := context.WithCancel(context.Background())
	b := &RedisBus{
		rdb:      rdb,
		cfg:      cfg,
		log:      logger.With("component", "bus"),
		origin:   string(origin),
		ctx:      ctx,
		cancel:   cancel,
		done:     make(chan struct{}),
		sharded:  sharded,
		topics:   make(map[string]*topic),
		postq:    make(chan postItem, cfg.PostQueue),
		postDone: make(chan struct{}),
	}
	if reg != nil {
		if err := b.stats.register(reg, b); err != nil {
			cancel()
			return nil, fmt.Errorf("bus: register metrics: %w", err)
		}
	}
	nl := 1
	if sharded {
		nl += cfg.ShardLanes
	}
	for i := range nl {
		b.lanes = append(b.lanes, newBusLane(b, i))
	}
	var wg sync.WaitGroup
	for _, l := range b.lanes {
		wg.Add(1)
		go func() { defer wg.Done(); l.run() }()
	}
	go func() { wg.Wait(); close(b.done) }()
	go b.postLoop()
	return b, nil
}

// Topic names. The interest kind is the first byte after the prefix; on a Redis Cluster
// a lane's hash tag ends the name.
func (b *RedisBus) channelTopic(channelID int64) string {
	return b.tagged(b.cfg.TopicPrefix+"c:"+strconv.FormatInt(channelID, 10), channelID)
}

func (b *RedisBus) userTopic(userID int64) string {
	return b.tagged(b.cfg.TopicPrefix+"u:"+strconv.FormatInt(userID, 10), userID)
}

func (b *RedisBus) broadcastTopic() string { return b.cfg.TopicPrefix + "all" }

func (b *RedisBus) interestOf(name string) busInterest {
	if len(name) > len(b.cfg.TopicPrefix) {
		switch name[len(b.cfg.TopicPrefix)] {
		case 'c':
			return interestChannel
		case 'u', 'p': // a user's queue, or a user's presence (presence.go)
			return interestUser
		}
	}
	return interestBroadcast
}

// SubscribeChannel registers h for the events of a channel. The node subscribes to the
// channel's topic with the first Subscription and unsubscribes when the last is closed.
// It never blocks on Redis: the subscription is made in the background and h.Resync marks
// the moment it is live.
func (b *RedisBus) SubscribeChannel(channelID int64, h Handler) Subscription {
	return b.subscribe(b.channelTopic(channelID), interestChannel, h)
}

// SubscribeUser registers h for a user's queue events (mentions, notifications), ref-counted
// per user like SubscribeChannel.
func (b *RedisBus) SubscribeUser(userID int64, h Handler) Subscription {
	return b.subscribe(b.userTopic(userID), interestUser, h)
}

// SubscribeBroadcast registers h for node-wide events, those every node needs.
func (b *RedisBus) SubscribeBroadcast(h Handler) Subscription {
	return b.subscribe(b.broadcastTopic(), interestBroadcast, h)
}

func (b *RedisBus) subscribe(name string, kind busInterest, h Handler) *redisSubscription {
	s := &redisSubscription{bus: b, name: name, h: h}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		s.closed.Store(true)
		return s
	}
	t := b.topics[name]
	if t == nil {
		t = &topic{kind: kind, lane: b.laneOf(name)}
		b.topics[name] = t
	}
	t.subs = append(slices.Clip(t.subs), s)
	first, live := len(t.subs) == 1, t.live
	if first {
		t.lane.dirty[name] = struct{}{}
	}
	b.mu.Unlock()
	if first {
		t.lane.poke()
	}
	if live {
		h.Resync()
	}
	return s
}

// Close ends the subscription; the node unsubscribes from the topic once no Subscription
// holds it. The handler may still see a call that was already under way. Idempotent.
func (s *redisSubscription) Close() {
	if s.closed.Swap(true) {
		return
	}
	b := s.bus
	b.mu.Lock()
	t := b.topics[s.name]
	last := false
	if t != nil {
		if i := slices.Index(t.subs, s); i >= 0 {
			t.subs = slices.Delete(slices.Clone(t.subs), i, i+1)
			last = len(t.subs) == 0
		}
	}
	if last {
		t.lane.dirty[s.name] = struct{}{}
	}
	b.mu.Unlock()
	if last {
		t.lane.poke()
	}
}

// OnResync registers f to be called after every (re)connection to Redis, once all topics
// are resubscribed: anything published while the node was disconnected was missed. Called
// from the reader goroutine: f must not block.
func (b *RedisBus) OnResync(f func()) {
	b.mu.Lock()
	b.resyncFn = append(slices.Clip(b.resyncFn), f)
	b.mu.Unlock()
}

// Healthy reports whether every subscriber connection (lane) is up and all topics are
// subscribed.
func (b *RedisBus) Healthy() bool {
	for _, l := range b.lanes {
		if !l.healthy.Load() {
			return false
		}
	}
	return true
}

// Ping reports whether the bus can both receive (subscriber connection up) and publish
// (a PING through the client's pool answers), for /readyz.
func (b *RedisBus) Ping(ctx context.Context) error {
	if !b.Healthy() {
		return ErrBusDisconnected
	}
	if err := b.rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("bus: ping redis: %w", err)
	}
	return nil
}

// Close stops the bus: pending Posts are flushed (within PublishTimeout), the subscriber
// connection is closed, and no Handler is called after Close returns.
func (b *RedisBus) Close() error {
	b.closeOnce.Do(func() {
		b.mu.Lock()
		b.closed = true
		for _, t := range b.topics {
			for _, s := range t.subs {
				s.closed.Store(true)
			}
		}
		b.mu.Unlock()
		b.postMu.Lock()
		b.postClosed = true
		b.postMu.Unlock()
		b.cancel()
		<-b.done
		<-b.postDone
	})
	return nil
}

// dispatch hands one received message to the topic's handlers. Runs on the reader.
func (b *RedisBus) dispatch(m *redis.Message) {
	b.stats.received[b.interestOf(m.Channel)].Add(1)
	b.stats.receivedBytes.Add(uint64(len(m.Payload)))
	if len(m.Payload) < busEnvelopeLen || m.Payload[0] != busEnvelopeVersion {
		b.stats.dropped[dropMalformed].Add(1)
		return
	}
	if m.Payload[1:busEnvelopeLen] == b.origin {
		b.stats.dropped[dropEcho].Add(1)
		return
	}
	b.mu.RLock()
	var subs []*redisSubscription
	if t := b.topics[m.Channel]; t != nil {
		subs = t.subs
	}
	b.mu.RUnlock()
	if len(subs) == 0 {
		b.stats.dropped[dropNoInterest].Add(1)
		return
	}
	payload := []byte(m.Payload[busEnvelopeLen:])
	for _, s := range subs {
		if s.closed.Load() {
			continue
		}
		start := time.Now()
		s.h.Deliver(payload)
		if time.Since(start) > b.cfg.SlowHandler {
			b.stats.slowHandlers.Add(1)
		}
	}
}
