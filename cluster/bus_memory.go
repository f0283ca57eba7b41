package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
)

// MemoryHub connects the MemoryBuses of one process as Redis connects RedisBuses: several
// "nodes" of a cluster in one test, with no Redis. Each hub is a cluster of its own.
type MemoryHub struct {
	mu sync.Mutex
	// holders are the connected nodes holding each topic.
	holders map[string]map[*MemoryBus]struct{}
}

// NewMemoryHub returns an empty hub.
func NewMemoryHub() *MemoryHub {
	return &MemoryHub{holders: make(map[string]map[*MemoryBus]struct{})}
}

// MemoryBusConfig configures a MemoryBus. The zero value is usable.
type MemoryBusConfig struct {
	// MaxPayload is the largest payload Post accepts, in bytes. Default 1 MiB, as
	// BusConfig's.
	MaxPayload int
	// PostQueue is the capacity, in messages, of the queue behind Post. Default 8192.
	PostQueue int
}

func (c MemoryBusConfig) withDefaults() MemoryBusConfig {
	if c.MaxPayload == 0 {
		c.MaxPayload = DefaultBusMaxPayload
	}
	if c.PostQueue == 0 {
		c.PostQueue = DefaultBusPostQueue
	}
	return c
}

func (c MemoryBusConfig) validate() error {
	var errs []error
	if c.MaxPayload < 0 || c.MaxPayload > maxBusPayload {
		errs = append(errs, fmt.Errorf("memory bus MaxPayload %d is outside 1..%d bytes", c.MaxPayload, maxBusPayload))
	}
	if c.PostQueue < 0 {
		errs = append(errs, fmt.Errorf("memory bus PostQueue %d is negative", c.PostQueue))
	}
	return errors.Join(errs...)
}

// MemoryBus is one node's Bus on a MemoryHub, with RedisBus's semantics (the contract suite
// in cluster/bustest runs against both): no echo of the node's own posts, one goroutine
// sending a node's Posts in order, one reader goroutine per node calling the Handlers, no
// retention (a topic's traffic reaches only the nodes holding it when it is posted), and a
// Resync for every subscription once it is live. Disconnect and Connect cut a node off and
// bring it back as a lost Redis connection would, for tests of what the node then misses.
//
// A node's inbox is unbounded: a Handler that blocks delays only its own node, and the
// memory grows instead of Redis's output buffer limit dropping the connection.
type MemoryBus struct {
	hub *MemoryHub
	cfg MemoryBusConfig

	// Guarded by hub.mu.
	subs      map[string][]*memorySubscription // copied on write: the reader uses snapshots
	connected bool
	closed    bool

	healthy atomic.Bool

	inMu  sync.Mutex
	inbox []memoryItem
	wake  chan struct{} // capacity 1: inbox has items

	postMu     sync.RWMutex // write-held only by Close, so no Post races the final flush
	postClosed bool
	postq      chan postItem

	stopPost, stopRead chan struct{}
	postDone, readDone chan struct{}
	closeOnce          sync.Once
}

var _ Bus = (*MemoryBus)(nil)

// memoryItem is one call for the reader to make: a delivery to the topic's handlers, or
// (sub set) a Resync of one subscription.
type memoryItem struct {
	topic   string
	payload []byte
	sub     *memorySubscription
}

type memorySubscription struct {
	bus    *MemoryBus
	name   string
	h      Handler
	closed atomic.Bool
}

// NewMemoryBus validates cfg and adds a connected node to hub.
func NewMemoryBus(hub *MemoryHub, cfg MemoryBusConfig) (*MemoryBus, error) {
	if hub == nil {
		return nil, errors.New("memory bus: nil hub")
	}
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	b := &MemoryBus{
		hub:       hub,
		cfg:       cfg,
		subs:      make(map[string][]*memorySubscription),
		connected: true,
		wake:      make(chan struct{}, 1),
		postq:     make(chan postItem, cfg.PostQueue),
		stopPost:  make(chan struct{}),
		stopRead:  make(chan struct{}),
		postDone:  make(chan struct{}),
		readDone:  make(chan struct{}),
	}
	b.healthy.Store(true)
	go b.postLoop()
	go b.readLoop()
	return b, nil
}

