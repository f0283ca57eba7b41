package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// Presence statuses (SPEC "Presence").
const (
	StatusOnline  = "online"
	StatusAway    = "away"
	StatusOffline = "offline"
)

// Defaults and bounds of PresenceConfig.
const (
	DefaultPresenceKeyPrefix     = "parley:presence:"
	DefaultPresenceTTL           = 30 * time.Second
	DefaultPresenceSweepInterval = 5 * time.Second
	DefaultPresenceWriteTimeout  = 2 * time.Second
	DefaultPresenceBatch         = 256
	// MaxPresenceOffline is SPEC's bound on how long a dead node's users may still look
	// present; validate keeps TTL + SweepInterval under it.
	MaxPresenceOffline = 45 * time.Second
	minPresenceTTL     = 100 * time.Millisecond
	maxPresenceBatch   = 4096
)

// PresenceConfig configures Presence. The zero value is usable: every field has a default.
type PresenceConfig struct {
	// KeyPrefix starts every Redis key of presence: the user hashes (KeyPrefix+"u:"+id),
	// the node registry (KeyPrefix+"nodes") and each node's user set (KeyPrefix+"n:"+token).
	// All nodes of a cluster must use the same. Default "parley:presence:".
	KeyPrefix string
	// TTL is how long a node's presence entries stand without renewal: a node that stops
	// renewing (killed, cut off from Redis) is declared dead by the others TTL after its
	// last renewal, and its users lose the status it gave them. Default 30 s, at least 100 ms.
	TTL time.Duration
	// RenewInterval is how often a node renews its entries: one command per node, whatever
	// its number of users. Default TTL/3 (10 s); at most TTL/2, so one lost renewal is not
	// a death.
	RenewInterval time.Duration
	// SweepInterval is how often a node looks for dead nodes and clears their entries.
	// A dead node's users are offline at most TTL + SweepInterval after its last renewal:
	// 35 s with the defaults; validate keeps the sum at or below 45 s (SPEC). Default 5 s.
	SweepInterval time.Duration
	// WriteTimeout bounds one round trip to Redis (a batch of changes, a renewal, a sweep
	// step, a Statuses read). Default 2 s.
	WriteTimeout time.Duration
	// Batch is the most users written, or swept, in one script call. Default 256.
	Batch int
}

func (c PresenceConfig) withDefaults() PresenceConfig {
	if c.KeyPrefix == "" {
		c.KeyPrefix = DefaultPresenceKeyPrefix
	}
	if c.TTL == 0 {
		c.TTL = DefaultPresenceTTL
	}
	if c.RenewInterval == 0 {
		c.RenewInterval = c.TTL / 3
	}
	if c.SweepInterval == 0 {
		c.SweepInterval = min(DefaultPresenceSweepInterval, c.TTL/2)
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = DefaultPresenceWriteTimeout
	}
	if c.Batch == 0 {
		c.Batch = DefaultPresenceBatch
	}
	return c
}

// Validate checks a PresenceConfig after defaults are applied (zero fields are valid).
func (c PresenceConfig) Validate() error { return c.withDefaults().validate() }

func (c PresenceConfig) validate() error {
	var errs []error
	if c.TTL < minPresenceTTL {
		errs = append(errs, fmt.Errorf("presence TTL %s is below %s", c.TTL, minPresenceTTL))
	}
	if c.RenewInterval <= 0 || c.RenewInterval > c.TTL/2 {
		errs = append(errs, fmt.Errorf("presence RenewInterval %s: want more than 0 and at most TTL/2 (%s)", c.RenewInterval, c.TTL/2))
	}
	if c.SweepInterval <= 0 {
		errs = append(errs, fmt.Errorf("presence SweepInterval %s must be positive", c.SweepInterval))
	}
	if c.TTL+c.SweepInterval > MaxPresenceOffline {
		errs = append(errs, fmt.Errorf("presence TTL %s + SweepInterval %s is above %s: a dead node's users must be offline within it",
			c.TTL, c.SweepInterval, MaxPresenceOffline))
	}
	if c.WriteTimeout <= 0 {
		errs = append(errs, fmt.Errorf("presence WriteTimeout %s must be positive", c.WriteTimeout))
	}
	if c.Batch < 1 || c.Batch > maxPresenceBatch {
		errs = append(errs, fmt.Errorf("presence Batch %d is outside 1..%d", c.Batch, maxPresenceBatch))
	}
	return errors.Join(errs...)
}

// PresenceHandler hears the status changes of one watched user. Both methods are called
// from Presence's or the Bus's goroutines and must not block.
type PresenceHandler interface {
	// Changed is a new status of userID, from any node.
	Changed(userID int64, status string)
	// Resync says the user's change feed is live (again): changes before it may have been
	// missed, so the handler reads the status with Statuses.
	Resync(userID int64)
}

