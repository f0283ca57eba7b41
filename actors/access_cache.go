package actors

import (
	"errors"
	"math/rand/v2"
	"time"

	"github.com/parley-chat/parley/persistence"
)

// accessCache is a session's cache of channel access checks. A session keeps one entry per
// channel it subscribes to or posts in, and forgets it when its user's access changes
// (access.go, ADR 0027): at 10,000 users with 20 channels each that is
// 200,000 entries, and as pointers to structs holding strings and an error they were the
// largest group of objects the node's collector marked on every cycle (ADR 0013).
// Entries are therefore packed into pointer-free values: the map's memory holds no
// pointer, so the collector never scans it. The checks under way and the operations
// waiting for them, which need closures, live in a second map only while they run.
type accessCache struct {
	entries map[int64]accessEntry
	loading map[int64]accessLoad
}

// accessLoad is a check under way: the operations waiting for it (none for a background
// refresh), and whether access changed since it started, so that its answer, possibly read
// before the change, must not be cached. The operations that queued after the change,
// waiting[changedAt:], wait for a check of their own (ADR 0027).
type accessLoad struct {
	waiting   []func(persistence.Access, error)
	stale     bool
	changedAt int
}

// maxAccessEntries bounds a session's access cache; expired entries go first.
const maxAccessEntries = 256

// accessEntry is a persistence.Access (or its ErrNotFound) packed without pointers.
type accessEntry struct {
	workspaceID, lastSeq int64
	until                int64 // monoNow() after which the entry is stale
	role, typ            uint8 // indexes into accessRoles, accessTypes
	flags                uint8
}

const (
	accessMember uint8 = 1 << iota
	accessCreator
	accessArchived
	accessNotFound
)

var (
	accessRoles = [...]persistence.Role{persistence.RoleNone, persistence.RoleOwner, persistence.RoleAdmin,
		persistence.RoleMember, persistence.RoleGuest}
	accessTypes = [...]string{persistence.ChannelPublic, persistence.ChannelPrivate, persistence.ChannelDM}
)

// monoBase anchors monoNow: a monotonic clock as an int64, so an entry's deadline needs no
// time.Time (whose *Location is a pointer).
var monoBase = time.Now()

func monoNow() int64 { return int64(time.Since(monoBase)) }

// packAccess packs a check's result; ok is false for what is not cached: an error other
// than ErrNotFound (a failed lookup is not remembered) and a role or channel type this
// build does not know.
func packAccess(acc persistence.Access, err error, until int64) (e accessEntry, ok bool) {
	e.until = until
	if err != nil {
		e.flags = accessNotFound
		return e, errors.Is(err, persistence.ErrNotFound)
	}
	r, t := index(accessRoles[:], acc.Role), index(accessTypes[:], acc.Type)
	if r < 0 || t < 0 {
		return e, false
	}
	e.workspaceID, e.lastSeq, e.role, e.typ = acc.WorkspaceID, acc.LastSeq, uint8(r), uint8(t)
	e.flags = flag(acc.Member, accessMember) | flag(acc.Creator, accessCreator) | flag(acc.Archived, accessArchived)
	return e, true
}

func flag(on bool, bit uint8) uint8 {
	if on {
		return bit
	}
	return 0
}

func index[T comparable](s []T, v T) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}

// unpack rebuilds the check's result for userID and channelID.
func (e accessEntry) unpack(userID, channelID int64) (persistence.Access, error) {
	if e.flags&accessNotFound != 0 {
		return persistence.Access{}, persistence.ErrNotFound
	}
	return persistence.Access{
		UserID: userID, ChannelID: channelID, WorkspaceID: e.workspaceID, LastSeq: e.lastSeq,
		Role: accessRoles[e.role], Type: accessTypes[e.typ],
		Member: e.flags&accessMember != 0, Creator: e.flags&accessCreator != 0, Archived: e.flags&accessArchived != 0,
	}, nil
}

