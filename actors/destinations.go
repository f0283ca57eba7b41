package actors

import "github.com/parley-chat/parley/persistence"

// Destination is one STOMP destination a session may use, for the reference docs (the
// OpenAPI document carries them as x-stomp and the web client's /docs page shows them).
type Destination struct {
	Path    string `json:"path"`
	Frame   string `json:"frame"` // SUBSCRIBE or SEND
	Body    string `json:"body,omitempty"`
	Summary string `json:"summary"`
}

// Destinations lists every destination the connection actor accepts; a test holds it to
// the SUBSCRIBE and SEND switches, so a new one cannot go undocumented.
func Destinations() []Destination {
	return []Destination{
		{Path: "/topic/channel.{channelId}", Frame: "SUBSCRIBE", Summary: "A channel's events (message, message.edited, message.deleted, reaction, read, typing, member.joined, member.left, channel.updated, message.pinned, message.unpinned) in seq order; header since-seq replays what was missed"},
		{Path: persistence.QueueMentions, Frame: "SUBSCRIBE", Summary: "Mentions of the caller, as they are committed"},
		{Path: persistence.QueueNotifications, Frame: "SUBSCRIBE", Summary: "The caller's live workspace: mention, channel.created, channel.added, channel.updated, workspace.invited, member.joined"},
		{Path: QueuePresence, Frame: "SUBSCRIBE", Summary: "{type:\"presence\", userId, status} for the users this session watches (/app/presence.watch)"},
		{Path: persistence.QueueEphemeral, Frame: "SUBSCRIBE", Summary: "{type:\"ephemeral\", id, channelId, parentId?, command, content}: slash command responses meant for the caller alone, on every session of the caller"},
		{Path: persistence.QueueErrors, Frame: "SUBSCRIBE", Summary: "A copy of every ERROR sent to this session"},
		{Path: QueueResend, Frame: "SUBSCRIBE", Summary: "Messages replayed by /app/message.resend"},
		{Path: DestMessageSend, Frame: "SEND", Body: "{channelId, content, parentId?, clientMsgId?}", Summary: "Post a message; with a receipt header the RECEIPT carries message-id and seq once it is committed. A content starting with a registered /command runs it instead (RECEIPT headers command, visibility; ERROR unknown_command or command_failed); //text posts /text"},
		{Path: DestMessageRead, Frame: "SEND", Body: "{channelId, seq}", Summary: "Raise the caller's read marker (never moves backwards)"},
		{Path: DestMessageResend, Frame: "SEND", Body: "{channelId, sinceSeq}", Summary: "Replay a channel's messages after sinceSeq to /user/queue/resend"},
		{Path: DestTyping, Frame: "SEND", Body: "{channelId}", Summary: "Tell the channel the caller is typing"},
		{Path: DestPresenceSet, Frame: "SEND", Body: "{status: \"away\"|\"online\"}", Summary: "Set the caller's presence on every session"},
		{Path: DestPresenceWatch, Frame: "SEND", Body: "{userIds}", Summary: "Replace the list of users (at most Config.MaxPresenceWatch) whose presence this session receives"},
	}
}
