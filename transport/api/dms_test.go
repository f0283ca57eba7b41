package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/parley-chat/parley/persistence"
)

// dmTeam is newTeam (alice owner, bob member) plus carol (member), gus (guest) and
// erin, who has a workspace of her own and shares none with them.
type dmTeam struct {
	*team
	carol, gus, erin *client
}

func newDMTeam(t *testing.T) *dmTeam {
	tm := &dmTeam{team: newTeam(t, harnessOpts{})}
	tm.carol, tm.gus, tm.erin = tm.h.user("carol"), tm.h.user("gus"), tm.h.user("erin")
	tm.join(tm.carol, "member")
	tm.join(tm.gus, "guest")
	tm.erin.ok("POST", "/api/workspaces", map[string]any{"name": "Elsewhere"}, nil)
	return tm
}

func (tm *dmTeam) join(c *client, role string) {
	var inv persistence.Invitation
	tm.alice.ok("POST", fmt.Sprintf("/api/workspaces/%d/invitations", tm.ws), map[string]any{"username": c.name, "role": role}, &inv)
	c.ok("POST", "/api/invitations/accept", map[string]any{"token": inv.Token}, nil)
}

func (tm *dmTeam) dms() string { return fmt.Sprintf("/api/workspaces/%d/dms", tm.ws) }

// open opens a DM as c with others and wants status.
func (tm *dmTeam) open(c *client, status int, others ...*client) persistence.ChannelView {
	tm.h.t.Helper()
	ids := make([]string, len(others))
	for i, o := range others {
		ids[i] = id(o.id)
	}
	var v persistence.ChannelView
	if err := json.Unmarshal(c.expect(status, "POST", tm.dms(), map[string]any{"userIds": ids}), &v); err != nil {
		tm.h.t.Fatal(err)
	}
	return v
}

func (tm *dmTeam) channels(c *client) []persistence.ChannelView {
	tm.h.t.Helper()
	var page struct{ Items []persistence.ChannelView }
	c.ok("GET", fmt.Sprintf("/api/workspaces/%d/channels?limit=100", tm.ws), nil, &page)
	return page.Items
}

func viewOf(vs []persistence.ChannelView, id int64) (persistence.ChannelView, bool) {
	for _, v := range vs {
		if v.ID == id {
			return v, true
		}
	}
	return persistence.ChannelView{}, false
}

// Two people opening the same conversation at the same instant, in either order and from
// either side, get one channel: one 201, every other answer a 200 with the same id. Each
// round races n opens of one set of people (a pair or a trio of a pool of members).
func TestDMConcurrentOpensMakeOneChannel(t *testing.T) {
	t.Parallel()
	tm := newDMTeam(t)
	pool := []*client{tm.alice, tm.bob, tm.carol, tm.gus}
	for i := range 3 {
		c := tm.h.user(fmt.Sprintf("p%d", i))
		tm.join(c, "member")
		pool = append(pool, c)
	}
	var sets [][]*client
	for i := range pool {
		for j := i + 1; j < len(pool); j++ {
			sets = append(sets, []*client{pool[i], pool[j]})
			if k := j + 1; k < len(pool) && i%2 == 0 {
				sets = append(sets, []*client{pool[i], pool[j], pool[k]})
			}
		}
	}
	const n = 8
	type answer struct {
		status int
		id     int64
	}
	var wg sync.WaitGroup
	for _, set := range sets {
		answers := make([]answer, n)
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// Every member of the set opens it, naming the others in turn forwards and
				// backwards, sometimes themselves too.
				me := set[i%len(set)]
				var body []string
				for k := range set {
					o := set[(i+k)%len(set)]
					if i%2 == 1 {
						o = set[(len(set)+i-k)%len(set)]
					}
					if o != me || i%3 == 0 {
						body = append(body, id(o.id))
					}
				}
				<-start
				st, b := me.do("POST", tm.dms(), map[string]any{"userIds": body})
				var v persistence.ChannelView
				_ = json.Unmarshal(b, &v)
				answers[i] = answer{st, v.ID}
			}()
		}
		close(start)
		wg.Wait()
		created := 0
		for i, a := range answers {
			switch {
			case a.status == http.StatusCreated:
				created++
			case a.status != http.StatusOK:
				t.Fatalf("open %d: status %d", i, a.status)
			}
			if a.id == 0 || a.id != answers[0].id {
				t.Fatalf("open %d answered channel %d, open 0 channel %d", i, a.id, answers[0].id)
			}
		}
		if created != 1 {
			t.Fatalf("%d opens answered 201, want exactly 1", created)
		}
		if got := tm.h.count(`SELECT count(*) FROM channel_members WHERE channel_id = $1`, answers[0].id); got != int64(len(set)) {
			t.Fatalf("%d members, want %d", got, len(set))
		}
	}
	if got := tm.h.count(`SELECT count(*) FROM channels WHERE type = 'dm'`); got != int64(len(sets)) {
		t.Fatalf("%d DM channels, want %d", got, len(sets))
	}
}