// Topic names, as RedisBus's without the prefix: a hub is one cluster.
func memoryChannelTopic(id int64) string { return "c:" + strconv.FormatInt(id, 10) }
func memoryUserTopic(id int64) string    { return "u:" + strconv.FormatInt(id, 10) }

const memoryBroadcastTopic = "all"

// Post queues payload for the channel's topic; see Bus.
func (b *MemoryBus) Post(channelID int64, payload []byte, done func(error)) error {
	return b.post(memoryChannelTopic(channelID), payload, done)
}

// PostUser queues payload for the user's topic; see Bus.
func (b *MemoryBus) PostUser(userID int64, payload []byte, done func(error)) error {
	return b.post(memoryUserTopic(userID), payload, done)
}

// PostBroadcast queues payload for the topic every node holds; see Bus.
func (b *MemoryBus) PostBroadcast(payload []byte, done func(error)) error {
	return b.post(memoryBroadcastTopic, payload, done)
}

func (b *MemoryBus) post(name string, payload []byte, done func(error)) error {
	if len(payload) > b.cfg.MaxPayload {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrPayloadTooLarge, len(payload), b.cfg.MaxPayload)
	}
	b.postMu.RLock()
	defer b.postMu.RUnlock()
	if b.postClosed {
		return ErrBusClosed
	}
	// A copy, as Redis's would be: the caller may reuse its buffer once Post returns.
	select {
	case b.postq <- postItem{topic: name, env: slices.Clone(payload), done: done}:
		return nil
	default:
		return ErrPostQueueFull
	}
}

// postLoop hands queued Posts to the holders' inboxes, in order, until Close; then it
// flushes what is left.
func (b *MemoryBus) postLoop() {
	defer close(b.postDone)
	for {
		select {
		case it := <-b.postq:
			b.send(it)
		case <-b.stopPost:
			// Close holds postMu before stopping us, so nothing is added from here on.
			for {
				select {
				case it := <-b.postq:
					b.send(it)
				default:
					return
				}
			}
		}
	}
}

// send enqueues one post for every other connected node holding its topic, under the hub's
// lock so that one node's posts reach each inbox in the order they were sent.
func (b *MemoryBus) send(it postItem) {
	var err error
	h := b.hub
	h.mu.Lock()
	if b.connected {
		for n := range h.holders[it.topic] {
			if n != b {
				n.enqueue(memoryItem{topic: it.topic, payload: it.env})
			}
		}
	} else {
		err = fmt.Errorf("memory bus: post %s: %w", it.topic, ErrBusDisconnected)
	}
	h.mu.Unlock()
	if it.done != nil {
		it.done(err)
	}
}