// fresh returns the cached entry of channelID when it is usable now: present, not stale,
// and no operation waiting for a check of the channel (a cached answer must not overtake
// it). refresh asks the caller to start a check in the background (see refresh): the entry
// is in the last quarter of its ttl and no check runs. A session that keeps posting thus
// never waits for its check, and the staleness bound stays ttl.
func (c *accessCache) fresh(channelID int64, ttl time.Duration) (e accessEntry, ok, refresh bool) {
	if c.waiting(channelID) {
		return accessEntry{}, false, false
	}
	e, ok = c.entries[channelID]
	now := monoNow()
	if !ok || now >= e.until {
		return accessEntry{}, false, false
	}
	return e, true, now >= e.until-int64(ttl/4) && !c.isLoading(channelID)
}

// isLoading reports a check of channelID under way, in the foreground or the background.
func (c *accessCache) isLoading(channelID int64) bool {
	_, ok := c.loading[channelID]
	return ok
}

// waiting reports operations queued behind a check of channelID.
func (c *accessCache) waiting(channelID int64) bool {
	return len(c.loading[channelID].waiting) > 0
}

// refresh marks a background check of channelID, with no operation waiting for it.
func (c *accessCache) refresh(channelID int64) {
	if c.loading == nil {
		c.loading = make(map[int64]accessLoad)
	}
	c.loading[channelID] = accessLoad{}
}

// wait queues fn behind channelID's check and reports whether the caller must start one.
func (c *accessCache) wait(channelID int64, fn func(persistence.Access, error)) (start bool) {
	if c.loading == nil {
		c.loading = make(map[int64]accessLoad)
	}
	l, running := c.loading[channelID]
	l.waiting = append(l.waiting, fn)
	c.loading[channelID] = l
	return !running
}

// loaded stores a finished check (for ttl, when cacheable) and returns the operations that
// waited for it, in arrival order. The ttl is shortened by up to a quarter at random, so
// that sessions which loaded together (a benchmark's, a reconnect storm's) drift apart
// instead of checking again all at once. A background check that failed keeps the entry it
// was refreshing: PostgreSQL away for a moment does not make a trusted answer unknown.
// Operations that queued after an access change overtook the check stay queued: waiting
// reports them, and the caller starts their check.
func (c *accessCache) loaded(channelID int64, acc persistence.Access, err error, ttl time.Duration) []func(persistence.Access, error) {
	l := c.loading[channelID]
	delete(c.loading, channelID)
	run := l.waiting
	if l.stale && l.changedAt < len(l.waiting) {
		run = l.waiting[:l.changedAt:l.changedAt]
		c.loading[channelID] = accessLoad{waiting: l.waiting[l.changedAt:]}
	}
	if len(c.loading) == 0 {
		c.loading = nil // most sessions check a few channels once: keep no empty map
	}
	if ttl > 0 {
		ttl -= time.Duration(rand.Int64N(int64(ttl/4) + 1))
	}
	if e, ok := packAccess(acc, err, monoNow()+int64(ttl)); ok && !l.stale {
		c.prune()
		if c.entries == nil {
			c.entries = make(map[int64]accessEntry)
		}
		c.entries[channelID] = e
	} else if len(l.waiting) > 0 || l.stale {
		delete(c.entries, channelID)
	}
	return run
}

// expire makes channelID's entry stale: the next operation on the channel checks again,
// and a check already under way is not cached (it may have read what changed since) nor
// answers the operations that queue from now on.
func (c *accessCache) expire(channelID int64) {
	delete(c.entries, channelID)
	if l, ok := c.loading[channelID]; ok && !l.stale {
		l.stale, l.changedAt = true, len(l.waiting)
		c.loading[channelID] = l
	}
}

// expireAll is expire for every channel: the user's access may have changed in all of them
// (taken out of a workspace, made a guest).
func (c *accessCache) expireAll() {
	c.entries = nil
	for id := range c.loading {
		c.expire(id)
	}
}

func (c *accessCache) prune() {
	if len(c.entries) < maxAccessEntries {
		return
	}
	now := monoNow()
	for id, e := range c.entries {
		if now >= e.until {
			delete(c.entries, id)
		}
	}
}