func TestDMShapeAndValidation(t *testing.T) {
	t.Parallel()
	tm := newDMTeam(t)
	dm := tm.open(tm.bob, http.StatusCreated, tm.carol)
	want := []int64{min(tm.bob.id, tm.carol.id), max(tm.bob.id, tm.carol.id)}
	if dm.Type != persistence.ChannelDM || dm.Name != "" || !dm.IsMember || len(dm.Members) != 2 ||
		dm.Members[0] != want[0] || dm.Members[1] != want[1] || dm.WorkspaceID != tm.ws {
		t.Fatalf("dm %+v", dm)
	}
	// The other member learns of it on their notifications queue; the opener does not.
	added := func(c *client) (out []persistence.ChannelNotification) {
		for _, e := range tm.h.events.userEvents(c.id) {
			if n, ok := e.ev.(persistence.ChannelNotification); ok && n.Type == persistence.EventChannelAdded && e.dest == persistence.QueueNotifications {
				out = append(out, n)
			}
		}
		return out
	}
	if evs := added(tm.carol); len(evs) != 1 || evs[0].Channel.ID != dm.ID || evs[0].ByUserID != tm.bob.id || len(evs[0].Channel.Members) != 2 {
		t.Fatalf("carol's channel.added events %+v", evs)
	}
	if evs := added(tm.bob); len(evs) != 0 {
		t.Fatalf("bob's channel.added events %+v", evs)
	}
	// Opening it again tells nobody anything new.
	tm.open(tm.carol, http.StatusOK, tm.bob)
	if len(added(tm.carol)) != 1 || len(added(tm.bob)) != 0 {
		t.Fatalf("a reopen notified: %+v %+v", added(tm.carol), added(tm.bob))
	}
	for _, body := range []any{
		map[string]any{"userIds": []string{}},                                       // nobody else
		map[string]any{"userIds": []string{id(tm.bob.id)}},                          // only yourself
		map[string]any{"userIds": []string{"1", "2", "3", "4", "5", "6", "7", "8"}}, // 8 others
		map[string]any{"userIds": []int{1}},                                         // not id strings
		map[string]any{},                                                            // missing
	} {
		b := tm.bob.expect(http.StatusBadRequest, "POST", tm.dms(), body)
		var p struct{ Code string }
		_ = json.Unmarshal(b, &p)
		if p.Code != "validation_failed" {
			t.Errorf("%v: %s", body, b)
		}
	}
	// 7 others is allowed (the workspace needs them as members).
	var seven []*client
	for i := range 7 {
		c := tm.h.user(fmt.Sprintf("u%d", i))
		tm.join(c, "member")
		seven = append(seven, c)
	}
	if big := tm.open(tm.bob, http.StatusCreated, seven...); len(big.Members) != 8 {
		t.Fatalf("8-person DM %+v", big)
	}
	if n := tm.h.count(`SELECT count(*) FROM channels WHERE type = 'dm'`); n != 2 {
		t.Fatalf("%d DMs after refused opens", n)
	}
}