// Presence is the cluster-wide presence of users (ADR 0033). Each node says, per user with
// a session on it, "online" or "away" (SetLocal); Redis combines what every node says into
// the user's status and publishes each change once, on the user's presence topic of the
// bus, to the nodes that watch that user. A node's statements stand while it renews its
// registration (one command per RenewInterval, not one per user); a node that stops is
// swept by the others TTL later and its users' statuses are recomputed and published.
//
// All methods are safe for concurrent use; none but Statuses and Close waits on Redis.
type Presence struct {
	rdb   redis.UniversalClient
	bus   *RedisBus
	cfg   PresenceConfig
	log   *slog.Logger
	token string // this instance's id in Redis; a restarted node is a new one
	stats presenceStats

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	wake   chan struct{} // capacity 1: pending has entries

	mu      sync.Mutex
	local   map[int64]string // user → "o" or "a": what this node says
	pending map[int64]struct{}
	watches map[int64]*presenceTopic
	closed  bool
}

// presenceTopic is the node's interest in one user's changes. Guarded by Presence.mu.
type presenceTopic struct {
	subs []*PresenceWatch
	sub  *redisSubscription
}

// PresenceWatch is one holder's interest in a user's status. Close it when done.
type PresenceWatch struct {
	p      *Presence
	userID int64
	h      PresenceHandler
}

