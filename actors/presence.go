package actors

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parley-chat/parley/cluster"
)

// QueuePresence is where a session receives the status changes of the users it watches.
const QueuePresence = "/user/queue/presence"

// Presence is the cluster's presence store (cluster.Presence, through ClusterPresence):
// what each node says of its users goes in, every user's status and its changes come out.
type Presence interface {
	// SetLocal records this node's word on userID (cluster.StatusOnline, StatusAway, or
	// StatusOffline when no session of theirs is left here). It must not block.
	SetLocal(userID int64, status string)
	// Watch registers h for userID's changes, from every node, until closed. It must not
	// block; h.Resync marks when the feed is live.
	Watch(userID int64, h cluster.PresenceHandler) BusSubscription
	// Statuses reads the statuses of userIDs.
	Statuses(ctx context.Context, userIDs []int64) (map[int64]string, error)
}

// Peers tells whom a user may watch (persistence.Store implements it).
type Peers interface {
	// WorkspacePeers returns those of candidates who share a workspace with userID.
	WorkspacePeers(ctx context.Context, userID int64, candidates []int64) ([]int64, error)
}

// ClusterPresence adapts cluster.Presence to Presence.
func ClusterPresence(p *cluster.Presence) Presence { return clusterPresence{p} }

type clusterPresence struct{ *cluster.Presence }

func (c clusterPresence) Watch(userID int64, h cluster.PresenceHandler) BusSubscription {
	return c.Presence.Watch(userID, h)
}

// presenceEvent is the body of a MESSAGE on /user/queue/presence.
type presenceEvent struct {
	Type   string `json:"type"`
	UserID string `json:"userId"`
	Status string `json:"status"`
}

// sessPresence is a session's part in its user's presence. The atomics are written by the
// connection actor on every client frame without a lock; the rest is guarded by hub.mu.
type sessPresence struct {
	away   atomic.Bool // the client said away (/app/presence.set)
	active atomic.Bool // user activity since the hub's last tick
	idle   atomic.Bool // no user activity for AwayAfter
	last   time.Time   // of the last activity a tick saw
	watch  []int64     // the users the session watches
}

// presenceHub is the node's presence: it turns its sessions' activity into what the node
// says of each user (Presence.SetLocal), and fans each watched user's changes out to the
// sessions here that watch them, one Presence.Watch per watched user whatever the number of
// watchers (ADR 0033). Lock order: hub.mu, then Presence's and the Bus's locks; dmu is a
// leaf.
type presenceHub struct {
	sys       *System
	p         Presence
	peers     Peers
	awayAfter time.Duration

	mu      sync.Mutex
	users   map[int64]*presenceUser // users with a session here
	watched map[int64]*watchedUser  // users a session here watches

	dmu   sync.Mutex
	dirty map[int64]struct{} // watched users whose status must be read (feed went live)
	wake  chan struct{}
	stop  chan struct{}
	wg    sync.WaitGroup
}

type presenceUser struct {
	sessions []*Session
	status   string // what the node last said
}

type watchedUser struct {
	sessions map[*Session]struct{}
	status   string // last known; "" until first read
	gen      uint64 // changes heard; a read begun before one is stale
	sub      BusSubscription
}

func newPresenceHub(sys *System, p Presence, peers Peers, awayAfter time.Duration) *presenceHub {
	h := &presenceHub{
		sys: sys, p: p, peers: peers, awayAfter: awayAfter,
		users: make(map[int64]*presenceUser), watched: make(map[int64]*watchedUser),
		dirty: make(map[int64]struct{}), wake: make(chan struct{}, 1), stop: make(chan struct{}),
	}
	h.wg.Add(2)
	go h.tickLoop(min(max(awayAfter/10, 50*time.Millisecond), time.Second))
	go h.readLoop()
	return h
}

func (h *presenceHub) close() {
	close(h.stop)
	h.wg.Wait()
}

// opened counts a new session of its user as active.
func (h *presenceHub) opened(sess *Session) {
	h.mu.Lock()
	defer h.mu.Unlock()
	sess.pres.last = time.Now()
	u := h.users[sess.userID]
	if u == nil {
		u = &presenceUser{}
		h.users[sess.userID] = u
	}
	u.sessions = append(u.sessions, sess)
	h.settle(sess.userID, u)
}

// closed forgets a session: its user may go away or offline, and it watches no one.
func (h *presenceHub) closed(sess *Session) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if u := h.users[sess.userID]; u != nil {
		for i, s := range u.sessions {
			if s == sess {
				u.sessions = append(u.sessions[:i], u.sessions[i+1:]...)
				break
			}
		}
		h.settle(sess.userID, u)
	}
	for _, uid := range sess.pres.watch {
		h.unwatch(sess, uid)
	}
	sess.pres.watch = nil
}

// setAway records what the client said; "online" is also user activity.
func (h *presenceHub) setAway(sess *Session, away bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	sess.pres.away.Store(away)
	if !away {
		sess.pres.last = time.Now()
		sess.pres.idle.Store(false)
	}
	if u := h.users[sess.userID]; u != nil {
		h.settle(sess.userID, u)
	}
}

// activity notes user activity on sess, from its connection actor: one atomic store, and
// the lock only when it ends an idle spell.
func (h *presenceHub) activity(sess *Session) {
	if !sess.pres.active.Load() {
		sess.pres.active.Store(true)
	}
	if sess.pres.idle.Load() {
		h.mu.Lock()
		defer h.mu.Unlock()
		sess.pres.active.Store(false)
		sess.pres.last = time.Now()
		sess.pres.idle.Store(false)
		if u := h.users[sess.userID]; u != nil {
			h.settle(sess.userID, u)
		}
	}
}