// Only members see a DM, workspace owner included; nobody DMs outside a shared workspace;
// guests DM members of their workspace; members are fixed; no rename, no archive.
func TestDMVisibilityAndFixedMembers(t *testing.T) {
	t.Parallel()
	tm := newDMTeam(t)
	dm := tm.open(tm.bob, http.StatusCreated, tm.carol)
	ch := fmt.Sprintf("/api/channels/%d", dm.ID)
	var m persistence.Message
	tm.bob.ok("POST", ch+"/messages", map[string]any{"content": "between us: zanzibar"}, &m)

	for _, c := range []*client{tm.alice, tm.gus, tm.erin} { // owner, guest, stranger
		c.expect(http.StatusNotFound, "GET", ch, nil)
		c.expect(http.StatusNotFound, "GET", ch+"/messages", nil)
		c.expect(http.StatusNotFound, "POST", ch+"/messages", map[string]any{"content": "hi"})
		c.expect(http.StatusNotFound, "GET", ch+"/members", nil)
		c.expect(http.StatusNotFound, "GET", fmt.Sprintf("/api/messages/%d", m.ID), nil)
		c.expect(http.StatusNotFound, "PUT", ch+"/read", map[string]any{"seq": 1})
		c.expect(http.StatusNotFound, "POST", ch+"/members", map[string]any{"userId": id(c.id)})
		c.expect(http.StatusNotFound, "PATCH", ch, map[string]any{"archived": true})
	}
	if _, ok := viewOf(tm.channels(tm.alice), dm.ID); ok {
		t.Fatal("the owner lists bob and carol's DM")
	}
	var found struct{ Items []persistence.Message }
	tm.alice.ok("GET", fmt.Sprintf("/api/workspaces/%d/search?q=zanzibar", tm.ws), nil, &found)
	if len(found.Items) != 0 {
		t.Fatalf("the owner finds %+v", found.Items)
	}
	tm.carol.ok("GET", fmt.Sprintf("/api/workspaces/%d/search?q=zanzibar", tm.ws), nil, &found)
	if len(found.Items) != 1 {
		t.Fatalf("carol finds %+v", found.Items)
	}
	// A mention of a non-member in a DM mentions nobody.
	tm.bob.ok("POST", ch+"/messages", map[string]any{"content": "@alice cannot see this"}, nil)
	if n := tm.h.count(`SELECT count(*) FROM mentions WHERE user_id = $1`, tm.alice.id); n != 0 {
		t.Fatalf("alice has %d mentions from a DM she is not in", n)
	}

	// Nobody DMs outside a shared workspace; erin cannot use this workspace at all.
	tm.bob.expect(http.StatusNotFound, "POST", tm.dms(), map[string]any{"userIds": []string{id(tm.erin.id)}})
	tm.bob.expect(http.StatusNotFound, "POST", tm.dms(), map[string]any{"userIds": []string{id(tm.carol.id), "999"}})
	tm.erin.expect(http.StatusNotFound, "POST", tm.dms(), map[string]any{"userIds": []string{id(tm.bob.id)}})

	// A guest DMs a member; both read and write it.
	gdm := tm.open(tm.gus, http.StatusCreated, tm.bob)
	tm.gus.ok("POST", fmt.Sprintf("/api/channels/%d/messages", gdm.ID), map[string]any{"content": "hello from a guest"}, nil)
	tm.bob.ok("GET", fmt.Sprintf("/api/channels/%d/messages", gdm.ID), nil, nil)
	if v, ok := viewOf(tm.channels(tm.gus), gdm.ID); !ok || v.Type != persistence.ChannelDM {
		t.Fatalf("the guest's list lacks the DM: %+v", tm.channels(tm.gus))
	}

	// Members are fixed; a DM is never renamed or archived; its topic is its members'.
	tm.bob.expect(http.StatusForbidden, "POST", ch+"/members", map[string]any{"userId": id(tm.alice.id)})
	tm.bob.expect(http.StatusForbidden, "POST", ch+"/members", map[string]any{"userId": id(tm.bob.id)})
	tm.bob.expect(http.StatusForbidden, "DELETE", ch+"/members/"+id(tm.carol.id), nil)
	tm.carol.expect(http.StatusForbidden, "DELETE", ch+"/members/"+id(tm.carol.id), nil)
	tm.bob.expect(http.StatusForbidden, "PATCH", ch, map[string]any{"name": "ours"})
	tm.bob.expect(http.StatusForbidden, "PATCH", ch, map[string]any{"archived": true})
	tm.bob.expect(http.StatusForbidden, "PATCH", ch, map[string]any{"topic": "x", "archived": false})
	var v persistence.ChannelView
	tm.carol.ok("PATCH", ch, map[string]any{"topic": "lunch plans"}, &v)
	if v.Topic != "lunch plans" || v.Name != "" || v.Archived {
		t.Fatalf("after topic: %+v", v)
	}
	if n := tm.h.count(`SELECT count(*) FROM channel_members WHERE channel_id = $1`, dm.ID); n != 2 {
		t.Fatalf("%d members after refused changes", n)
	}

	// Leaving the workspace keeps the DM's members (its key) but shuts the leaver out;
	// the other member keeps it.
	tm.carol.expect(http.StatusNoContent, "DELETE", fmt.Sprintf("/api/workspaces/%d/members/%d", tm.ws, tm.carol.id), nil)
	tm.carol.expect(http.StatusNotFound, "GET", ch, nil)
	tm.bob.ok("GET", ch, nil, nil)
	if n := tm.h.count(`SELECT count(*) FROM channel_members WHERE channel_id = $1`, dm.ID); n != 2 {
		t.Fatalf("%d members after carol left the workspace", n)
	}
	// Someone who left cannot be DMed in the workspace any more.
	tm.bob.expect(http.StatusNotFound, "POST", tm.dms(), map[string]any{"userIds": []string{id(tm.carol.id)}})
}

