// Package api is parley's REST API (SPEC "REST API"): handlers over persistence.Store,
// bearer-token auth, problem+json errors with stable codes, cursor pagination and the
// OpenAPI document of every route. Real-time delivery plugs in through Poster and Events.
//
// Decisions where SPEC.md is silent:
//   - Permissions: see persistence/policy.go. Owners and admins see (and may rename or
//     archive) private channels they are not in, but read them only as members. Guests see
//     only their channels. Ownership moves by PATCH …/members/{uid} {"role":"owner"}.
//   - Invitations are addressed: a username invitation is accepted only by that username,
//     an e-mail one only by a user whose token carries that e-mail (else 403). Accepting
//     puts non-guests in the general channel. An expired invitation no longer blocks a new one.
//   - A clientMsgId retry answers 200 with the original message (201 when new).
//   - Deleting a tombstone again is 204; editing or reacting to one is 410. A deletion drops
//     the message's reactions and mentions; replies stay. Mentions are parsed when a message
//     is posted, not when it is edited.
//   - POST /api/channels/{cid}/members answers 201 when added, 204 when already a member.
//   - Cursors: every list returns next, passed back as `after` (a seq for message lists,
//     passed back as before_seq / after_seq). Thread lists order by latest reply.
//   - Joining a channel does not mark its history read: unreadCount counts from seq 0
//     until the member reads or posts.
//   - Direct messages (ADR 0032): the caller may list themselves in userIds; the list
//     shows named channels by name, then the caller's DMs by id (cursor "dm:<id>"); a DM
//     has name "" and its members; any member may set its topic. mentionCount counts
//     only for members, like unreadCount, above the same (possibly cached) marker.
//   - Profiles: "" clears a field; a display name the user set outlives the token's name
//     claim; another user's e-mail is never shown.
//   - Notifications (ADR 0034): @channel/@all/@here mention the channel's members (not
//     every workspace member who could read a public channel), skipping those who muted it
//     or set notify "none"; do-not-disturb keeps the mention and drops its notification.
//     PUT …/prefs changes only the fields it names. Live-workspace events go to at most
//     Config.NotifyFanout users each.
package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/parley-chat/parley/cluster"
	"github.com/parley-chat/parley/errcode"
	"github.com/parley-chat/parley/files"
	"github.com/parley-chat/parley/integrations"
	"github.com/parley-chat/parley/persistence"
	"github.com/parley-chat/parley/transport/auth"
	"github.com/parley-chat/parley/transport/clientip"
)

// Poster appends a message for a user who may post in the channel (the handler has
// checked): the channel actor in production, StorePoster without real time. It returns
// once the message is committed; a per-message rejection (ErrBadParent, validation) is
// returned as the error and writes nothing. With a context already done it posts nothing;
// when ctx ends while it waits, the message may still commit, and a retry with the same
// ClientMsgID returns it. Delivering the message (and its mentions) to subscribers is the
// Poster's job, not the handler's. internal/contract's RunPoster is this contract.
type Poster interface {
	Post(ctx context.Context, userID, channelID int64, m persistence.NewMessage) (persistence.AppendResult, error)
}

// Events receives what happened, after it is committed, for real-time delivery:
// ChannelEvent to /topic/channel.{channelID}, UserEvent to one user's queue (dest, e.g.
// persistence.QueueMentions). Fire and forget: implementations must not block.
type Events interface {
	ChannelEvent(channelID int64, ev any)
	UserEvent(userID int64, dest string, ev any)
	// UsersEvent is UserEvent for each of userIDs, posted to the other nodes once.
	UsersEvent(userIDs []int64, dest string, ev any)
	// AccessChanged says that userID may have lost access to channelID (0: to every
	// channel), after the change is committed: live subscriptions are checked again.
	AccessChanged(userID, channelID int64)
	// TokenRevoked says that userID's API token tokenID is revoked, after the change is
	// committed: the sessions it authenticated end, on every node (ADR 0035).
	TokenRevoked(userID, tokenID int64)
}

