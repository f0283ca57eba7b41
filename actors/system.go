package actors

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/parley-chat/parley/ratelimit"
)

// Deps are a System's collaborators. Store, ReadMarks and IDs are required.
type Deps struct {
	Store     Store
	ReadMarks ReadMarks
	IDs       IDs
	// Actors is the node's actor system, shared with its Receipts. Nil: the System makes
	// one of its own and shuts it down with itself.
	Actors *Actors
	// Bus carries events to and from the other nodes (ClusterBus). Nil: NopBus (a single
	// node).
	Bus Bus
	// Presence is the cluster's presence (ClusterPresence); nil: /app/presence.* answer
	// ERROR unavailable. Peers checks watch lists; nil: Store, if it implements Peers.
	Presence Presence
	Peers    Peers
	// Commands runs slash commands (integrations/slash, ADR 0038); nil: a command call is
	// answered ERROR unknown_command.
	Commands Commands
	// Logger nil: discard.
	Logger *slog.Logger
	// Registerer nil: metrics are kept but not exported.
	Registerer prometheus.Registerer
}

// System is a node's actor system: the channel-actor registry, the sessions, and the
// Poster/Events implementations REST uses. Create it with New, stop it with Shutdown.
type System struct {
	cfg   Config
	store Store
	marks ReadMarks
	ids   IDs
	bus   Bus
	log   *slog.Logger
	met   *metrics
	// presence is the node's presence hub (presence.go); nil without Deps.Presence.
	presence *presenceHub
	// commands runs slash commands (commands.go); nil: none.
	commands Commands
	// coalescer shares transactions between channels' commits (ADR 0046); nil: off (the
	// default), or a Store without AppendBatches.
	coalescer *coalescer

	// replayBudget is Config.ReplayBudget's bucket per user id (replay.go).
	replayBudget *ratelimit.Keyed[int64]

	as    *actor.ActorSystem
	ownAS bool // as was made by New: Shutdown stops it
	root  *actor.RootContext
	disp  *dispatcher // runs the channel actors' and sessions' mailboxes (dispatcher.go)

	mu       sync.RWMutex
	channels map[int64]*channelEntry

	smu      sync.Mutex
	sessions map[*Session]struct{}
	users    map[int64]map[*Session]struct{}
	userSubs map[int64]BusSubscription // bus interest in the queues of users with a session here
	audience BusSubscription           // bus interest in users' events (cluster_audience.go)

	draining     atomic.Bool
	pendingPosts atomic.Int64  // posts handed to channel actors and not yet answered
	eventIDs     atomic.Uint64 // message-ids of events that are not messages
	working      atomic.Int64  // goWork functions running; a counter, not a WaitGroup: work may start while Shutdown waits
}

// channelEntry is a registry slot. inbox counts messages sent through the registry and not
// yet handled, so that an idle actor retires only when nothing is on its way to it.
type channelEntry struct {
	pid   *actor.PID
	inbox atomic.Int64
	// delivered is the highest message seq the actor has handed to its subscribers, for
	// sessions to read without asking it (conn_send.go's markRead).
	delivered atomic.Int64
}

// New validates cfg and deps and starts an actor system that never logs to stdout.
func New(cfg Config, deps Deps) (*System, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if deps.Store == nil || deps.ReadMarks == nil || deps.IDs == nil {
		return nil, errors.New("actors: Store, ReadMarks and IDs are required")
	}
	if deps.Bus == nil {
		deps.Bus = NopBus{}
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	met, err := newMetrics(deps.Registerer)
	if err != nil {
		return nil, fmt.Errorf("actors: %w", err)
	}
	budget, err := ratelimit.New[int64](float64(cfg.ReplayBudget)/60, cfg.ReplayBudget, 0)
	if err != nil {
		return nil, fmt.Errorf("actors: replay budget: %w", err)
	}
	if deps.Presence != nil && deps.Peers == nil {
		p, ok := deps.Store.(Peers)
		if !ok {
			return nil, errors.New("actors: Presence needs Peers")
		}
		deps.Peers = p
	}
	log := deps.Logger.With("component", "actors")
	var as *actor.ActorSystem
	if deps.Actors != nil {
		as = deps.Actors.as
	} else {
		as = newActorSystem(log)
	}
	// The System's own root context: its guardian restarts a panicking actor fresh.
	root := actor.NewRootContext(as, nil).WithGuardian(&restartFresh{log: log, met: met})
	s := &System{
		cfg: cfg, store: deps.Store, marks: deps.ReadMarks, ids: deps.IDs, bus: deps.Bus,
		log: log, met: met, replayBudget: budget, commands: deps.Commands, as: as, ownAS: deps.Actors == nil, root: root, disp: newDispatcher(0),
		channels: make(map[int64]*channelEntry),
		sessions: make(map[*Session]struct{}),
		users:    make(map[int64]map[*Session]struct{}),
		userSubs: make(map[int64]BusSubscription),
	}
	if ba, ok := deps.Store.(batchAppender); ok && cfg.Coalesce.On {
		s.coalescer = newCoalescer(s, ba, cfg.Coalesce)
	}
	if deps.Presence != nil {
		s.presence = newPresenceHub(s, deps.Presence, deps.Peers, cfg.AwayAfter)
	}
	s.audience = s.watchAudiences()
	return s, nil
}

// Config returns the effective configuration (defaults applied).
func (s *System) Config() Config { return s.cfg }

// toChannel sends msg to channelID's actor, spawning it when there is none.
func (s *System) toChannel(channelID int64, msg any) {
	s.mu.RLock()
	if e := s.channels[channelID]; e != nil {
		s.sendEntry(e, msg)
		s.mu.RUnlock()
		return
	}
	s.mu.RUnlock()
	s.mu.Lock()
	e := s.channels[channelID]
	if e == nil {
		e = &channelEntry{}
		e.pid = s.root.Spawn(s.channelProps(channelID, e))
		s.channels[channelID] = e
		s.met.channels.Inc()
	}
	s.sendEntry(e, msg)
	s.mu.Unlock()
}

// toLiveChannel sends msg only if channelID has an actor on this node.
func (s *System) toLiveChannel(channelID int64, msg any) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	e := s.channels[channelID]
	if e == nil {
		return false
	}
	s.sendEntry(e, msg)
	return true
}