// The channel list: named channels by name, then the caller's DMs by id, with members;
// the page cursor crosses from one to the other.
func TestDMsInTheChannelList(t *testing.T) {
	t.Parallel()
	tm := newDMTeam(t)
	tm.bob.ok("POST", fmt.Sprintf("/api/workspaces/%d/channels", tm.ws), map[string]any{"name": "zeta", "type": "public"}, nil)
	d1 := tm.open(tm.bob, http.StatusCreated, tm.carol)
	d2 := tm.open(tm.alice, http.StatusCreated, tm.bob)
	tm.open(tm.alice, http.StatusCreated, tm.carol) // not bob's
	var got []string
	after := ""
	for range 10 {
		var page struct {
			Items []persistence.ChannelView
			Next  *string
		}
		tm.bob.ok("GET", fmt.Sprintf("/api/workspaces/%d/channels?limit=1&after=%s", tm.ws, after), nil, &page)
		for _, v := range page.Items {
			if v.Type == persistence.ChannelDM {
				if len(v.Members) != 2 {
					t.Fatalf("DM without its members: %+v", v)
				}
				got = append(got, "dm"+id(v.ID))
			} else {
				if v.Members != nil {
					t.Fatalf("channel with members: %+v", v)
				}
				got = append(got, v.Name)
			}
		}
		if page.Next == nil {
			break
		}
		after = *page.Next
	}
	want := []string{"general", "zeta", "dm" + id(min(d1.ID, d2.ID)), "dm" + id(max(d1.ID, d2.ID))}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("bob's list %v, want %v", got, want)
	}
	tm.bob.expect(http.StatusBadRequest, "GET", fmt.Sprintf("/api/workspaces/%d/channels?after=dm:x", tm.ws), nil)
}
