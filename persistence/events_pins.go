package persistence

// Pin events on /topic/channel.{cid} (ADR 0042); see events.go for the others.
const (
	EventMessagePinned   = "message.pinned"
	EventMessageUnpinned = "message.unpinned"
)

// PinEvent: message ID (at Seq) was pinned (EventMessagePinned, with PinnedAt) or unpinned
// (EventMessageUnpinned) by ByUserID. A message's deletion drops its pin without this event:
// message.deleted says it.
type PinEvent struct {
	Type      string `json:"type" openapi:"enum=message.pinned|message.unpinned"`
	ChannelID int64  `json:"channelId,string"`
	ID        int64  `json:"id,string"`
	Seq       int64  `json:"seq"`
	ByUserID  int64  `json:"byUserId,string"`
	PinnedAt  *Time  `json:"pinnedAt,omitempty"`
}
