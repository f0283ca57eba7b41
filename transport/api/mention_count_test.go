package api_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/parley-chat/parley/persistence"
)

// mentionCount: in a channel, the caller's unread mentions (above their marker, not marked
// read); in a DM, every unread message by someone else (deleted ones aside).
func TestMentionCount(t *testing.T) {
	t.Parallel()
	tm := newDMTeam(t)
	counts := func(c *client, cid int64) (unread, mentions int64) {
		t.Helper()
		v, ok := viewOf(tm.channels(c), cid)
		if !ok {
			t.Fatalf("%s does not list %d", c.name, cid)
		}
		var one persistence.ChannelView
		c.ok("GET", fmt.Sprintf("/api/channels/%d", cid), nil, &one)
		if one.MentionCount != v.MentionCount || one.UnreadCount != v.UnreadCount {
			t.Fatalf("GET channel %+v, list %+v", one, v)
		}
		return v.UnreadCount, v.MentionCount
	}
	want := func(c *client, cid, unread, mentions int64) {
		t.Helper()
		if u, m := counts(c, cid); u != unread || m != mentions {
			t.Fatalf("%s in %d: unread %d mentions %d, want %d and %d", c.name, cid, u, m, unread, mentions)
		}
	}

	// A channel.
	tm.bob.ok("POST", tm.msgs(), map[string]any{"content": "@alice look"}, nil)
	tm.bob.ok("POST", tm.msgs(), map[string]any{"content": "plain"}, nil)
	m3 := tm.post(tm.bob, "@alice and @carol again")
	want(tm.alice, tm.gen, 3, 2)
	want(tm.carol, tm.gen, 3, 1)
	want(tm.bob, tm.gen, 0, 0)
	var ms struct{ Items []persistence.MentionItem }
	tm.alice.ok("GET", "/api/mentions?unread=true", nil, &ms)
	tm.alice.ok("PUT", fmt.Sprintf("/api/mentions/%d/read", ms.Items[len(ms.Items)-1].ID), nil, nil) // the oldest: "@alice look"
	want(tm.alice, tm.gen, 3, 1)
	tm.alice.ok("PUT", fmt.Sprintf("/api/channels/%d/read", tm.gen), map[string]any{"seq": m3.Seq - 1}, nil)
	want(tm.alice, tm.gen, 1, 1)
	tm.alice.ok("PUT", fmt.Sprintf("/api/channels/%d/read", tm.gen), map[string]any{"seq": m3.Seq}, nil)
	want(tm.alice, tm.gen, 0, 0)

	// A DM: every unread message by the other counts, a mention or not; a deleted one not.
	dm := tm.open(tm.bob, http.StatusCreated, tm.alice)
	path := fmt.Sprintf("/api/channels/%d/messages", dm.ID)
	var last persistence.Message
	for _, s := range []string{"one", "two @alice", "three", "four"} {
		tm.bob.ok("POST", path, map[string]any{"content": s}, &last)
	}
	tm.bob.expect(http.StatusNoContent, "DELETE", fmt.Sprintf("/api/messages/%d", last.ID), nil)
	want(tm.alice, dm.ID, 4, 3)
	want(tm.bob, dm.ID, 0, 0)
	// Posting moves the poster's marker: all read.
	tm.alice.ok("POST", path, map[string]any{"content": "seen"}, nil)
	want(tm.alice, dm.ID, 0, 0)
	want(tm.bob, dm.ID, 1, 1)
}

// mentionCount is counted above the newest marker: the cached one when PostgreSQL's lags
// (the receipt pipeline), in the channel list and in GET /api/channels/{cid}.
func TestMentionCountAboveTheCachedMarker(t *testing.T) {
	t.Parallel()
	m := newMarkers(t)
	tm := newTeam(t, harnessOpts{markerCache: m, readMarkers: cacheOnly{m}})
	for _, s := range []string{"@bob one", "plain", "@bob three", "@bob four"} {
		tm.post(tm.alice, s)
	}
	bobSees := func() (list, one persistence.ChannelView) {
		t.Helper()
		var page struct{ Items []persistence.ChannelView }
		tm.bob.ok("GET", fmt.Sprintf("/api/workspaces/%d/channels", tm.ws), nil, &page)
		list, _ = viewOf(page.Items, tm.gen)
		tm.bob.ok("GET", fmt.Sprintf("/api/channels/%d", tm.gen), nil, &one)
		return list, one
	}
	if l, o := bobSees(); l.MentionCount != 3 || o.MentionCount != 3 {
		t.Fatalf("before reading: %d and %d mentions, want 3", l.MentionCount, o.MentionCount)
	}
	if marker, _ := tm.markRead(3); marker != 3 {
		t.Fatalf("marker %d", marker)
	}
	if stored := tm.h.count(`SELECT count(*) FROM read_receipts WHERE user_id = $1 AND channel_id = $2`, tm.bob.id, tm.gen); stored != 0 {
		t.Fatal("PostgreSQL has the marker: the test needs it only in the cache")
	}
	if l, o := bobSees(); l.MentionCount != 1 || o.MentionCount != 1 || l.UnreadCount != 1 {
		t.Fatalf("after reading to 3 (cache only): list %+v, one %+v, want 1 mention", l, o)
	}
}