// ReadMarkers stores read markers; a marker never moves backwards. The default writes
// PostgreSQL directly; the Redis/Kafka pipeline replaces it. internal/contract's
// RunReadMarkers is the contract both pass.
type ReadMarkers interface {
	// MarkRead raises userID's marker in channelID to seq (already clamped to the channel's
	// last seq) and returns the marker after the call.
	MarkRead(ctx context.Context, userID, channelID, seq int64) (int64, error)
	// MarkThreadRead is MarkRead for userID's marker in the thread of rootID in channelID
	// (ADR 0040): the same pipeline and guarantees.
	MarkThreadRead(ctx context.Context, userID, channelID, rootID, seq int64) (int64, error)
}

// Config configures the API.
type Config struct {
	// DevMode enables POST /api/auth/dev/login (tokens for any username). Never in production.
	DevMode bool
	// MaxBodyBytes bounds a request body. Default 1 MiB.
	MaxBodyBytes int64
	// UserCacheSize is how many subject → user entries the auth middleware keeps, so that a
	// request is not an upsert. Default 10,000 entries.
	UserCacheSize int
	// DevTokenTTL is the lifetime of dev-login tokens. Default: the verifier's (24h).
	DevTokenTTL time.Duration
	// InvitationTTL is how long an invitation can be accepted. Default 7 days.
	InvitationTTL time.Duration
	// Limits are the rate limits per user and per client address (limits.go).
	Limits Limits
	// NotifyFanout is the most users one live-workspace notification (channel.created,
	// channel.updated, member.joined) is posted to: one bus post each (ADR 0034). Keep it
	// well under the bus's post queue. Default 5,000 users.
	NotifyFanout int
}

func (c Config) withDefaults() Config {
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = 1 << 20
	}
	if c.UserCacheSize == 0 {
		c.UserCacheSize = 10_000
	}
	if c.InvitationTTL == 0 {
		c.InvitationTTL = 7 * 24 * time.Hour
	}
	if c.NotifyFanout == 0 {
		c.NotifyFanout = DefaultNotifyFanout
	}
	c.Limits = c.Limits.withDefaults()
	return c
}

func (c Config) validate() error {
	var errs []error
	if c.MaxBodyBytes < 1024 {
		errs = append(errs, fmt.Errorf("MaxBodyBytes %d is below 1 KiB", c.MaxBodyBytes))
	}
	if c.UserCacheSize < 1 {
		errs = append(errs, fmt.Errorf("UserCacheSize %d must be positive", c.UserCacheSize))
	}
	if c.DevTokenTTL < 0 {
		errs = append(errs, fmt.Errorf("DevTokenTTL %v is negative", c.DevTokenTTL))
	}
	if c.NotifyFanout < 0 {
		errs = append(errs, fmt.Errorf("NotifyFanout %d is negative", c.NotifyFanout))
	}
	if c.InvitationTTL < 0 {
		errs = append(errs, fmt.Errorf("InvitationTTL %v is negative", c.InvitationTTL))
	}
	return errors.Join(errs...)
}

// DefaultNotifyFanout is Config.NotifyFanout's default.
const DefaultNotifyFanout = 5000

