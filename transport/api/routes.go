package api

import (
	"net/http"

	"github.com/parley-chat/parley/persistence"
)

// Route is one endpoint: the single table from which Register adds handlers to the mux
// and the OpenAPI document is built, so an undocumented route cannot exist.
type Route struct {
	Method  string
	Pattern string // http.ServeMux pattern path, e.g. /api/channels/{cid}
	Summary string
	Tag     string
	// Public routes need no bearer token.
	Public bool
	// External routes are served by the server wiring (health, metrics, WebSocket); they are
	// here to be documented, and Register skips them.
	External bool
	// Request is a zero value of the JSON body type (nil: no body); Response of the success
	// body (nil: none). Status is the success status.
	Request  any
	Response any
	Status   int
	Query    []Param
	// Errors lists the error statuses the route can answer besides 401/500.
	Errors []int

	handler handlerFunc
	limit   limitClass // its own rate limit; none: by method (limitFor)
	// Upload: the body is a file (multipart/form-data or raw), not JSON; Download: the
	// answer is a file's bytes or a redirect to them (files.go).
	Upload, Download bool
	// bodyLimit, when set, raises the body limit above Config.MaxBodyBytes (uploads).
	bodyLimit func() int64
}

// Param is a query parameter.
type Param struct {
	Name        string
	Type        string // "string", "integer" or "boolean"
	Description string
	Required    bool
	Enum        []string
}

// Routes returns every route of parley's HTTP surface (including the externally served ones)
// without handlers, for documentation and tests.
func Routes() []Route {
	var a API
	rs := a.routes()
	for i := range rs {
		rs[i].handler = nil
	}
	return rs
}

