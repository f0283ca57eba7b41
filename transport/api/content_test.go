package api_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/parley-chat/parley/persistence"
)

func TestHistoryPaging(t *testing.T) {
	posters(t, func(t *testing.T, o harnessOpts) {
		tm := newTeam(t, o)
		for i := 1; i <= 7; i++ {
			tm.post(tm.alice, fmt.Sprintf("m%d", i))
		}
		type page struct {
			Items []persistence.Message
			Next  *string
		}
		var p page
		tm.bob.ok("GET", tm.msgs()+"?limit=3", nil, &p)
		if len(p.Items) != 3 || p.Items[0].Seq != 7 || p.Items[2].Seq != 5 || p.Next == nil || *p.Next != "5" {
			t.Fatalf("newest page %+v next %v", p.Items, p.Next)
		}
		tm.bob.ok("GET", tm.msgs()+"?limit=3&before_seq="+*p.Next, nil, &p)
		if p.Items[0].Seq != 4 {
			t.Fatalf("second page starts at %d", p.Items[0].Seq)
		}
		tm.bob.ok("GET", tm.msgs()+"?after_seq=5", nil, &p)
		if len(p.Items) != 2 || p.Items[0].Seq != 6 || p.Next != nil {
			t.Fatalf("after_seq page %+v", p.Items)
		}
	})
}

func TestEditDeleteReactEvents(t *testing.T) {
	t.Parallel()
	tm := newTeam(t, harnessOpts{})
	m := tm.post(tm.alice, "hello")
	mp := fmt.Sprintf("/api/messages/%d", m.ID)
	var edited persistence.Message
	tm.alice.ok("PATCH", mp, map[string]any{"content": "hello, world"}, &edited)
	if edited.Content != "hello, world" || edited.EditedAt == nil || edited.Seq != m.Seq {
		t.Fatalf("edited %+v", edited)
	}
	var r persistence.Reaction
	tm.bob.ok("PUT", mp+"/reactions/"+url.PathEscape("👍"), nil, &r)
	tm.bob.ok("PUT", mp+"/reactions/"+url.PathEscape("👍"), nil, &r) // idempotent
	tm.alice.ok("PUT", mp+"/reactions/"+url.PathEscape("👍"), nil, &r)
	if r.Count != 2 || !r.Me {
		t.Fatalf("reaction %+v", r)
	}
	var seen persistence.Message
	tm.bob.ok("GET", mp, nil, &seen)
	if len(seen.Reactions) != 1 || seen.Reactions[0].Count != 2 || !seen.Reactions[0].Me {
		t.Fatalf("bob sees %+v", seen.Reactions)
	}
	tm.bob.ok("DELETE", mp+"/reactions/"+url.PathEscape("👍"), nil, &r)
	if r.Count != 1 || r.Me {
		t.Fatalf("after removal %+v", r)
	}
	tm.alice.expect(204, "DELETE", mp, nil)
	tm.alice.expect(204, "DELETE", mp, nil) // already a tombstone
	tm.bob.ok("GET", mp, nil, &seen)
	if !seen.Deleted || seen.Content != "" || len(seen.Reactions) != 0 {
		t.Fatalf("tombstone %+v", seen)
	}
	tm.alice.expect(410, "PATCH", mp, map[string]any{"content": "too late"})
	tm.bob.expect(410, "PUT", mp+"/reactions/:x:", nil)
	// The replay path returns the current state.
	ms, err := tm.h.store.MessagesAfter(t.Context(), tm.gen, 0, 10)
	if err != nil || len(ms) != 1 || !ms[0].Deleted {
		t.Fatalf("MessagesAfter %v %+v", err, ms)
	}
	want := []string{"member.joined", "message", "message.edited", "reaction", "reaction", "reaction", "message.deleted"}
	if got := tm.h.events.channelTypes(tm.gen); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("events %v, want %v", got, want)
	}
}