// Deps are the API's collaborators. Store, Verifier and IDs are required; the others
// default to: Logger discards, Registerer none, Poster = StorePoster, Events = NopEvents,
// ReadMarkers = StoreReadMarkers, MarkerCache none (read state from PostgreSQL alone).
type Deps struct {
	Store       *persistence.Store
	Verifier    *auth.Verifier
	IDs         *cluster.IDGenerator
	Logger      *slog.Logger
	Registerer  prometheus.Registerer
	Poster      Poster
	Events      Events
	ReadMarkers ReadMarkers
	MarkerCache MarkerCache
	// Presence answers GET …/presence and fills the members lists' presence; nil: that
	// route answers 503 and the lists show everyone "offline".
	Presence PresenceSource
	// ClientIP says which address a request comes from, for the limits per address; nil:
	// the peer's (no trusted proxy).
	ClientIP *clientip.Resolver
	// OutgoingURLs checks outgoing-webhook URLs at creation (ADR 0037); nil: an
	// integrations.Client that refuses private addresses.
	OutgoingURLs URLChecker
	// Commands runs slash commands (ADR 0038) and SlashURLs checks their URLs at
	// registration; nil: a command call is 400 unknown_command, registration 503.
	Commands  Commands
	SlashURLs URLChecker
	// Files stores uploads (ADR 0041); nil: the file routes answer 503.
	Files *files.Service
}

// API is the REST API's handlers.
type API struct {
	cfg     Config
	store   *persistence.Store
	verify  *auth.Verifier
	ids     *cluster.IDGenerator
	log     *slog.Logger
	poster  Poster
	events  Events
	markers ReadMarkers
	cache   MarkerCache // nil: no cache
	users   *userCache
	metrics *metrics
	limits  *limiters
	openapi []byte // the OpenAPI document, built once

	presenceSrc PresenceSource // nil: no presence

	commands  Commands       // nil: no slash commands (slash.go)
	slashURLs URLChecker     // nil: none can be registered
	files     *files.Service // nil: no file storage
	urls      URLChecker     // outgoing webhooks' URL check (webhooks_outgoing.go)
}

// New validates cfg and deps and returns the API.
func New(cfg Config, deps Deps) (*API, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("api: invalid config: %w", err)
	}
	if deps.Store == nil || deps.Verifier == nil || deps.IDs == nil {
		return nil, errors.New("api: Store, Verifier and IDs are required")
	}
	if cfg.DevMode {
		// Dev login mints HS256 tokens: refuse to start with a verifier that cannot.
		if _, _, err := deps.Verifier.Issue("parley", time.Minute); errors.Is(err, auth.ErrNoSecret) {
			return nil, fmt.Errorf("api: DevMode needs a verifier with an HS256 secret: %w", err)
		}
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.Events == nil {
		deps.Events = NopEvents{}
	}
	if deps.Poster == nil {
		deps.Poster = &StorePoster{Store: deps.Store, Events: deps.Events}
	}
	if deps.ReadMarkers == nil {
		deps.ReadMarkers = StoreReadMarkers{Store: deps.Store}
	}
	m, err := newMetrics(deps.Registerer)
	if err != nil {
		return nil, fmt.Errorf("api: %w", err)
	}
	limits, err := newLimiters(cfg.Limits, deps.ClientIP, deps.Registerer)
	if err != nil {
		return nil, fmt.Errorf("api: invalid config: %w", err)
	}
	if deps.OutgoingURLs == nil {
		c, err := integrations.NewClient(integrations.ClientConfig{})
		if err != nil {
			return nil, fmt.Errorf("api: %w", err)
		}
		deps.OutgoingURLs = c
	}
	doc, err := OpenAPIDocument()
	if err != nil {
		return nil, fmt.Errorf("api: openapi document: %w", err)
	}
	return &API{openapi: doc,
		cfg: cfg, store: deps.Store, verify: deps.Verifier, ids: deps.IDs,
		log: deps.Logger.With("component", "api"), poster: deps.Poster, events: deps.Events,
		markers: deps.ReadMarkers, cache: deps.MarkerCache, users: newUserCache(cfg.UserCacheSize), metrics: m, limits: limits,
		presenceSrc: deps.Presence, files: deps.Files,
		commands: deps.Commands, slashURLs: deps.SlashURLs,
		urls: deps.OutgoingURLs, // outgoing webhooks (ADR 0037)
	}, nil
}

