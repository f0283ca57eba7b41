package actors

import (
	"github.com/asynkron/protoactor-go/actor"

	"github.com/parley-chat/parley/cluster"
)

// Bus carries events between the nodes of a cluster (every cluster.Bus implements it through
// ClusterBus). The channel actor of the committing node publishes each committed batch once;
// every node with a local subscriber of the channel holds the channel's topic and orders what
// arrives by seq (reorder.go). Every method returns at once: none may wait on the network.
type Bus interface {
	// Post queues payload for channelID's topic. done, when not nil, is called once with
	// the outcome from the bus's own goroutine and must not block; it is not called when
	// Post itself returns an error. Two Posts made in order are published in order.
	Post(channelID int64, payload []byte, done func(error)) error
	// PostUser is Post for userID's queue topic.
	PostUser(userID int64, payload []byte, done func(error)) error
	// SubscribeChannel registers h for the channel's traffic from other nodes until the
	// subscription is closed; the node holds the topic while any subscription does.
	SubscribeChannel(channelID int64, h BusHandler) BusSubscription
	// SubscribeUser is SubscribeChannel for a user's queue topic.
	SubscribeUser(userID int64, h BusHandler) BusSubscription
	// PostBroadcast is Post for the topic every node holds: one event for many users.
	PostBroadcast(payload []byte, done func(error)) error
	// SubscribeBroadcast is SubscribeChannel for that topic.
	SubscribeBroadcast(h BusHandler) BusSubscription
}

// BusHandler receives one topic's traffic (the method set of cluster.Handler). Both methods
// are called from the bus's reader goroutine and only send an actor a message.
type BusHandler interface {
	// Deliver is one payload another node posted; it may be retained, never modified.
	Deliver(payload []byte)
	// Resync says the topic is live (again): whatever was published before may have been
	// missed and must be read from PostgreSQL.
	Resync()
}

// BusSubscription is interest in a topic; Close drops it (idempotent).
type BusSubscription interface{ Close() }

// NopBus is the Bus of a single node: nothing goes out, nothing comes in.
type NopBus struct{}

// Post does nothing.
func (NopBus) Post(int64, []byte, func(error)) error { return nil }

// PostUser does nothing.
func (NopBus) PostUser(int64, []byte, func(error)) error { return nil }

// SubscribeChannel returns a subscription that never delivers.
func (NopBus) SubscribeChannel(int64, BusHandler) BusSubscription { return nopSubscription{} }

// SubscribeUser returns a subscription that never delivers.
func (NopBus) SubscribeUser(int64, BusHandler) BusSubscription { return nopSubscription{} }

// PostBroadcast does nothing.
func (NopBus) PostBroadcast([]byte, func(error)) error { return nil }

// SubscribeBroadcast returns a subscription that never delivers.
func (NopBus) SubscribeBroadcast(BusHandler) BusSubscription { return nopSubscription{} }

type nopSubscription struct{}

func (nopSubscription) Close() {}

// ClusterBus adapts a cluster.Bus (cluster.RedisBus, or cluster.MemoryBus in tests) to Bus.
func ClusterBus(b cluster.Bus) Bus { return clusterBus{b} }

type clusterBus struct{ b cluster.Bus }

func (c clusterBus) Post(channelID int64, payload []byte, done func(error)) error {
	return c.b.Post(channelID, payload, done)
}

func (c clusterBus) PostUser(userID int64, payload []byte, done func(error)) error {
	return c.b.PostUser(userID, payload, done)
}

func (c clusterBus) SubscribeChannel(channelID int64, h BusHandler) BusSubscription {
	return c.b.SubscribeChannel(channelID, h)
}

func (c clusterBus) SubscribeUser(userID int64, h BusHandler) BusSubscription {
	return c.b.SubscribeUser(userID, h)
}

func (c clusterBus) PostBroadcast(payload []byte, done func(error)) error {
	return c.b.PostBroadcast(payload, done)
}

func (c clusterBus) SubscribeBroadcast(h BusHandler) BusSubscription {
	return c.b.SubscribeBroadcast(h)
}

// publishEvents posts a channel's events that are not new messages (edits, typing, read…)
// for other nodes. They carry no seq and are not repaired when lost: each is either
// ephemeral or already part of the message's current state that a gap fill or a since-seq
// replay returns.
func (s *System) publishEvents(channelID int64, evs ...*event) {
	for _, p := range encodeChannelBatches(s.cfg.NodeID, channelID, 0, evs) {
		if err := s.bus.Post(channelID, p, nil); err != nil {
			s.met.cl.publishFailures.WithLabelValues("event").Inc()
			s.log.Debug("bus: post channel event", "channel", channelID, "err", err)
		}
	}
}

// publishUser hands ue to its user's sessions here and posts it for the other nodes.
func (s *System) publishUser(ue *userEvent) {
	s.deliverUser(ue)
	p := encodeUserEvent(s.cfg.NodeID, ue)
	if err := s.bus.PostUser(ue.userID, p, func(err error) {
		if err != nil {
			s.met.cl.publishFailures.WithLabelValues("user").Inc()
		}
	}); err != nil {
		s.met.cl.publishFailures.WithLabelValues("user").Inc()
		s.log.Debug("bus: post user event", "user", ue.userID, "err", err)
	}
}

// watchUser takes bus interest in userID's queue events; called with smu held when the
// user's first session on this node opens. A user event from another node goes straight
// to the connection actors of the user's sessions, like a local one.
func (s *System) watchUser(userID int64) {
	if _, ok := s.userSubs[userID]; !ok {
		s.userSubs[userID] = s.bus.SubscribeUser(userID, userHandler{sys: s, userID: userID})
	}
}

// unwatchUser drops the interest when the user's last session here is gone (smu held).
func (s *System) unwatchUser(userID int64) {
	if sub, ok := s.userSubs[userID]; ok {
		sub.Close()
		delete(s.userSubs, userID)
	}
}

// userHandler receives a user's queue events from other nodes. User events are not
// replayed after a resync: a mention is stored and listed by GET /api/mentions, and a
// notification describes a change the client sees on its next fetch.
type userHandler struct {
	sys    *System
	userID int64
}

func (h userHandler) Deliver(payload []byte) {
	ue, err := decodeUserEvent(payload)
	// An access change is a user event too (access.go): dropped here, it never reached the
	// user's sessions on other nodes (issue 21, finding 6).
	if err != nil || ue.userID != h.userID || !(userQueues[ue.dest] || ue.dest == accessDest || ue.dest == tokenDest) {
		h.sys.met.cl.malformed.Inc()
		return
	}
	h.sys.met.cl.received.WithLabelValues("user").Inc()
	h.sys.deliverUser(ue)
}

func (userHandler) Resync() {}

// channelHandler forwards a channel topic's traffic to its channel actor. gen tells the
// actor which of its interests the call belongs to: a call already under way when the
// interest was dropped is ignored.
type channelHandler struct {
	root *actor.RootContext
	pid  *actor.PID
	gen  int
}

func (h channelHandler) Deliver(payload []byte) {
	h.root.Send(h.pid, &busDelivery{gen: h.gen, payload: payload})
}

func (h channelHandler) Resync() { h.root.Send(h.pid, &busResync{gen: h.gen}) }