func (a *API) routes() []Route {
	const (
		ok, created, noContent = http.StatusOK, http.StatusCreated, http.StatusNoContent
	)
	var (
		page      = []Param{{Name: "limit", Type: "integer", Description: "page size, default 50, max 100"}, {Name: "after", Type: "string", Description: "the `next` cursor of the previous page"}}
		msgPage   = Page[persistence.Message]{}
		rd, wr    = []int{400, 403, 404}, []int{400, 403, 404, 409}
		channelRd = []int{400, 403, 404}
	)
	var rs []Route
	add := func(r Route) { rs = append(rs, r) }

	// Served by the server wiring, documented here.
	add(Route{Method: "GET", Pattern: "/healthz", Tag: "ops", Public: true, External: true, Status: ok,
		Summary: "Liveness: the process is up"})
	add(Route{Method: "GET", Pattern: "/readyz", Tag: "ops", Public: true, External: true, Status: ok, Errors: []int{503},
		Summary: "Readiness: 200 while the node can serve (status ready, or degraded naming Redis or Kafka down); 503 without PostgreSQL, while starting or draining; ?full=1 answers 503 when any dependency is down"})
	add(Route{Method: "GET", Pattern: "/metrics", Tag: "ops", Public: true, External: true, Status: ok,
		Summary: "Prometheus metrics (text exposition format); 404 here when --metrics-addr serves them on a listener of their own"})
	add(Route{Method: "GET", Pattern: "/ws", Tag: "realtime", Public: true, External: true, Status: http.StatusSwitchingProtocols,
		Summary: "STOMP 1.2 over WebSocket (subprotocols v12.stomp, v11.stomp, v10.stomp); token in CONNECT or ?access_token=",
		Query:   []Param{{Name: "access_token", Type: "string", Description: "bearer token for browsers"}}, Errors: []int{400, 403}})
	add(Route{Method: "GET", Pattern: "/openapi.json", Tag: "ops", Public: true, Status: ok,
		Summary: "This document", handler: a.openAPI})
	add(Route{Method: "GET", Pattern: "/docs", Tag: "ops", Public: true, External: true, Status: ok,
		Summary: "Human-readable API documentation (HTML, served by the web client package)"})

	add(Route{Method: "POST", Pattern: "/api/auth/dev/login", Tag: "auth", Public: true,
		Summary: "Get a token for any username (dev mode only; 404 otherwise)", Request: devLoginRequest{}, Response: devLoginResponse{},
		Status: ok, Errors: []int{400, 403, 404}, handler: a.devLogin, limit: limitDevLogin})
	add(Route{Method: "GET", Pattern: "/api/users/me", Tag: "users", Summary: "The caller (created on first use)",
		Response: meResponse{}, Status: ok, handler: a.me})
	add(Route{Method: "PUT", Pattern: "/api/users/me/dnd", Tag: "notifications", Summary: "Do-not-disturb until a time (RFC 3339, future, within 366 days), or off (null): suppresses notifications, never messages",
		Request: dndRequest{}, Response: dndResponse{}, Status: ok, Errors: []int{400}, handler: a.putDND})
	add(Route{Method: "PATCH", Pattern: "/api/users/me", Tag: "users",
		Summary: "Change the caller's profile: displayName (at most 80 characters), statusText (100), statusEmoji (one emoji or :shortcode:), timezone (an IANA name); \"\" clears a field; a bad field is 400 and changes nothing",
		Request: patchProfileRequest{}, Response: persistence.User{}, Status: ok, Errors: []int{400}, handler: a.patchMe})
	add(Route{Method: "POST", Pattern: "/api/users/me/tokens", Tag: "users",
		Summary: "Create a personal API token (name 1-64 characters; expiresIn in seconds, 60 to 366 days, default 90 days): the token (plt_…) is in this response only, only its hash is stored; it is accepted wherever a JWT is",
		Request: createTokenRequest{}, Response: createTokenResponse{}, Status: created, Errors: []int{400, 403}, handler: a.createToken})
	add(Route{Method: "GET", Pattern: "/api/users/me/tokens", Tag: "users", Summary: "The caller's API tokens, newest first, without their secrets (prefix: the first characters, for recognition)",
		Response: tokenList{}, Status: ok, handler: a.listTokens})
	add(Route{Method: "DELETE", Pattern: "/api/users/me/tokens/{id}", Tag: "users",
		Summary: "Revoke one of the caller's API tokens (another user's: 404): refused at once on REST, and its open STOMP sessions get ERROR token_revoked, on every node",
		Status:  noContent, Errors: []int{400, 404}, handler: a.revokeToken})
	add(Route{Method: "GET", Pattern: "/api/users/{uid}", Tag: "users", Summary: "A user who shares a workspace with the caller (else 404); e-mail only for the caller",
		Response: persistence.User{}, Status: ok, Errors: []int{400, 404}, handler: a.getUser})

	add(Route{Method: "POST", Pattern: "/api/workspaces", Tag: "workspaces", Summary: "Create a workspace (caller becomes owner; a public general channel is created)",
		Request: createWorkspaceRequest{}, Response: persistence.Workspace{}, Status: created, Errors: []int{400, 403}, handler: a.createWorkspace})
	add(Route{Method: "GET", Pattern: "/api/workspaces", Tag: "workspaces", Summary: "The caller's workspaces",
		Query: page, Response: Page[persistence.Workspace]{}, Status: ok, Errors: []int{400}, handler: a.listWorkspaces})
	add(Route{Method: "GET", Pattern: "/api/workspaces/{wid}", Tag: "workspaces", Summary: "A workspace",
		Response: persistence.Workspace{}, Status: ok, Errors: rd, handler: a.getWorkspace})
	add(Route{Method: "GET", Pattern: "/api/workspaces/{wid}/members", Tag: "members", Summary: "Members of a workspace, with profile and presence",
		Query: page, Response: Page[persistence.Member]{}, Status: ok, Errors: rd, handler: a.listMembers})
	add(Route{Method: "GET", Pattern: "/api/workspaces/{wid}/presence", Tag: "members",
		Summary:  "Presence of workspace members, {userId: \"online\"|\"away\"|\"offline\"}; ids of non-members are left out; 503 without presence",
		Query:    []Param{{Name: "userIds", Type: "string", Required: true, Description: "comma-separated user ids, at most 500"}},
		Response: map[string]string{}, Status: ok, Errors: []int{400, 404, 503}, handler: a.presence})
	add(Route{Method: "PATCH", Pattern: "/api/workspaces/{wid}/members/{uid}", Tag: "members",
		Summary: "Change a member's role (owner, admin); role \"owner\" transfers ownership (owner only)",
		Request: patchMemberRequest{}, Response: persistence.Member{}, Status: ok, Errors: rd, handler: a.patchMember})
	add(Route{Method: "DELETE", Pattern: "/api/workspaces/{wid}/members/{uid}", Tag: "members",
		Summary: "Remove a member (owner, admin) or leave (yourself; not the owner)", Status: noContent, Errors: wr, handler: a.deleteMember})
	add(Route{Method: "POST", Pattern: "/api/workspaces/{wid}/invitations", Tag: "invitations", Summary: "Invite by e-mail or username (owner, admin); 7-day token",
		Request: createInvitationRequest{}, Response: persistence.Invitation{}, Status: created, Errors: wr, handler: a.createInvitation})
	add(Route{Method: "GET", Pattern: "/api/workspaces/{wid}/invitations", Tag: "invitations", Summary: "Pending invitations (owner, admin)",
		Query: page, Response: Page[persistence.Invitation]{}, Status: ok, Errors: rd, handler: a.listInvitations})
	add(Route{Method: "POST", Pattern: "/api/invitations/accept", Tag: "invitations", Summary: "Accept an invitation addressed to the caller (expired or used: 410)",
		Request: acceptInvitationRequest{}, Response: persistence.Workspace{}, Status: ok, Errors: []int{400, 403, 404, 410}, handler: a.acceptInvitation})

	add(Route{Method: "POST", Pattern: "/api/workspaces/{wid}/channels", Tag: "channels", Summary: "Create a channel (owner, admin, member)",
		Request: createChannelRequest{}, Response: persistence.ChannelView{}, Status: created, Errors: wr, handler: a.createChannel})
	add(Route{Method: "POST", Pattern: "/api/workspaces/{wid}/dms", Tag: "channels",
		Summary: "Open a direct message (type dm) with 1-7 other workspace members: 201 new, 200 the existing one for exactly that set of people; its members are fixed",
		Request: openDMRequest{}, Response: persistence.ChannelView{}, Status: created, Errors: []int{400, 404}, handler: a.openDM})
	add(Route{Method: "GET", Pattern: "/api/workspaces/{wid}/channels", Tag: "channels", Summary: "Channels the caller can see with unread and mention counts: named ones by name, then the caller's direct messages (with members) by id",
		Query: page, Response: Page[persistence.ChannelView]{}, Status: ok, Errors: rd, handler: a.listChannels})
	add(Route{Method: "GET", Pattern: "/api/channels/{cid}", Tag: "channels", Summary: "A channel",
		Response: persistence.ChannelView{}, Status: ok, Errors: rd, handler: a.getChannel})
	add(Route{Method: "PATCH", Pattern: "/api/channels/{cid}", Tag: "channels", Summary: "Rename, set topic, archive or unarchive (creator, admin, owner); a direct message: topic only, by its members",
		Request: patchChannelRequest{}, Response: persistence.ChannelView{}, Status: ok, Errors: wr, handler: a.patchChannel})
	add(Route{Method: "GET", Pattern: "/api/channels/{cid}/members", Tag: "channels", Summary: "Members of a channel, with profile and presence",
		Query: page, Response: Page[persistence.Member]{}, Status: ok, Errors: channelRd, handler: a.listChannelMembers})
	add(Route{Method: "POST", Pattern: "/api/channels/{cid}/members", Tag: "channels", Summary: "Join (own userId, public channels) or add a workspace member; 201 added, 204 already a member; 403 in a direct message",
		Request: addChannelMemberRequest{}, Status: created, Errors: wr, handler: a.addChannelMember})
	add(Route{Method: "DELETE", Pattern: "/api/channels/{cid}/members/{uid}", Tag: "channels", Summary: "Leave (yourself) or remove a member (creator, admin, owner); 403 in a direct message",
		Status: noContent, Errors: wr, handler: a.removeChannelMember})

	add(Route{Method: "GET", Pattern: "/api/channels/{cid}/prefs", Tag: "notifications", Summary: "The caller's notification preferences for a channel (default notify mentions, not muted, not hidden)",
		Response: persistence.ChannelPrefs{}, Status: ok, Errors: rd, handler: a.getPrefs})
	add(Route{Method: "PUT", Pattern: "/api/channels/{cid}/prefs", Tag: "notifications", Summary: "Change the caller's notification preferences for a channel (absent fields keep their value)",
		Request: putPrefsRequest{}, Response: persistence.ChannelPrefs{}, Status: ok, Errors: rd, handler: a.putPrefs})

	add(Route{Method: "POST", Pattern: "/api/channels/{cid}/messages", Tag: "messages", Summary: "Post a message or reply; 200 with the original for a clientMsgId retry. A content starting with a registered /command runs it instead: 200 {command, visibility, content, message?} (ADR 0038); unknown /name 400 unknown_command, a failed receiver 502 command_failed; //text posts /text",
		Request: postMessageRequest{}, Response: persistence.Message{}, Status: created, Errors: []int{400, 403, 404, 409, 413, 502}, handler: a.postMessage, limit: limitMessages})
	add(Route{Method: "GET", Pattern: "/api/channels/{cid}/messages", Tag: "messages", Summary: "History: newest first below before_seq, or ascending above after_seq; next is the seq to pass back",
		Query: []Param{{Name: "before_seq", Type: "integer"}, {Name: "after_seq", Type: "integer"}, {Name: "limit", Type: "integer", Description: "default 50, max 100"},
			{Name: "around_seq", Type: "integer", Description: "alone: the page centred on this seq, ascending (next is null)"}},
		Response: msgPage, Status: ok, Errors: channelRd, handler: a.listMessages})
	add(Route{Method: "GET", Pattern: "/api/messages/{mid}", Tag: "messages", Summary: "A message",
		Response: persistence.Message{}, Status: ok, Errors: rd, handler: a.getMessage})
	add(Route{Method: "PATCH", Pattern: "/api/messages/{mid}", Tag: "messages", Summary: "Edit a message (its author)",
		Request: patchMessageRequest{}, Response: persistence.Message{}, Status: ok, Errors: []int{400, 403, 404, 409, 410}, handler: a.patchMessage})
	add(Route{Method: "DELETE", Pattern: "/api/messages/{mid}", Tag: "messages", Summary: "Delete a message, leaving a tombstone (author, admin, owner)",
		Status: noContent, Errors: wr, handler: a.deleteMessage})
	add(Route{Method: "GET", Pattern: "/api/messages/{mid}/replies", Tag: "threads", Summary: "Replies of a thread root: ascending above after_seq, or newest first below before_seq; next is the seq to pass back",
		Query:    []Param{{Name: "after_seq", Type: "integer"}, {Name: "before_seq", Type: "integer"}, {Name: "limit", Type: "integer", Description: "default 50, max 100"}},
		Response: msgPage, Status: ok, Errors: rd, handler: a.listReplies})
	add(Route{Method: "GET", Pattern: "/api/channels/{cid}/threads", Tag: "threads", Summary: "Threads of a channel, most recent reply first (at most 2 SQL queries)",
		Query: page, Response: Page[persistence.Thread]{}, Status: ok, Errors: channelRd, handler: a.listThreads})
	add(Route{Method: "PUT", Pattern: "/api/messages/{mid}/reactions/{emoji}", Tag: "reactions", Summary: "Add the caller's reaction (idempotent)",
		Response: persistence.Reaction{}, Status: ok, Errors: []int{400, 403, 404, 409, 410}, handler: a.putReaction, limit: limitReactions})
	add(Route{Method: "DELETE", Pattern: "/api/messages/{mid}/reactions/{emoji}", Tag: "reactions", Summary: "Remove the caller's reaction (idempotent)",
		Response: persistence.Reaction{}, Status: ok, Errors: []int{400, 403, 404, 409, 410}, handler: a.deleteReaction, limit: limitReactions})

	add(Route{Method: "PUT", Pattern: "/api/channels/{cid}/read", Tag: "reads", Summary: "Raise the caller's read marker (never moves backwards; clamped to the last seq)",
		Request: markReadRequest{}, Response: readMarker{}, Status: ok, Errors: channelRd, handler: a.markRead})
	add(Route{Method: "GET", Pattern: "/api/channels/{cid}/read-receipts", Tag: "reads", Summary: "Read markers of the channel's members, {userId: seq} (members only)",
		Response: map[string]int64{}, Status: ok, Errors: channelRd, handler: a.readReceipts})
	add(Route{Method: "GET", Pattern: "/api/unreads", Tag: "reads", Summary: "Unread messages by others in the caller's channels",
		Query:    []Param{{Name: "sort", Type: "string", Enum: []string{"newest", "oldest", "channel"}}, {Name: "limit", Type: "integer", Description: "default 50, max 200"}, {Name: "after", Type: "string", Description: "the `next` cursor of the previous page"}},
		Response: UnreadsPage{}, Status: ok, Errors: []int{400}, handler: a.listUnreads})
	add(Route{Method: "GET", Pattern: "/api/mentions", Tag: "mentions", Summary: "The caller's mentions, newest first",
		Query: append([]Param{{Name: "unread", Type: "boolean"}}, page...), Response: Page[persistence.MentionItem]{}, Status: ok, Errors: []int{400}, handler: a.listMentions})
	add(Route{Method: "PUT", Pattern: "/api/mentions/{id}/read", Tag: "mentions", Summary: "Mark one of the caller's mentions read",
		Status: noContent, Errors: []int{400, 404}, handler: a.markMentionRead})
	// Threads you follow (ADR 0040).
	add(Route{Method: "PUT", Pattern: "/api/messages/{mid}/follow", Tag: "threads", Summary: "Follow the thread of a root message (idempotent); a reply is 400",
		Response: followResponse{}, Status: ok, Errors: rd, handler: a.putFollow})
	add(Route{Method: "DELETE", Pattern: "/api/messages/{mid}/follow", Tag: "threads", Summary: "Unfollow a thread (idempotent); being mentioned again does not follow it again, replying does",
		Response: followResponse{}, Status: ok, Errors: rd, handler: a.deleteFollow})
	add(Route{Method: "GET", Pattern: "/api/threads", Tag: "threads", Summary: "Threads the caller follows with at least one reply, across their workspaces, in channels they can read now, most recent reply first; unreadReplies are the live replies by others above the caller's thread marker",
		Query: []Param{{Name: "unread", Type: "boolean", Description: "only threads with unread replies"}, {Name: "limit", Type: "integer", Description: "default 50, max 100"},
			{Name: "cursor", Type: "string", Description: "the `next` of the previous page"}},
		Response: Page[persistence.FollowedThread]{}, Status: ok, Errors: []int{400}, handler: a.listFollowed})
	add(Route{Method: "PUT", Pattern: "/api/messages/{mid}/thread-read", Tag: "threads", Summary: "Raise the caller's read marker in a thread to the highest reply seq read (never moves backwards; clamped to the channel's last seq; the same pipeline as channel markers)",
		Request: markReadRequest{}, Response: threadReadResponse{}, Status: ok, Errors: rd, handler: a.markThreadRead})
	add(Route{Method: "GET", Pattern: "/api/workspaces/{wid}/search", Tag: "search", Summary: "Search the messages the caller can read (channels and DMs) by words, \"phrases\", -exclusions and filters; each hit with its channel and an HTML-escaped snippet with <mark> around matches (ADR 0039)",
		Query: []Param{{Name: "q", Type: "string", Required: true, Description: "at most 200 characters: words, \"phrases\", -word, from:@user, in:#channel, in:@user, before:/after:/on:YYYY-MM-DD, has:file, has:link, is:thread; an unknown or malformed filter is 400 naming it"},
			{Name: "sort", Type: "string", Enum: []string{"relevance", "newest"}}, {Name: "limit", Type: "integer", Description: "page size, default 50, max 100"},
			{Name: "cursor", Type: "string", Description: "the `next` cursor of the previous page (also accepted as `after`)"}, {Name: "after", Type: "string", Description: "same as cursor"}},
		Response: Page[persistence.SearchHit]{}, Status: ok, Errors: rd, handler: a.search, limit: limitSearch})

	// Bot accounts and incoming webhooks (ADR 0036).
	add(Route{Method: "POST", Pattern: "/api/workspaces/{wid}/bots", Tag: "integrations",
		Summary: "Create a bot account (owner, admin): a workspace member with isBot, and its first API token (plt_…, shown once; expiresIn in seconds, default 90 days); username 1-64 characters of a-z, 0-9, '_', '.', '-' (taken: 409)",
		Request: createBotRequest{}, Response: createBotResponse{}, Status: created, Errors: wr, handler: a.createBot})
	add(Route{Method: "GET", Pattern: "/api/workspaces/{wid}/bots", Tag: "integrations", Summary: "The workspace's bot accounts (members)",
		Response: botList{}, Status: ok, Errors: rd, handler: a.listBots})
	add(Route{Method: "DELETE", Pattern: "/api/bots/{uid}", Tag: "integrations",
		Summary: "Deactivate a bot (owner, admin of its workspace): every token revoked at once (open sessions get ERROR token_revoked), no new ones; its messages and memberships stay",
		Status:  noContent, Errors: rd, handler: a.deactivateBot})
	add(Route{Method: "POST", Pattern: "/api/bots/{uid}/tokens", Tag: "integrations",
		Summary: "Mint an API token for a bot (owner, admin of its workspace), as POST /api/users/me/tokens; a deactivated bot: 409",
		Request: createTokenRequest{}, Response: createTokenResponse{}, Status: created, Errors: wr, handler: a.createBotToken})
	add(Route{Method: "GET", Pattern: "/api/bots/{uid}/tokens", Tag: "integrations", Summary: "A bot's API tokens without their secrets (owner, admin of its workspace)",
		Response: tokenList{}, Status: ok, Errors: rd, handler: a.listBotTokens})
	add(Route{Method: "DELETE", Pattern: "/api/bots/{uid}/tokens/{id}", Tag: "integrations", Summary: "Revoke one of a bot's API tokens (owner, admin of its workspace)",
		Status: noContent, Errors: rd, handler: a.revokeBotToken})
	add(Route{Method: "POST", Pattern: "/api/channels/{cid}/webhooks/incoming", Tag: "integrations",
		Summary: "Create an incoming webhook (a non-guest channel member who may post; not in a direct message): url /hooks/{id}/{secret} is in this response only (only the secret's SHA-256 is stored); the hook posts as a bot user of its own, added to the channel",
		Request: createIncomingWebhookRequest{}, Response: createIncomingWebhookResponse{}, Status: created, Errors: wr, handler: a.createIncomingWebhook})
	add(Route{Method: "GET", Pattern: "/api/channels/{cid}/webhooks/incoming", Tag: "integrations", Summary: "The channel's incoming webhooks, newest first, without their URLs (non-guest members; the channel's managers)",
		Response: incomingWebhookList{}, Status: ok, Errors: rd, handler: a.listIncomingWebhooks})
	add(Route{Method: "DELETE", Pattern: "/api/webhooks/incoming/{id}", Tag: "integrations",
		Summary: "Revoke an incoming webhook (its creator; the channel's creator, admins, owner): its URL answers 404 from the next request on, on every node",
		Status:  noContent, Errors: rd, handler: a.revokeIncomingWebhook})
	add(Route{Method: "POST", Pattern: "/hooks/{id}/{secret}", Tag: "integrations", Public: true,
		Summary: "Post to an incoming webhook's channel as its bot, without an Authorization header (the URL is the credential): {content} or Slack's {text}, optional clientMsgId (a retry answers the same message); other fields ignored. Unknown or revoked: 404; archived channel: 409; over the hook's rate: 429 with Retry-After",
		Request: incomingHookRequest{}, Response: persistence.Message{}, Status: ok, Errors: []int{400, 403, 404, 409, 413}, handler: a.postIncomingHook})
	// Slash commands (ADR 0038).
	add(Route{Method: "POST", Pattern: "/api/workspaces/{wid}/commands", Tag: "integrations",
		Summary: "Register a slash command (owner, admin): command \"/name\" (1-32 of a-z 0-9 _ -, unique in the workspace: 409), url (http(s); private addresses refused unless the operator allows them); the secret that signs its calls is in this response only. A message starting with /name then runs it instead of being posted",
		Request: createCommandRequest{}, Response: createCommandResponse{}, Status: created, Errors: wr, handler: a.createCommand})
	add(Route{Method: "GET", Pattern: "/api/workspaces/{wid}/commands", Tag: "integrations", Summary: "A workspace's slash commands, by name, without secrets (owner, admin)",
		Response: commandList{}, Status: ok, Errors: rd, handler: a.listCommands})
	add(Route{Method: "DELETE", Pattern: "/api/workspaces/{wid}/commands/{id}", Tag: "integrations", Summary: "Delete a slash command (owner, admin); its response URLs stop working",
		Status: noContent, Errors: rd, handler: a.deleteCommand})
	add(Route{Method: "POST", Pattern: "/hooks/commands/{token}", Tag: "integrations", Public: true,
		Summary: "A command's receiver answers later (no Authorization: the response URL is the credential; 30 minutes, 5 uses): {content, visibility:\"ephemeral\"|\"channel\"} as to the call; unknown 404, expired or used up 410",
		Request: commandResponseRequest{}, Response: persistence.CommandOutcome{}, Status: ok, Errors: []int{400, 404, 409, 410}, handler: a.commandResponse})
	// Pins, edit history, who reacted (ADR 0042).
	add(Route{Method: "PUT", Pattern: "/api/messages/{mid}/pin", Tag: "pins", Summary: "Pin a message (whoever may post in its channel; idempotent: a pinned message answers its pin and announces nothing); message.pinned on the channel; at most 100 pins per channel (409)",
		Response: persistence.Pin{}, Status: ok, Errors: []int{400, 403, 404, 409, 410}, handler: a.putPin})
	add(Route{Method: "DELETE", Pattern: "/api/messages/{mid}/pin", Tag: "pins", Summary: "Unpin a message (whoever may post in its channel; idempotent); message.unpinned on the channel",
		Status: noContent, Errors: []int{400, 403, 404, 409}, handler: a.deletePin})
	add(Route{Method: "GET", Pattern: "/api/channels/{cid}/pins", Tag: "pins", Summary: "A channel's pinned messages, the latest pinned first (at most 100, one page: next is null)",
		Response: Page[persistence.PinnedMessage]{}, Status: ok, Errors: channelRd, handler: a.listPins})
	add(Route{Method: "GET", Pattern: "/api/messages/{mid}/history", Tag: "messages", Summary: "Earlier versions of an edited message, newest first, each with when it was written (at most 20 kept); 404 to whoever cannot read it",
		Response: []persistence.MessageVersion{}, Status: ok, Errors: []int{400, 404}, handler: a.messageHistory})
	add(Route{Method: "GET", Pattern: "/api/messages/{mid}/reactions", Tag: "reactions", Summary: "A message's reactions with who reacted: userIds, the first 50 per emoji in the order they reacted; 404 to whoever cannot read it",
		Response: []persistence.ReactionUsers{}, Status: ok, Errors: []int{400, 404}, handler: a.messageReactions})
	// Files (ADR 0041).
	add(Route{Method: "POST", Pattern: "/api/workspaces/{wid}/files", Tag: "files",
		Summary: "Upload a file (workspace members): multipart/form-data with a field named file, or a raw body named by ?name=; at most the size limit (default 25 MiB, 413 above); the type is sniffed from the bytes; images get a thumbnail; an upload no message or avatar uses is deleted after 24 h",
		Query:   []Param{{Name: "name", Type: "string", Description: "the file name (raw bodies; overrides a multipart file name)"}},
		Upload:  true, Response: persistence.File{}, Status: created, Errors: []int{400, 404, 413}, handler: a.uploadFile, bodyLimit: a.uploadBodyLimit})
	add(Route{Method: "GET", Pattern: "/api/files/{id}", Tag: "files", Summary: "A file's description: to its uploader, to anyone who can read a channel where a message carries it, and (avatars) to anyone sharing a workspace with its user; anyone else 404",
		Response: persistence.File{}, Status: ok, Errors: rd, handler: a.getFile})
	add(Route{Method: "GET", Pattern: "/api/files/{id}/content", Tag: "files", Summary: "A file's bytes (same access as the file): served with its sniffed type, nosniff, a sandboxing CSP and Content-Disposition attachment unless a raster image; with an S3 store a 302 to a presigned URL valid at most 5 minutes",
		Download: true, Status: ok, Errors: rd, handler: a.getFileContent})
	add(Route{Method: "GET", Pattern: "/api/files/{id}/thumbnail", Tag: "files", Summary: "An image's thumbnail (PNG or JPEG, at most 320 px a side), as the content route; 404 when the file has none",
		Download: true, Status: ok, Errors: rd, handler: a.getFileThumbnail})
	// Outgoing webhooks (ADR 0037).
	add(Route{Method: "POST", Pattern: "/api/channels/{cid}/webhooks/outgoing", Tag: "integrations",
		Summary: "Subscribe a URL to the channel's messages (a non-guest member who may post; not in a direct message): each message (with triggerWords, only those starting with one of them) is POSTed as {type, channelId, message}, signed with the secret shown here once; a URL to a loopback, link-local or private address is 400 unless the operator allows it",
		Request: createOutgoingRequest{}, Response: createOutgoingResponse{}, Status: created, Errors: []int{400, 403, 404, 409}, handler: a.createOutgoingWebhook})
	add(Route{Method: "GET", Pattern: "/api/channels/{cid}/webhooks/outgoing", Tag: "integrations", Summary: "The channel's outgoing webhooks, without their secrets",
		Response: outgoingList{}, Status: ok, Errors: []int{400, 403, 404}, handler: a.listOutgoingWebhooks})
	add(Route{Method: "DELETE", Pattern: "/api/channels/{cid}/webhooks/outgoing/{id}", Tag: "integrations", Summary: "Revoke an outgoing webhook (its creator; the channel's creator, admins, owner): queued deliveries are dropped",
		Status: noContent, Errors: []int{400, 403, 404}, handler: a.revokeOutgoingWebhook})
	add(Route{Method: "GET", Pattern: "/api/webhooks/{id}/deliveries", Tag: "integrations", Summary: "An outgoing webhook's recent deliveries, newest first (the last 100 are kept): status pending, delivered or failed, attempts, last error, latency from the message's creation",
		Query: []Param{{Name: "limit", Type: "integer", Description: "default 50, max 100"}}, Response: deliveryList{}, Status: ok, Errors: []int{400, 404}, handler: a.listOutgoingDeliveries})
	return rs
}