func TestMentions(t *testing.T) {
	posters(t, func(t *testing.T, o harnessOpts) {
		tm := newTeam(t, o)
		carol := tm.h.user("carol") // not in the workspace: never mentioned
		var priv persistence.ChannelView
		tm.alice.ok("POST", fmt.Sprintf("/api/workspaces/%d/channels", tm.ws), map[string]any{"name": "secret", "type": "private"}, &priv)
		// bob cannot read the private channel: no mention there.
		tm.alice.ok("POST", fmt.Sprintf("/api/channels/%d/messages", priv.ID), map[string]any{"content": "@bob psst"}, nil)
		m := tm.post(tm.alice, "hey @BOB, @bob and @carol and @alice, mail bob@example.com")
		var list struct{ Items []persistence.MentionItem }
		tm.bob.ok("GET", "/api/mentions?unread=true", nil, &list)
		if len(list.Items) != 1 || list.Items[0].Message.ID != m.ID || list.Items[0].Read {
			t.Fatalf("bob's mentions %+v", list.Items)
		}
		for _, c := range []*client{tm.alice, carol} {
			var l struct{ Items []persistence.MentionItem }
			c.ok("GET", "/api/mentions", nil, &l)
			if len(l.Items) != 0 {
				t.Fatalf("%s has mentions %+v", c.name, l.Items)
			}
		}
		// System delivers mentions to its own sessions (internal/contract checks it does).
		// bob's queues also had his invitation (workspace.invited); the mention goes to the
		// mentions queue and, as it notifies, to the notifications queue.
		var mentionEvs []userEvent
		for _, e := range tm.h.events.userEvents(tm.bob.id) {
			if e.dest == persistence.QueueMentions || e.dest == persistence.QueueNotifications && strings.Contains(fmt.Sprint(e.ev), "mention") {
				mentionEvs = append(mentionEvs, e)
			}
		}
		if !tm.h.system && (len(mentionEvs) != 2 || mentionEvs[0].dest != persistence.QueueMentions || mentionEvs[1].dest != persistence.QueueNotifications) {
			t.Fatalf("mention events %+v", mentionEvs)
		}
		mid := list.Items[0].ID
		tm.alice.expect(404, "PUT", fmt.Sprintf("/api/mentions/%d/read", mid), nil) // not hers
		tm.bob.expect(204, "PUT", fmt.Sprintf("/api/mentions/%d/read", mid), nil)
		tm.bob.ok("GET", "/api/mentions?unread=true", nil, &list)
		if len(list.Items) != 0 {
			t.Fatalf("still unread %+v", list.Items)
		}
		tm.bob.ok("GET", "/api/mentions", nil, &list)
		if len(list.Items) != 1 || !list.Items[0].Read {
			t.Fatalf("all mentions %+v", list.Items)
		}
	})
}

