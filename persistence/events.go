package persistence

// Real-time event payloads (SPEC "Real time"): the JSON bodies of MESSAGE frames on
// /topic/channel.{cid} and on a user's queues. REST handlers produce them through
// api.Events and the channel actor produces MessageEvent itself; both sides marshal these
// same structs so a client sees one shape whichever path made the event.

// Event types, the "type" field of every event.
const (
	EventMessage        = "message"
	EventMessageEdited  = "message.edited"
	EventMessageDeleted = "message.deleted"
	EventReaction       = "reaction"
	EventRead           = "read"
	EventTyping         = "typing"
	EventMemberJoined   = "member.joined"
	EventMemberLeft     = "member.left"
	EventChannelUpdated = "channel.updated"
	EventMention        = "mention"
	// Only on QueueNotifications (ADR 0034).
	EventChannelCreated   = "channel.created"
	EventChannelAdded     = "channel.added"
	EventWorkspaceInvited = "workspace.invited"
)

// User destinations of UserEvent.
const (
	QueueMentions = "/user/queue/mentions"
	QueueErrors   = "/user/queue/errors"
	// QueueNotifications carries the events of a live workspace (SPEC "Notifications"):
	// mention (when it notifies), channel.created, channel.added, channel.updated,
	// workspace.invited, member.joined, thread.updated (ADR 0040). See docs/PROTOCOL.md.
	QueueNotifications = "/user/queue/notifications"
)

// MessageEvent is a new message (root or reply) in its channel.
type MessageEvent struct {
	Type    string  `json:"type"` // EventMessage
	Message Message `json:"message"`
}

// NewMessageEvent wraps m.
func NewMessageEvent(m Message) MessageEvent { return MessageEvent{Type: EventMessage, Message: m} }

// MessageEditedEvent: message ID (at Seq) now reads Content.
type MessageEditedEvent struct {
	Type      string `json:"type"` // EventMessageEdited
	ChannelID int64  `json:"channelId,string"`
	ID        int64  `json:"id,string"`
	Seq       int64  `json:"seq"`
	ParentID  *int64 `json:"parentId,string,omitempty"`
	Content   string `json:"content"`
	EditedAt  Time   `json:"editedAt"`
}

// MessageDeletedEvent: message ID (at Seq) is now a tombstone.
type MessageDeletedEvent struct {
	Type      string `json:"type"` // EventMessageDeleted
	ChannelID int64  `json:"channelId,string"`
	ID        int64  `json:"id,string"`
	Seq       int64  `json:"seq"`
	ParentID  *int64 `json:"parentId,string,omitempty"`
	DeletedBy int64  `json:"deletedBy,string"`
}

// ReactionEvent: UserID added (Added) or removed Emoji on message ID; Count is the emoji's
// tally after the change.
type ReactionEvent struct {
	Type      string `json:"type"` // EventReaction
	ChannelID int64  `json:"channelId,string"`
	ID        int64  `json:"id,string"`
	Seq       int64  `json:"seq"`
	Emoji     string `json:"emoji"`
	UserID    int64  `json:"userId,string"`
	Added     bool   `json:"added"`
	Count     int    `json:"count"`
}

// ReadEvent: UserID has read ChannelID up to Seq.
type ReadEvent struct {
	Type      string `json:"type"` // EventRead
	ChannelID int64  `json:"channelId,string"`
	UserID    int64  `json:"userId,string"`
	Seq       int64  `json:"seq"`
}

// TypingEvent: UserID is typing in ChannelID (never persisted).
type TypingEvent struct {
	Type      string `json:"type"` // EventTyping
	ChannelID int64  `json:"channelId,string"`
	UserID    int64  `json:"userId,string"`
}

// MemberEvent: UserID joined (EventMemberJoined) or left (EventMemberLeft) ChannelID;
// ByUserID is who did it (the same user for a self-join or leave).
type MemberEvent struct {
	Type      string `json:"type"`
	ChannelID int64  `json:"channelId,string"`
	UserID    int64  `json:"userId,string"`
	ByUserID  int64  `json:"byUserId,string"`
}

// ChannelUpdatedEvent: the channel's name, topic or archived flag changed.
type ChannelUpdatedEvent struct {
	Type    string  `json:"type"` // EventChannelUpdated
	Channel Channel `json:"channel"`
}

// MentionEvent goes to the mentioned user's QueueMentions.
type MentionEvent struct {
	Type    string  `json:"type"` // EventMention
	Mention Mention `json:"mention"`
	Message Message `json:"message"`
}

// MentionNotification goes to the mentioned user's QueueNotifications when the mention
// notifies (Mention.Notify: the channel is not muted, its notify level is not "none", the
// user is not in do-not-disturb). Via says what made it: "user", "channel" or "here".
type MentionNotification struct {
	Type    string  `json:"type"` // EventMention
	Via     string  `json:"via" openapi:"enum=user|channel|here"`
	Mention Mention `json:"mention"`
	Message Message `json:"message"`
}

// NewMentionNotification is the notification of mn in m.
func NewMentionNotification(mn Mention, m Message) MentionNotification {
	return MentionNotification{Type: EventMention, Via: mn.Via, Mention: mn, Message: m}
}

// ChannelNotification is channel.created (a public channel the user can see was created),
// channel.added (the user was added to the channel) or channel.updated, on the user's
// QueueNotifications. ByUserID is who did it.
type ChannelNotification struct {
	Type     string  `json:"type"`
	Channel  Channel `json:"channel"`
	ByUserID int64   `json:"byUserId,string"`
}

// WorkspaceMemberJoined is member.joined on QueueNotifications: UserID joined WorkspaceID
// (accepted an invitation) with Role.
type WorkspaceMemberJoined struct {
	Type        string `json:"type"` // EventMemberJoined
	WorkspaceID int64  `json:"workspaceId,string"`
	UserID      int64  `json:"userId,string"`
	Username    string `json:"username"`
	Role        Role   `json:"role"`
}

// WorkspaceInvited is workspace.invited on the invitee's QueueNotifications: the
// invitation (with its token, which only the invitee can use) and the workspace's name.
type WorkspaceInvited struct {
	Type          string     `json:"type"` // EventWorkspaceInvited
	Invitation    Invitation `json:"invitation"`
	WorkspaceName string     `json:"workspaceName"`
}
