package actors

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/parley-chat/parley/persistence"
)

// Every access a check can return comes back out of the cache unchanged.
func TestAccessCacheRoundTripsEveryAccess(t *testing.T) {
	for _, role := range accessRoles {
		for _, typ := range accessTypes {
			for flags := 0; flags < 8; flags++ {
				in := persistence.Access{UserID: 7, ChannelID: 9, WorkspaceID: 3, LastSeq: 1 << 40,
					Role: role, Type: typ, Member: flags&1 != 0, Creator: flags&2 != 0, Archived: flags&4 != 0}
				e, ok := packAccess(in, nil, 1)
				if !ok {
					t.Fatalf("%+v not cacheable", in)
				}
				if out, err := e.unpack(7, 9); err != nil || out != in {
					t.Fatalf("round trip of %+v = %+v, %v", in, out, err)
				}
			}
		}
	}
	e, ok := packAccess(persistence.Access{}, fmt.Errorf("channel 9: %w", persistence.ErrNotFound), 1)
	if _, err := e.unpack(7, 9); !ok || !errors.Is(err, persistence.ErrNotFound) {
		t.Fatalf("not found: cached %v, unpacked %v", ok, err)
	}
	for _, tc := range []struct {
		acc persistence.Access
		err error
	}{
		{err: errors.New("connection refused")}, // a failed lookup is not remembered
		{acc: persistence.Access{Role: "superuser", Type: persistence.ChannelPublic}},
		{acc: persistence.Access{Role: persistence.RoleMember, Type: "shared"}},
	} {
		if _, ok := packAccess(tc.acc, tc.err, 1); ok {
			t.Fatalf("%+v, %v must not be cached", tc.acc, tc.err)
		}
	}
}

// The per-(session, channel) records the node keeps for every subscription are values the
// collector does not have to visit one by one: the access cache's entries hold no pointer
// at all, the subscription lists hold structs, not pointers to them.
func TestSubscriptionStateIsKeptByValue(t *testing.T) {
	if p := pointerIn(reflect.TypeFor[accessEntry]()); p != "" {
		t.Fatalf("accessEntry holds a pointer (%s): the cache's map would be scanned", p)
	}
	for name, typ := range map[string]reflect.Type{
		"connSubs.list":     reflect.TypeFor[connSubs]().Field(0).Type,
		"channelActor.subs": mustField(t, reflect.TypeFor[channelActor](), "subs").Type,
	} {
		if typ.Kind() != reflect.Slice || typ.Elem().Kind() != reflect.Struct {
			t.Fatalf("%s is %s, want a slice of structs", name, typ)
		}
	}
}

func mustField(t *testing.T, typ reflect.Type, name string) reflect.StructField {
	f, ok := typ.FieldByName(name)
	if !ok {
		t.Fatalf("%s has no field %s", typ, name)
	}
	return f
}

// pointerIn names the first field of typ that holds a pointer ("" for none).
func pointerIn(typ reflect.Type) string {
	switch typ.Kind() {
	case reflect.Struct:
		for i := range typ.NumField() {
			if p := pointerIn(typ.Field(i).Type); p != "" {
				return typ.Field(i).Name + "." + p
			}
		}
		return ""
	case reflect.Array:
		return pointerIn(typ.Elem())
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return ""
	default:
		return typ.Kind().String()
	}
}

// A subscription keeps a copy of its id, not the SUBSCRIBE frame's header block the id was
// sliced from.
func TestConnSubsCopyTheirIDs(t *testing.T) {
	block := "destination:/topic/channel.5\nid:sub-1\n" // a frame's header block
	id := block[strings.Index(block, "sub-1"):][:5]
	var s connSubs
	s.addChannel(id, 5)
	s.addQueue(block[len("destination:/topic/channel.5\nid:"):][:3], persistence.QueueMentions)
	for _, sub := range s.list {
		if p := unsafe.StringData(sub.id); uintptr(unsafe.Pointer(p)) >= uintptr(unsafe.Pointer(unsafe.StringData(block))) &&
			uintptr(unsafe.Pointer(p)) < uintptr(unsafe.Pointer(unsafe.StringData(block)))+uintptr(len(block)) {
			t.Fatalf("subscription %q points into the frame's header block", sub.id)
		}
	}
	if got := s.list[0].dest(); got != "/topic/channel.5" {
		t.Fatalf("dest() = %q", got)
	}
	if q, ok := s.queue(persistence.QueueMentions); !ok || q != "sub" {
		t.Fatalf("queue = %q, %v", q, ok)
	}
	if sub, ok := s.remove("sub"); !ok || sub.dest() != persistence.QueueMentions {
		t.Fatalf("remove = %+v, %v", sub, ok)
	}
	if _, ok := s.queue(persistence.QueueMentions); ok {
		t.Fatal("removing the queue's subscription must forget the queue")
	}
}