// enqueue adds it to the node's inbox. Called with hub.mu held.
func (b *MemoryBus) enqueue(it memoryItem) {
	b.inMu.Lock()
	b.inbox = append(b.inbox, it)
	b.inMu.Unlock()
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// readLoop is the node's reader: it calls the Handlers, one item at a time.
func (b *MemoryBus) readLoop() {
	defer close(b.readDone)
	var batch []memoryItem
	for {
		select {
		case <-b.stopRead:
			return
		case <-b.wake:
		}
		b.inMu.Lock()
		batch, b.inbox = b.inbox, batch[:0]
		b.inMu.Unlock()
		for i := range batch {
			select {
			case <-b.stopRead:
				return
			default:
			}
			b.dispatch(&batch[i])
			batch[i] = memoryItem{}
		}
	}
}

func (b *MemoryBus) dispatch(it *memoryItem) {
	if s := it.sub; s != nil {
		if !s.closed.Load() {
			s.h.Resync()
		}
		return
	}
	b.hub.mu.Lock()
	subs := b.subs[it.topic]
	b.hub.mu.Unlock()
	for _, s := range subs {
		if !s.closed.Load() {
			s.h.Deliver(it.payload)
		}
	}
}

// SubscribeChannel registers h for the channel's traffic; see Bus.
func (b *MemoryBus) SubscribeChannel(channelID int64, h Handler) Subscription {
	return b.subscribe(memoryChannelTopic(channelID), h)
}

// SubscribeUser registers h for the user's queue traffic; see Bus.
func (b *MemoryBus) SubscribeUser(userID int64, h Handler) Subscription {
	return b.subscribe(memoryUserTopic(userID), h)
}

// SubscribeBroadcast registers h for the topic every node holds; see Bus.
func (b *MemoryBus) SubscribeBroadcast(h Handler) Subscription {
	return b.subscribe(memoryBroadcastTopic, h)
}

// subscribe holds the topic at once; the Resync goes through the reader, so that every
// message posted after it is delivered after it.
func (b *MemoryBus) subscribe(name string, h Handler) *memorySubscription {
	s := &memorySubscription{bus: b, name: name, h: h}
	hub := b.hub
	hub.mu.Lock()
	defer hub.mu.Unlock()
	if b.closed {
		s.closed.Store(true)
		return s
	}
	b.subs[name] = append(slices.Clip(b.subs[name]), s)
	if b.connected {
		hub.hold(name, b)
		b.enqueue(memoryItem{sub: s})
	}
	return s
}

// Close ends the subscription; see Subscription.
func (s *memorySubscription) Close() {
	if s.closed.Swap(true) {
		return
	}
	b, hub := s.bus, s.bus.hub
	hub.mu.Lock()
	defer hub.mu.Unlock()
	subs := b.subs[s.name]
	i := slices.Index(subs, s)
	if i < 0 {
		return // the bus was closed
	}
	if len(subs) == 1 {
		delete(b.subs, s.name)
		hub.release(s.name, b)
		return
	}
	b.subs[s.name] = slices.Delete(slices.Clone(subs), i, i+1)
}

// hold and release add and remove n as a holder of a topic. Called with h.mu held.
func (h *MemoryHub) hold(name string, n *MemoryBus) {
	ns := h.holders[name]
	if ns == nil {
		ns = make(map[*MemoryBus]struct{})
		h.holders[name] = ns
	}
	ns[n] = struct{}{}
}

func (h *MemoryHub) release(name string, n *MemoryBus) {
	if ns := h.holders[name]; ns != nil {
		delete(ns, n)
		if len(ns) == 0 {
			delete(h.holders, name)
		}
	}
}

// Disconnect cuts the node off, as a lost Redis connection would: what was on its way to
// it is lost, it receives nothing and its Posts fail with ErrBusDisconnected until Connect.
func (b *MemoryBus) Disconnect() {
	hub := b.hub
	hub.mu.Lock()
	defer hub.mu.Unlock()
	if !b.connected || b.closed {
		return
	}
	b.connected = false
	b.healthy.Store(false)
	for name := range b.subs {
		hub.release(name, b)
	}
	b.inMu.Lock()
	clear(b.inbox)
	b.inbox = b.inbox[:0]
	b.inMu.Unlock()
}

// Connect brings a disconnected node back: every held topic is live again and each of its
// subscriptions is told to Resync.
func (b *MemoryBus) Connect() {
	hub := b.hub
	hub.mu.Lock()
	defer hub.mu.Unlock()
	if b.connected || b.closed {
		return
	}
	b.connected = true
	b.healthy.Store(true)
	for name, subs := range b.subs {
		hub.hold(name, b)
		for _, s := range subs {
			b.enqueue(memoryItem{sub: s})
		}
	}
}

// Healthy reports whether the node is connected and not closed.
func (b *MemoryBus) Healthy() bool { return b.healthy.Load() }

// Ping returns ErrBusDisconnected unless the node is Healthy.
func (b *MemoryBus) Ping(context.Context) error {
	if !b.Healthy() {
		return ErrBusDisconnected
	}
	return nil
}

// Close flushes the queued Posts, leaves every topic and stops the reader; no Handler is
// called once it has returned.
func (b *MemoryBus) Close() error {
	b.closeOnce.Do(func() {
		hub := b.hub
		hub.mu.Lock()
		b.closed = true
		b.healthy.Store(false)
		for name, subs := range b.subs {
			for _, s := range subs {
				s.closed.Store(true)
			}
			hub.release(name, b)
		}
		clear(b.subs)
		hub.mu.Unlock()
		b.postMu.Lock()
		b.postClosed = true
		b.postMu.Unlock()
		close(b.stopPost)
		<-b.postDone
		close(b.stopRead)
		<-b.readDone
	})
	return nil
}