// settle works out what the node says of uid and tells Presence when that changed (mu held).
func (h *presenceHub) settle(uid int64, u *presenceUser) {
	st := cluster.StatusOffline
	for _, s := range u.sessions {
		if !s.pres.away.Load() && !s.pres.idle.Load() {
			st = cluster.StatusOnline
			break
		}
		st = cluster.StatusAway
	}
	if st == cluster.StatusOffline {
		delete(h.users, uid)
	}
	if st != u.status {
		u.status = st
		h.p.SetLocal(uid, st)
	}
}

// tickLoop marks sessions idle after AwayAfter without user activity.
func (h *presenceHub) tickLoop(every time.Duration) {
	defer h.wg.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-h.stop:
			return
		case <-t.C:
		}
		h.tick(time.Now())
	}
}

func (h *presenceHub) tick(now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for uid, u := range h.users {
		for _, s := range u.sessions {
			p := &s.pres
			if p.active.Swap(false) {
				p.last = now
				p.idle.Store(false)
			} else if !p.idle.Load() && now.Sub(p.last) >= h.awayAfter {
				p.idle.Store(true)
				// activity() stores active before it loads idle: whichever way the two
				// interleave, the activity is seen here or there.
				if p.active.Swap(false) {
					p.last = now
					p.idle.Store(false)
				}
			}
		}
		h.settle(uid, u)
	}
}

// setWatch replaces the users sess watches (already access-checked and deduplicated).
// Newly watched users whose status the node knows are sent at once; the others when read.
func (h *presenceHub) setWatch(sess *Session, ids []int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	keep := make(map[int64]struct{}, len(ids))
	for _, id := range ids {
		keep[id] = struct{}{}
	}
	old := make(map[int64]struct{}, len(sess.pres.watch))
	for _, uid := range sess.pres.watch {
		old[uid] = struct{}{}
		if _, ok := keep[uid]; !ok {
			h.unwatch(sess, uid)
		}
	}
	for _, uid := range ids {
		if _, ok := old[uid]; ok {
			continue
		}
		w := h.watched[uid]
		if w == nil {
			w = &watchedUser{sessions: make(map[*Session]struct{})}
			h.watched[uid] = w
			w.sub = h.p.Watch(uid, hubHandler{h})
		}
		w.sessions[sess] = struct{}{}
		if w.status != "" {
			h.send(sess, h.event(uid, w.status))
		}
	}
	sess.pres.watch = ids
}

// unwatch drops sess from uid's watchers, and the node's interest with the last (mu held).
func (h *presenceHub) unwatch(sess *Session, uid int64) {
	w := h.watched[uid]
	if w == nil {
		return
	}
	delete(w.sessions, sess)
	if len(w.sessions) == 0 {
		w.sub.Close()
		delete(h.watched, uid)
	}
}

// changed applies a watched user's status; fromRead is a read begun at generation gen.
func (h *presenceHub) changed(uid int64, st string, fromRead bool, gen uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	w := h.watched[uid]
	if w == nil || (fromRead && w.gen != gen) {
		return
	}
	if !fromRead {
		w.gen++
	}
	if w.status == st {
		return
	}
	w.status = st
	ev := h.event(uid, st)
	for sess := range w.sessions {
		h.send(sess, ev)
	}
}

func (h *presenceHub) event(uid int64, st string) *userEvent {
	return newUserEvent(h.sys, 0, QueuePresence, presenceEvent{Type: "presence", UserID: strconv.FormatInt(uid, 10), Status: st})
}

func (h *presenceHub) send(sess *Session, ev *userEvent) {
	if ev != nil {
		h.sys.root.Send(sess.pid, ev)
	}
}

// hubHandler hears the cluster's changes of one watched user; it never blocks.
type hubHandler struct{ h *presenceHub }

func (hh hubHandler) Changed(uid int64, st string) { hh.h.changed(uid, st, false, 0) }

func (hh hubHandler) Resync(uid int64) { hh.h.markDirty(uid) }

func (h *presenceHub) markDirty(uids ...int64) {
	h.dmu.Lock()
	for _, uid := range uids {
		h.dirty[uid] = struct{}{}
	}
	h.dmu.Unlock()
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// readLoop reads the statuses of watched users whose feed went live, many per round trip;
// a change heard meanwhile wins over the read.
func (h *presenceHub) readLoop() {
	defer h.wg.Done()
	for {
		select {
		case <-h.stop:
			return
		case <-h.wake:
		}
		h.dmu.Lock()
		dirty := h.dirty
		h.dirty = make(map[int64]struct{})
		h.dmu.Unlock()
		gens := make(map[int64]uint64, len(dirty))
		ids := make([]int64, 0, len(dirty))
		h.mu.Lock()
		for uid := range dirty {
			if w := h.watched[uid]; w != nil {
				gens[uid] = w.gen
				ids = append(ids, uid)
			}
		}
		h.mu.Unlock()
		if len(ids) == 0 {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		sts, err := h.p.Statuses(ctx, ids)
		cancel()
		if err != nil {
			h.sys.log.Debug("presence: read statuses of watched users", "users", len(ids), "err", err)
			time.AfterFunc(time.Second, func() { h.markDirty(ids...) })
			continue
		}
		for uid, st := range sts {
			h.changed(uid, st, true, gens[uid])
		}
	}
}