// Operations on a channel wait, in order, behind its check; a cached answer never
// overtakes them; an expired or forgotten entry is asked again.
func TestAccessCacheOrdersWaitersAndExpires(t *testing.T) {
	var c accessCache
	var got []int
	op := func(i int) func(persistence.Access, error) {
		return func(persistence.Access, error) { got = append(got, i) }
	}
	if !c.wait(9, op(1)) || c.wait(9, op(2)) {
		t.Fatal("the first waiter starts the check, the second only waits")
	}
	if _, ok, _ := c.fresh(9, time.Hour); ok {
		t.Fatal("no entry may be served while a check runs")
	}
	acc := persistence.Access{Role: persistence.RoleMember, Type: persistence.ChannelPublic, Member: true}
	for _, fn := range c.loaded(9, acc, nil, time.Hour) {
		fn(acc, nil)
	}
	if fmt.Sprint(got) != "[1 2]" || c.isLoading(9) {
		t.Fatalf("waiters ran as %v; loading %v", got, c.isLoading(9))
	}
	if e, ok, refresh := c.fresh(9, time.Hour); !ok || refresh || e.flags&accessMember == 0 {
		t.Fatalf("fresh = %+v, %v, refresh %v", e, ok, refresh)
	}
	c.expire(9)
	if _, ok, _ := c.fresh(9, time.Hour); ok {
		t.Fatal("an expired entry was served")
	}
	c.loaded(9, acc, nil, -time.Second)
	if _, ok, _ := c.fresh(9, time.Hour); ok {
		t.Fatal("an entry past its TTL was served")
	}
}

// An entry in the last quarter of its TTL is served and asks for one background check,
// which no operation waits for and which a failure does not turn into a forgotten entry;
// an entry that expires during the check makes operations wait for it.
func TestAccessCacheRefreshesAhead(t *testing.T) {
	var c accessCache
	acc := persistence.Access{Role: persistence.RoleMember, Type: persistence.ChannelPublic, Member: true}
	c.loaded(9, acc, nil, time.Hour) // until: now + 45..60 min
	if _, ok, refresh := c.fresh(9, time.Hour); !ok || refresh {
		t.Fatalf("a new entry: ok %v, refresh %v", ok, refresh)
	}
	// Seen with a TTL of 4 h, the same entry is in its last quarter.
	if _, ok, refresh := c.fresh(9, 4*time.Hour); !ok || !refresh {
		t.Fatalf("an old entry: ok %v, refresh %v", ok, refresh)
	}
	c.refresh(9)
	if _, ok, refresh := c.fresh(9, 4*time.Hour); !ok || refresh || c.waiting(9) {
		t.Fatalf("during the refresh: ok %v, refresh %v (one check at a time), waiting %v", ok, refresh, c.waiting(9))
	}
	if ran := c.loaded(9, persistence.Access{}, errors.New("connection refused"), 4*time.Hour); len(ran) != 0 {
		t.Fatalf("%d operations waited for a background check", len(ran))
	}
	if _, ok, _ := c.fresh(9, time.Hour); !ok {
		t.Fatal("a failed background check dropped the entry it refreshed")
	}

	c.refresh(9)
	c.entries[9] = accessEntry{until: monoNow() - 1} // expires while the check runs
	if _, ok, _ := c.fresh(9, time.Hour); ok {
		t.Fatal("an expired entry was served during a refresh")
	}
	if c.wait(9, func(persistence.Access, error) {}) {
		t.Fatal("an operation started a second check of the channel")
	}
	if !c.waiting(9) {
		t.Fatal("the operation does not wait for the check")
	}
	if ran := c.loaded(9, acc, nil, time.Hour); len(ran) != 1 {
		t.Fatalf("%d operations ran after the check, want 1", len(ran))
	}
}

// A check under way when access changes answers the operations that waited for it but is
// not cached: it may have read the channel before the change.
func TestAccessCacheDoesNotCacheACheckThatAChangeOvertook(t *testing.T) {
	var c accessCache
	acc := persistence.Access{Role: persistence.RoleMember, Type: persistence.ChannelPublic, Member: true}
	c.loaded(9, acc, nil, time.Hour)
	c.refresh(9)
	c.expire(9) // AccessChanged while the background check runs
	c.loaded(9, acc, nil, time.Hour)
	if _, ok, _ := c.fresh(9, time.Hour); ok {
		t.Fatal("a background check older than the change was cached")
	}
	c.wait(9, func(persistence.Access, error) {})
	c.expire(9)
	if ran := c.loaded(9, acc, nil, time.Hour); len(ran) != 1 {
		t.Fatalf("%d waiting operations ran, want 1", len(ran))
	}
	if _, ok, _ := c.fresh(9, time.Hour); ok {
		t.Fatal("a foreground check older than the change was cached")
	}
	c.loaded(9, acc, nil, time.Hour) // a check that started after the change is cached
	if _, ok, _ := c.fresh(9, time.Hour); !ok {
		t.Fatal("a check after the change was not cached")
	}
}

