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

// IDs makes message ids (cluster.IDGenerator).
type IDs interface {
	Next() int64
}
