package cluster

import (
	"context"
	"errors"
)

// Bus carries events between the nodes of a cluster: each channel and each user has a
// topic, and a node receives a topic's traffic only while something on it holds a
// Subscription. RedisBus (Redis Pub/Sub) runs in production; MemoryBus connects nodes in one
// process, for tests. Every implementation passes the contract suite in cluster/bustest,
// which is what the actors rely on (actors.Bus is the consumer's view):
//
//   - a node never receives its own posts;
//   - Posts made in order by one goroutine are delivered in that order, to every other node
//     that held the topic from before the first until after the last was posted;
//   - delivery is at most once per subscription: a message posted while a node was cut off
//     or not yet subscribed is missed, and Handler.Resync says when that may have happened;
//   - no Handler is called after Close returns.
//
// All methods are safe for concurrent use and none waits on the network.
type Bus interface {
	// Post queues payload for channelID's topic and returns at once. done, when not nil,
	// is called once with the outcome from the bus's own goroutine and must not block; it
	// is not called when Post itself fails (ErrPayloadTooLarge, ErrPostQueueFull,
	// ErrBusClosed).
	Post(channelID int64, payload []byte, done func(error)) error
	// PostUser is Post for userID's queue topic.
	PostUser(userID int64, payload []byte, done func(error)) error
	// SubscribeChannel registers h for the traffic of channelID's topic from other nodes,
	// until the Subscription is closed. The node holds the topic while any Subscription
	// does; h.Resync marks the moment the subscription is live.
	SubscribeChannel(channelID int64, h Handler) Subscription
	// SubscribeUser is SubscribeChannel for userID's queue topic.
	SubscribeUser(userID int64, h Handler) Subscription
	// PostBroadcast is Post for the topic every node holds (SubscribeBroadcast): an event
	// whose audience is spread over the cluster, such as one notification for many users.
	PostBroadcast(payload []byte, done func(error)) error
	// SubscribeBroadcast is SubscribeChannel for that topic.
	SubscribeBroadcast(h Handler) Subscription
	// Healthy reports whether the node is connected and every held topic is live.
	Healthy() bool
	// Ping reports whether the bus can both receive and publish, for /readyz.
	Ping(ctx context.Context) error
	// Close stops the bus: queued Posts are flushed first, and no Handler is called once
	// Close has returned. Idempotent.
	Close() error
}

// Subscription is one holder's interest in a topic. Close ends it; the Handler may still
// see a call that was already under way. Idempotent.
type Subscription interface{ Close() }

// Bus errors, checked with errors.Is.
var (
	// ErrBusClosed is returned by posting on a closed Bus.
	ErrBusClosed = errors.New("bus closed")
	// ErrBusDisconnected is returned by Ping, and reported to Post's done, while the node
	// is cut off from the other nodes.
	ErrBusDisconnected = errors.New("bus: not connected")
	// ErrPayloadTooLarge is returned for a payload above the bus's MaxPayload.
	ErrPayloadTooLarge = errors.New("bus: payload too large")
	// ErrPostQueueFull is returned by Post when the publish queue is full.
	ErrPostQueueFull = errors.New("bus: post queue full")
)

// Handler receives one topic's traffic on this node.
//
// Both methods are called from the bus's reader goroutine (Resync also from the goroutine
// that subscribes), so they must not block: hand the payload to an actor's mailbox or a
// buffered channel and return. A blocked handler stalls every topic of the node.
type Handler interface {
	// Deliver is called for each message another node posted to the topic; the node's own
	// posts are not echoed back. payload is shared by the topic's handlers and must not be
	// modified; it may be retained.
	//
	// Delivery is at most once (a message posted while this node was disconnected is never
	// delivered), and RedisBus may deliver a publish that go-redis retried after a lost
	// reply twice: order by a sequence number in the payload, drop duplicates, fill gaps
	// from the source of truth.
	Deliver(payload []byte)
	// Resync is called each time the topic becomes live: first after Subscribe and again
	// after every reconnection. Everything posted after that point is delivered; anything
	// posted before may have been missed, so the handler should fill in from PostgreSQL what
	// it has not seen. With RedisBus, Deliver calls may precede the first Resync.
	Resync()
}

// HandlerFuncs adapts two functions to a Handler; either may be nil.
type HandlerFuncs struct {
	OnDeliver func(payload []byte)
	OnResync  func()
}

// Deliver calls f.OnDeliver.
func (f HandlerFuncs) Deliver(payload []byte) {
	if f.OnDeliver != nil {
		f.OnDeliver(payload)
	}
}

// Resync calls f.OnResync.
func (f HandlerFuncs) Resync() {
	if f.OnResync != nil {
		f.OnResync()
	}
}