func TestUnreadsSortOrders(t *testing.T) {
	t.Parallel()
	tm := newTeam(t, harnessOpts{})
	var second persistence.ChannelView
	tm.alice.ok("POST", fmt.Sprintf("/api/workspaces/%d/channels", tm.ws), map[string]any{"name": "second", "type": "public"}, &second)
	tm.bob.ok("POST", fmt.Sprintf("/api/channels/%d/members", second.ID), map[string]any{"userId": id(tm.bob.id)}, nil)
	a1 := tm.post(tm.alice, "a1")
	var b1 persistence.Message
	tm.alice.ok("POST", fmt.Sprintf("/api/channels/%d/messages", second.ID), map[string]any{"content": "b1"}, &b1)
	a2 := tm.post(tm.alice, "a2")
	tm.post(tm.bob, "own message, not unread") // also moves bob's marker in general past a1, a2
	type page struct {
		Items      []persistence.Message
		TotalCount int64
		Next       *string
	}
	var p page
	tm.bob.ok("GET", "/api/unreads", nil, &p)
	if p.TotalCount != 1 || len(p.Items) != 1 || p.Items[0].ID != b1.ID {
		t.Fatalf("after posting in general: %+v", p)
	}
	tm.bob.ok("PUT", fmt.Sprintf("/api/channels/%d/read", second.ID), map[string]any{"seq": 0}, nil)
	// A fresh reader: carol joins both channels with no markers.
	carol := tm.h.user("carol")
	var inv persistence.Invitation
	tm.alice.ok("POST", fmt.Sprintf("/api/workspaces/%d/invitations", tm.ws), map[string]any{"username": "carol"}, &inv)
	carol.ok("POST", "/api/invitations/accept", map[string]any{"token": inv.Token}, nil)
	carol.ok("POST", fmt.Sprintf("/api/channels/%d/members", second.ID), map[string]any{"userId": id(carol.id)}, nil)
	ids := func(p page) (out []int64) {
		for _, m := range p.Items {
			if m.UserID == tm.alice.id {
				out = append(out, m.ID)
			}
		}
		return out
	}
	carol.ok("GET", "/api/unreads?sort=oldest", nil, &p)
	if p.TotalCount != 4 || fmt.Sprint(ids(p)) != fmt.Sprint([]int64{a1.ID, b1.ID, a2.ID}) {
		t.Fatalf("oldest: %+v", p)
	}
	carol.ok("GET", "/api/unreads?sort=newest&limit=2", nil, &p)
	if len(p.Items) != 2 || p.Next == nil || p.Items[1].ID != a2.ID {
		t.Fatalf("newest: %+v", p)
	}
	carol.ok("GET", "/api/unreads?sort=newest&limit=2&after="+*p.Next, nil, &p)
	if len(p.Items) != 2 || p.Items[1].ID != a1.ID || p.Next != nil {
		t.Fatalf("newest page 2: %+v", p)
	}
	carol.ok("GET", "/api/unreads?sort=channel", nil, &p)
	if len(p.Items) != 4 {
		t.Fatalf("channel: %+v", p)
	}
	for i := 1; i < len(p.Items); i++ {
		a, b := p.Items[i-1], p.Items[i]
		if a.ChannelID > b.ChannelID || a.ChannelID == b.ChannelID && a.Seq > b.Seq {
			t.Fatalf("channel order broken at %d: %+v", i, p.Items)
		}
	}
}

func TestSearchOnlyReadableChannels(t *testing.T) {
	t.Parallel()
	tm := newTeam(t, harnessOpts{})
	var priv persistence.ChannelView
	tm.alice.ok("POST", fmt.Sprintf("/api/workspaces/%d/channels", tm.ws), map[string]any{"name": "secret", "type": "private"}, &priv)
	tm.alice.ok("POST", fmt.Sprintf("/api/channels/%d/messages", priv.ID), map[string]any{"content": "the launch code is banana"}, nil)
	pub := tm.post(tm.alice, "banana bread recipe")
	gone := tm.post(tm.alice, "banana split")
	tm.alice.expect(204, "DELETE", fmt.Sprintf("/api/messages/%d", gone.ID), nil)
	search := fmt.Sprintf("/api/workspaces/%d/search?q=", tm.ws)
	var p struct {
		Items []struct{ Message persistence.Message }
	}
	tm.bob.ok("GET", search+"banana", nil, &p)
	if len(p.Items) != 1 || p.Items[0].Message.ID != pub.ID {
		t.Fatalf("bob finds %+v", p.Items)
	}
	tm.alice.ok("GET", search+"banana", nil, &p)
	if len(p.Items) != 2 {
		t.Fatalf("alice finds %+v", p.Items)
	}
	tm.alice.ok("GET", search+url.QueryEscape(`banana -bread`), nil, &p)
	if len(p.Items) != 1 || p.Items[0].Message.ChannelID != priv.ID {
		t.Fatalf("websearch syntax: %+v", p.Items)
	}
}