// Register adds every route of the API (Routes with a handler) to mux, and a fallback for
// the rest of /api/ so that unknown paths and methods get problem+json too.
func (a *API) Register(mux *http.ServeMux) {
	known := http.NewServeMux()
	for _, rt := range a.routes() {
		if rt.handler == nil {
			continue
		}
		mux.Handle(rt.Method+" "+rt.Pattern, a.wrap(rt))
		known.HandleFunc(rt.Method+" "+rt.Pattern, func(http.ResponseWriter, *http.Request) {})
	}
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) { a.fallback(known, w, r) })
	mux.HandleFunc(HookPathPrefix, func(w http.ResponseWriter, r *http.Request) { a.fallback(known, w, r) })
}

// fallback answers a request no route took: 405 with Allow when the path exists with other
// methods, else 404.
func (a *API) fallback(known *http.ServeMux, w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	if strings.HasPrefix(path, HookPathPrefix) {
		path = HookPathPrefix + "…" // a hook's URL holds its secret: never echoed
	}
	var allow []string
	for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := known.Handler(probe); pattern != "" {
			allow = append(allow, m)
		}
	}
	if len(allow) == 0 {
		WriteProblem(w, r, fmt.Errorf("no such endpoint %s: %w", path, persistence.ErrNotFound))
		return
	}
	w.Header().Set("Allow", strings.Join(allow, ", "))
	WriteProblem(w, r, fmt.Errorf("%w: %s %s", errcode.ErrMethodNotAllowed, r.Method, path))
}

// NopEvents drops every event (no real-time layer).
type NopEvents struct{}

// ChannelEvent implements Events.
func (NopEvents) ChannelEvent(int64, any) {}

// UserEvent implements Events.
func (NopEvents) UserEvent(int64, string, any) {}

// UsersEvent does nothing.
func (NopEvents) UsersEvent([]int64, string, any) {}

// AccessChanged does nothing.
func (NopEvents) AccessChanged(int64, int64) {}

// TokenRevoked does nothing.
func (NopEvents) TokenRevoked(int64, int64) {}

// StorePoster appends through the store directly, one message per transaction, and then
// tells Events about the message and its mentions.
type StorePoster struct {
	Store  *persistence.Store
	Events Events
}

// Post implements Poster.
func (p *StorePoster) Post(ctx context.Context, userID, channelID int64, m persistence.NewMessage) (persistence.AppendResult, error) {
	m.UserID = userID
	res, err := p.Store.AppendMessages(ctx, channelID, []persistence.NewMessage{m})
	if err != nil {
		return persistence.AppendResult{}, err
	}
	r := res[0]
	if r.Err != nil {
		return r, r.Err
	}
	if !r.Duplicate && p.Events != nil {
		p.Events.ChannelEvent(channelID, persistence.NewMessageEvent(r.Message))
		for _, mn := range r.Mentions {
			p.Events.UserEvent(mn.UserID, persistence.QueueMentions,
				persistence.MentionEvent{Type: persistence.EventMention, Mention: mn, Message: r.Message})
			if mn.Notify {
				p.Events.UserEvent(mn.UserID, persistence.QueueNotifications, persistence.NewMentionNotification(mn, r.Message))
			}
		}
		for _, tu := range r.ThreadUpdates {
			p.Events.UserEvent(tu.UserID, persistence.QueueNotifications, persistence.NewThreadUpdatedEvent(tu))
		}
	}
	return r, nil
}

// StoreReadMarkers writes read markers straight to PostgreSQL.
type StoreReadMarkers struct{ Store *persistence.Store }

// MarkRead implements ReadMarkers.
func (m StoreReadMarkers) MarkRead(ctx context.Context, userID, channelID, seq int64) (int64, error) {
	return m.Store.MarkRead(ctx, userID, channelID, seq)
}

// MarkThreadRead implements ReadMarkers.
func (m StoreReadMarkers) MarkThreadRead(ctx context.Context, userID, channelID, rootID, seq int64) (int64, error) {
	return m.Store.MarkThreadRead(ctx, userID, channelID, rootID, seq)
}