// NewPresence validates cfg and starts the node's presence: registration, renewal, sweeping
// and the writer run in the background. bus carries the change feed. logger and reg may be
// nil.
func NewPresence(rdb redis.UniversalClient, bus *RedisBus, cfg PresenceConfig, logger *slog.Logger, reg prometheus.Registerer) (*Presence, error) {
	if rdb == nil || bus == nil {
		return nil, errors.New("presence: nil redis client or bus")
	}
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if IsRedisCluster(rdb) && !strings.ContainsAny(cfg.KeyPrefix, "{}") {
		// The scripts touch a user's hash, a node's set and the registry together, so on a
		// Redis Cluster every presence key shares one hash tag (one slot; ADR 0043).
		cfg.KeyPrefix += "{presence}"
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	tok := make([]byte, 8)
	_, _ = rand.Read(tok)
	ctx, cancel := context.WithCancel(context.Background())
	p := &Presence{
		rdb: rdb, bus: bus, cfg: cfg, log: logger.With("component", "presence"),
		token: hex.EncodeToString(tok), ctx: ctx, cancel: cancel,
		wake:    make(chan struct{}, 1),
		local:   make(map[int64]string),
		pending: make(map[int64]struct{}),
		watches: make(map[int64]*presenceTopic),
	}
	p.stats.init()
	if reg != nil {
		if err := p.stats.register(reg); err != nil {
			cancel()
			return nil, fmt.Errorf("presence: register metrics: %w", err)
		}
	}
	p.wg.Add(3)
	go p.writeLoop()
	go p.renewLoop()
	go p.sweepLoop()
	return p, nil
}

// Config returns the effective configuration (defaults applied).
func (p *Presence) Config() PresenceConfig { return p.cfg }

// SetLocal records what this node says of userID: StatusOnline, StatusAway, or
// StatusOffline once no session of the user is left here. It returns at once; the change
// reaches Redis with the next write, and is retried until it does.
func (p *Presence) SetLocal(userID int64, status string) {
	v := ""
	switch status {
	case StatusOnline:
		v = "o"
	case StatusAway:
		v = "a"
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	if cur, ok := p.local[userID]; ok == (v != "") && cur == v {
		p.mu.Unlock()
		return
	}
	if v == "" {
		delete(p.local, userID)
	} else {
		p.local[userID] = v
	}
	p.pending[userID] = struct{}{}
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// Watch registers h for userID's status changes until the watch is closed. The node holds
// the user's presence topic while any watch does; h.Resync marks when it is live.
func (p *Presence) Watch(userID int64, h PresenceHandler) *PresenceWatch {
	w := &PresenceWatch{p: p, userID: userID, h: h}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return w
	}
	t := p.watches[userID]
	first := t == nil
	if first {
		t = &presenceTopic{}
		p.watches[userID] = t
	}
	t.subs = append(slices.Clip(t.subs), w)
	p.mu.Unlock()
	if !first {
		return w
	}
	// Outside mu: the bus may call the handler's Resync, which takes mu, before returning.
	sub := p.bus.subscribe(p.topic(userID), interestUser, presenceBusHandler{p: p, userID: userID})
	p.mu.Lock()
	kept := p.watches[userID] == t
	if kept {
		t.sub = sub
	}
	p.mu.Unlock()
	if !kept { // every watch closed (or Presence closed) meanwhile
		sub.Close()
	}
	return w
}

// Close ends the watch; the node leaves the user's topic with the last one. Idempotent.
func (w *PresenceWatch) Close() {
	p := w.p
	p.mu.Lock()
	t := p.watches[w.userID]
	var sub *redisSubscription
	if t != nil {
		if i := slices.Index(t.subs, w); i >= 0 {
			t.subs = slices.Delete(slices.Clone(t.subs), i, i+1)
			if len(t.subs) == 0 {
				sub = t.sub // nil while Watch is still subscribing: it closes its own
				delete(p.watches, w.userID)
			}
		}
	}
	p.mu.Unlock()
	if sub != nil {
		sub.Close()
	}
}

// presenceBusHandler receives one watched user's changes from other nodes.
type presenceBusHandler struct {
	p      *Presence
	userID int64
}

func (h presenceBusHandler) Deliver(payload []byte) {
	st := string(payload)
	if st != StatusOnline && st != StatusAway && st != StatusOffline {
		h.p.stats.malformed.Inc()
		return
	}
	h.p.stats.received.Inc()
	h.p.dispatch(h.userID, st)
}

func (h presenceBusHandler) Resync() {
	for _, w := range h.p.watchers(h.userID) {
		w.h.Resync(h.userID)
	}
}

// dispatch tells the watchers of userID here about its new status.
func (p *Presence) dispatch(userID int64, status string) {
	for _, w := range p.watchers(userID) {
		w.h.Changed(userID, status)
	}
}

func (p *Presence) watchers(userID int64) []*PresenceWatch {
	p.mu.Lock()
	defer p.mu.Unlock()
	if t := p.watches[userID]; t != nil {
		return t.subs // copied on write
	}
	return nil
}

// Statuses returns the status of each of userIDs ("online", "away" or "offline"), read from
// Redis in one round trip per Batch users.
func (p *Presence) Statuses(ctx context.Context, userIDs []int64) (map[int64]string, error) {
	out := make(map[int64]string, len(userIDs))
	ctx, cancel := context.WithTimeout(ctx, p.cfg.WriteTimeout)
	defer cancel()
	for ids := range slices.Chunk(userIDs, p.cfg.Batch) {
		cmds, err := p.rdb.Pipelined(ctx, func(pl redis.Pipeliner) error {
			for _, id := range ids {
				pl.HGet(ctx, p.userKey(id), "s")
			}
			return nil
		})
		if err != nil && !errors.Is(err, redis.Nil) {
			return nil, fmt.Errorf("presence: read statuses: %w", err)
		}
		for i, id := range ids {
			st, err := cmds[i].(*redis.StringCmd).Result()
			switch {
			case errors.Is(err, redis.Nil):
				st = StatusOffline
			case err != nil:
				return nil, fmt.Errorf("presence: read status of %d: %w", id, err)
			}
			out[id] = st
		}
	}
	return out, nil
}

// Close stops the node's presence: every user it had is withdrawn (their statuses settle
// and are published), its registration is removed, and no handler is called after it
// returns. Bounded by ctx and WriteTimeout.
func (p *Presence) Close(ctx context.Context) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	for uid := range p.local {
		p.pending[uid] = struct{}{}
	}
	clear(p.local)
	var subs []*redisSubscription
	for _, t := range p.watches {
		if t.sub != nil {
			subs = append(subs, t.sub)
		}
	}
	clear(p.watches)
	p.mu.Unlock()
	for _, s := range subs {
		s.Close()
	}
	p.cancel()
	p.wg.Wait()
	// The loops are done: flush the withdrawals, then leave the registry.
	err := p.flush(ctx)
	if e := p.unregister(ctx); e != nil {
		err = errors.Join(err, e)
	}
	return err
}

// Key and topic names.
func (p *Presence) userKey(userID int64) string {
	return p.cfg.KeyPrefix + "u:" + strconv.FormatInt(userID, 10)
}

func (p *Presence) topic(userID int64) string {
	return p.topicPrefix() + strconv.FormatInt(userID, 10)
}

func (p *Presence) topicPrefix() string { return p.bus.cfg.TopicPrefix + "p:" }

// envelope is the bus envelope the scripts put before each status they publish, so that the
// bus drops this node's own publishes as it does its Posts: a node learns its own changes
// from the scripts' replies.
func (p *Presence) envelope() string {
	return string([]byte{busEnvelopeVersion}) + p.bus.origin
}