func (s *System) sendEntry(e *channelEntry, msg any) {
	e.inbox.Add(1)
	s.met.channelInbox.Inc()
	s.root.Send(e.pid, msg)
}

// delivered is the highest seq channelID's actor here has delivered (0: no actor).
func (s *System) delivered(channelID int64) int64 {
	s.mu.RLock()
	e := s.channels[channelID]
	s.mu.RUnlock()
	if e == nil {
		return 0
	}
	return e.delivered.Load()
}

// retire removes an idle channel actor from the registry if nothing is on its way to it.
func (s *System) retire(channelID int64, e *channelEntry) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e.inbox.Load() != 0 || s.channels[channelID] != e {
		return false
	}
	delete(s.channels, channelID)
	s.met.channels.Dec()
	return true
}

// ChannelActors returns how many channel actors are alive (tests, diagnostics).
func (s *System) ChannelActors() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.channels)
}

// Sessions returns how many sessions are open.
func (s *System) Sessions() int {
	s.smu.Lock()
	defer s.smu.Unlock()
	return len(s.sessions)
}

// goWork runs fn off the actors, counted so that Shutdown can wait for it.
func (s *System) goWork(fn func()) {
	s.working.Add(1)
	go func() {
		defer s.working.Add(-1)
		fn()
	}()
}

// nextEventID numbers events that are not messages; the node id keeps the ids of events
// from different nodes apart on one session.
func (s *System) nextEventID() string {
	return "e" + strconv.Itoa(s.cfg.NodeID) + "-" + strconv.FormatUint(s.eventIDs.Add(1), 10)
}

// Shutdown drains the node (SPEC guarantee 5): new sessions and sends are refused, sends
// already handed to channel actors are committed and acknowledged, then every session gets
// ERROR shutting_down (reconnect elsewhere) and is closed, and the actors stop. It returns
// ctx's error if that does not finish in time, having closed everything anyway.
func (s *System) Shutdown(ctx context.Context) error {
	if s.draining.Swap(true) {
		return nil
	}
	err := waitUntil(ctx, func() bool { return s.pendingPosts.Load() == 0 })
	// Sessions are closed outside smu: closing may write to and close the socket, and
	// Open, forget and deliverUser must not wait on that I/O (actors/locks.md).
	for _, sess := range s.sessionList() {
		sess.out.CloseAfter(ErrorFrame(ErrShuttingDown, "", ""))
	}
	if e := waitUntil(ctx, func() bool { return s.Sessions() == 0 }); e != nil {
		err = e
		for _, sess := range s.sessionList() {
			sess.out.CloseNow()
		}
	}
	if e := waitUntil(ctx, func() bool { return s.working.Load() == 0 }); e != nil {
		err = e
	}
	if s.presence != nil {
		s.presence.close()
	}
	s.audience.Close()
	s.mu.Lock()
	for id, e := range s.channels {
		s.root.Stop(e.pid)
		delete(s.channels, id)
		s.met.channels.Dec()
	}
	s.mu.Unlock()
	if s.ownAS {
		s.as.Shutdown()
	}
	s.disp.Stop()
	return err
}

// sessionList is a copy of the open sessions, taken under smu.
func (s *System) sessionList() []*Session {
	s.smu.Lock()
	defer s.smu.Unlock()
	out := make([]*Session, 0, len(s.sessions))
	for sess := range s.sessions {
		out = append(out, sess)
	}
	return out
}

func waitUntil(ctx context.Context, cond func() bool) error {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// levelShift lowers protoactor's Info records to Debug: its own lifecycle chatter is not
// the application's news.
type levelShift struct{ slog.Handler }

func (h levelShift) Enabled(ctx context.Context, l slog.Level) bool {
	return h.Handler.Enabled(ctx, shift(l))
}

func (h levelShift) Handle(ctx context.Context, r slog.Record) error {
	r.Level = shift(r.Level)
	return h.Handler.Handle(ctx, r)
}

func (h levelShift) WithAttrs(as []slog.Attr) slog.Handler {
	return levelShift{h.Handler.WithAttrs(as)}
}

func (h levelShift) WithGroup(name string) slog.Handler { return levelShift{h.Handler.WithGroup(name)} }

func shift(l slog.Level) slog.Level {
	if l == slog.LevelInfo {
		return slog.LevelDebug
	}
	return l
}
