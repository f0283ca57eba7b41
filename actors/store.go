package actors

import (
	"context"

	"github.com/parley-chat/parley/persistence"
)

// Store is what the actors need from PostgreSQL (persistence.Store implements it).
type Store interface {
	// AppendMessages writes a batch in one transaction and returns per-message results in
	// batch order; see persistence.Store.AppendMessages.
	AppendMessages(ctx context.Context, channelID int64, batch []persistence.NewMessage) ([]persistence.AppendResult, error)
	// MessagesAfter returns up to limit messages with seq > afterSeq, ascending, in their
	// current state.
	MessagesAfter(ctx context.Context, channelID, afterSeq int64, limit int) ([]persistence.Message, error)
	// ChannelAccess loads what userID is in channelID (persistence.ErrNotFound: no channel).
	ChannelAccess(ctx context.Context, userID, channelID int64) (persistence.Access, error)
}

// ReadMarks records read markers: the path PUT /api/channels/{cid}/read takes
// (api.StoreReadMarkers, or the Redis/Kafka pipeline that replaces it).
type ReadMarks interface {
	// MarkRead raises userID's marker in channelID to seq (already clamped to the channel's
	// last seq; a marker never moves backwards) and returns the marker after the call.
	MarkRead(ctx context.Context, userID, channelID, seq int64) (int64, error)
}

// Bus carries a channel's events to the other nodes (cluster's Redis bus implements it).
// Publish is called by the channel actor, so it must not block: an implementation queues
// and publishes on its own goroutine, and a lost publish is repaired by the receiving
// node's gap fill from PostgreSQL (SPEC guarantee 3).
type Bus interface {
	// Publish sends events of channelID, in order (new messages by seq).
	Publish(channelID int64, events []BusEvent)
	// PublishUser sends an event for one user's queue (dest, e.g. /user/queue/mentions).
	PublishUser(userID int64, dest string, ev BusEvent)
}

// BusEvent is one event of a channel as the bus carries it: the MESSAGE body exactly as
// local subscribers got it, so a remote node forwards bytes instead of re-encoding.
type BusEvent struct {
	// Seq is the message's seq for a new message, 0 for other events (edits, typing…).
	Seq int64
	// MessageID is the STOMP message-id header.
	MessageID string
	// Body is the JSON event.
	Body []byte
}

// NopBus is the Bus of a single node.
type NopBus struct{}

// Publish does nothing.
func (NopBus) Publish(int64, []BusEvent) {}

// PublishUser does nothing.
func (NopBus) PublishUser(int64, string, BusEvent) {}

// IDs makes message ids (cluster.IDGenerator).
type IDs interface {
	Next() int64
}