// Entries loaded together expire apart: each TTL is shortened by up to a quarter.
func TestAccessCacheSpreadsExpiry(t *testing.T) {
	var c accessCache
	acc := persistence.Access{Role: persistence.RoleMember, Type: persistence.ChannelPublic, Member: true}
	start := monoNow()
	seen := map[int64]bool{}
	for id := int64(1); id <= 50; id++ {
		c.loaded(id, acc, nil, time.Hour)
		left := c.entries[id].until - start
		if left > int64(time.Hour)+int64(time.Second) || left < int64(45*time.Minute) {
			t.Fatalf("entry %d lives %v, want 45-60 min", id, time.Duration(left))
		}
		seen[left/int64(time.Second)] = true
	}
	if len(seen) < 10 {
		t.Fatalf("50 entries loaded together expire in only %d distinct seconds", len(seen))
	}
}

// Operations that queue behind a check after an access change overtook it are not answered
// by it: they stay queued for a check of their own, which the cache then caches (issue 21,
// finding 6). The operations that queued before the change get the check's answer.
func TestAccessCacheOperationsAfterAChangeWaitForANewCheck(t *testing.T) {
	acc := persistence.Access{Role: persistence.RoleMember, Type: persistence.ChannelPrivate, Member: true}
	gone := persistence.Access{Role: persistence.RoleMember, Type: persistence.ChannelPrivate}
	var got []string
	op := func(name string) func(persistence.Access, error) {
		return func(a persistence.Access, _ error) { got = append(got, fmt.Sprintf("%s:%v", name, a.Member)) }
	}
	var c accessCache
	c.wait(9, op("before"))
	c.expire(9) // AccessChanged heard while the check runs
	if c.wait(9, op("after")) {
		t.Fatal("a second check started while one runs")
	}
	for _, fn := range c.loaded(9, acc, nil, time.Hour) {
		fn(acc, nil)
	}
	if fmt.Sprint(got) != "[before:true]" || !c.waiting(9) {
		t.Fatalf("after the overtaken check: ran %v, still waiting %v; want [before:true] and the later one waiting", got, c.waiting(9))
	}
	if _, ok, _ := c.fresh(9, time.Hour); ok {
		t.Fatal("the overtaken check was cached")
	}
	for _, fn := range c.loaded(9, gone, nil, time.Hour) {
		fn(gone, nil)
	}
	if fmt.Sprint(got) != "[before:true after:false]" || c.isLoading(9) {
		t.Fatalf("after the new check: ran %v, loading %v", got, c.isLoading(9))
	}
	if e, ok, _ := c.fresh(9, time.Hour); !ok || e.flags&accessMember != 0 {
		t.Fatalf("the new check's answer is not the one cached: %+v, %v", e, ok)
	}

	// A background refresh overtaken by a change answers nobody; whoever came later waits.
	c.refresh(9)
	c.expire(9)
	c.wait(9, op("late"))
	if ran := c.loaded(9, acc, nil, time.Hour); len(ran) != 0 || !c.waiting(9) {
		t.Fatalf("an overtaken refresh answered %d operations (waiting %v), want 0 and the late one waiting", len(ran), c.waiting(9))
	}
}

// Taken out of a workspace (or made a guest), a session forgets every cached check, and
// every check under way is overtaken.
func TestAccessCacheExpireAll(t *testing.T) {
	acc := persistence.Access{Role: persistence.RoleMember, Type: persistence.ChannelPublic, Member: true}
	var c accessCache
	for id := int64(1); id <= 3; id++ {
		c.loaded(id, acc, nil, time.Hour)
	}
	c.refresh(2)
	c.wait(4, func(persistence.Access, error) {})
	c.expireAll()
	for id := int64(1); id <= 4; id++ {
		if _, ok, _ := c.fresh(id, time.Hour); ok {
			t.Fatalf("channel %d still served after expireAll", id)
		}
	}
	c.loaded(2, acc, nil, time.Hour)
	c.loaded(4, acc, nil, time.Hour)
	if _, ok, _ := c.fresh(2, time.Hour); ok {
		t.Fatal("a refresh under way at expireAll was cached")
	}
	if _, ok, _ := c.fresh(4, time.Hour); ok {
		t.Fatal("a check under way at expireAll was cached")
	}
}
