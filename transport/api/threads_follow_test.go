package api_test

import (
	"fmt"
	"net/http"
	"slices"
	"testing"

	"github.com/parley-chat/parley/persistence"
)

type followedPage struct {
	Items []persistence.FollowedThread
	Next  *string
}

// reply posts content as a reply to root in channel ch.
func (tm *team) reply(c *client, ch, root int64, content string) persistence.Message {
	tm.h.t.Helper()
	var m persistence.Message
	c.ok("POST", fmt.Sprintf("/api/channels/%d/messages", ch), map[string]any{"content": content, "parentId": id(root)}, &m)
	return m
}

// followed returns every followed thread of c (all pages of limit), by root id.
func followed(c *client, query string, limit int) (map[int64]persistence.FollowedThread, []int64) {
	c.h.t.Helper()
	out := map[int64]persistence.FollowedThread{}
	var order []int64
	cursor := ""
	for range 1000 {
		var p followedPage
		c.ok("GET", fmt.Sprintf("/api/threads?limit=%d%s%s", limit, query, cursor), nil, &p)
		for _, t := range p.Items {
			if _, dup := out[t.Root.ID]; dup {
				c.h.t.Fatalf("thread %d listed twice", t.Root.ID)
			}
			out[t.Root.ID] = t
			order = append(order, t.Root.ID)
		}
		if p.Next == nil {
			return out, order
		}
		cursor = "&cursor=" + *p.Next
	}
	c.h.t.Fatal("endless thread list")
	return nil, nil
}

// Who follows: the root's author and each replier from the first reply, the mentioned;
// unread replies are the live replies by others above the thread marker; thread-read never
// moves back; unfollow sticks against mentions but not against one's own reply.
func TestFollowedThreads(t *testing.T) {
	t.Parallel()
	tm := newTeam(t, harnessOpts{})
	carol := tm.join("carol", "member")
	root := tm.post(tm.alice, "a question")
	if ts, _ := followed(tm.alice, "", 10); len(ts) != 0 {
		t.Fatalf("a root without replies is listed: %v", ts)
	}
	r1 := tm.reply(tm.bob, tm.gen, root.ID, "an answer")
	r2 := tm.reply(tm.bob, tm.gen, root.ID, "and @carol knows more")

	ts, _ := followed(tm.alice, "", 10)
	got := ts[root.ID]
	if len(ts) != 1 || got.ReplyCount != 2 || got.UnreadReplies != 2 || got.LastReplySeq != r2.Seq ||
		!slices.Equal(got.Participants, persistence.IDList{tm.bob.id}) || got.Root.Content != "a question" {
		t.Fatalf("alice's threads: %+v", ts)
	}
	if ts, _ := followed(tm.bob, "", 10); ts[root.ID].UnreadReplies != 0 {
		t.Fatalf("bob's own replies are unread to him: %+v", ts)
	}
	if ts, _ := followed(carol, "", 10); ts[root.ID].UnreadReplies != 2 {
		t.Fatalf("mentioned carol does not follow with 2 unread: %+v", ts)
	}

	// thread.updated went to alice (and carol for the second reply), never to bob.
	if evs := ofType(tm.notifications(tm.alice.id), persistence.EventThreadUpdated); len(evs) != 2 ||
		evs[1]["rootId"] != id(root.ID) || evs[1]["unreadReplies"] != float64(2) || evs[1]["replyCount"] != float64(2) {
		t.Fatalf("alice's thread.updated: %v", evs)
	}
	if evs := ofType(tm.notifications(tm.bob.id), persistence.EventThreadUpdated); len(evs) != 0 {
		t.Fatalf("the replier got thread.updated: %v", evs)
	}

	// Reading: never backwards, clamped, counts follow.
	var rd struct {
		LastReadSeq   int64
		UnreadReplies int64
	}
	readPath := fmt.Sprintf("/api/messages/%d/thread-read", root.ID)
	tm.alice.ok("PUT", readPath, map[string]any{"seq": r1.Seq}, &rd)
	if rd.LastReadSeq != r1.Seq || rd.UnreadReplies != 1 {
		t.Fatalf("after reading r1: %+v", rd)
	}
	tm.alice.ok("PUT", readPath, map[string]any{"seq": 0}, &rd)
	if rd.LastReadSeq != r1.Seq {
		t.Fatalf("the marker moved back: %+v", rd)
	}
	if ts, _ := followed(tm.alice, "&unread=true", 10); ts[root.ID].UnreadReplies != 1 {
		t.Fatalf("unread list: %+v", ts)
	}
	tm.alice.ok("PUT", readPath, map[string]any{"seq": 1 << 40}, &rd)
	if rd.LastReadSeq >= 1<<40 || rd.UnreadReplies != 0 {
		t.Fatalf("not clamped: %+v", rd)
	}
	if ts, _ := followed(tm.alice, "&unread=true", 10); len(ts) != 0 {
		t.Fatalf("read thread still unread: %+v", ts)
	}
	// A deleted reply is not unread.
	r3 := tm.reply(tm.bob, tm.gen, root.ID, "oops")
	if ts, _ := followed(tm.alice, "&unread=true", 10); ts[root.ID].UnreadReplies != 1 {
		t.Fatalf("after r3: %+v", ts)
	}
	tm.bob.expect(http.StatusNoContent, "DELETE", fmt.Sprintf("/api/messages/%d", r3.ID), nil)
	if ts, _ := followed(tm.alice, "&unread=true", 10); len(ts) != 0 {
		t.Fatalf("a deleted reply counts as unread: %+v", ts)
	}

	// Unfollow sticks against a mention, not against replying.
	followPath := fmt.Sprintf("/api/messages/%d/follow", root.ID)
	carol.ok("DELETE", followPath, nil, nil)
	tm.reply(tm.bob, tm.gen, root.ID, "@carol again")
	if ts, _ := followed(carol, "", 10); len(ts) != 0 {
		t.Fatalf("a mention undid carol's unfollow: %+v", ts)
	}
	tm.reply(carol, tm.gen, root.ID, "fine, I'm in")
	if ts, _ := followed(carol, "", 10); len(ts) != 1 {
		t.Fatalf("replying did not follow again: %+v", ts)
	}
	// Following by hand.
	dave := tm.join("dave", "member")
	dave.ok("PUT", followPath, nil, nil)
	if ts, _ := followed(dave, "", 10); ts[root.ID].UnreadReplies != 4 || ts[root.ID].ReplyCount != 5 { // r3 is deleted
		t.Fatalf("dave by hand: %+v", ts)
	}

	// Bad input: a clear error, nothing changed.
	tm.alice.expect(http.StatusBadRequest, "PUT", fmt.Sprintf("/api/messages/%d/follow", r1.ID), nil)
	tm.alice.expect(http.StatusBadRequest, "PUT", fmt.Sprintf("/api/messages/%d/thread-read", r1.ID), map[string]any{"seq": 1})
	tm.alice.expect(http.StatusBadRequest, "PUT", readPath, map[string]any{"seq": -1})
	tm.alice.expect(http.StatusBadRequest, "PUT", readPath, map[string]any{})
	tm.alice.expect(http.StatusBadRequest, "GET", "/api/threads?cursor=nope", nil)
	tm.alice.expect(http.StatusBadRequest, "GET", "/api/threads?unread=maybe", nil)
	tm.alice.expect(http.StatusBadRequest, "GET", "/api/threads?limit=0", nil)
	tm.alice.expect(http.StatusNotFound, "PUT", "/api/messages/12345/follow", nil)
	stranger := tm.h.user("mallory")
	stranger.expect(http.StatusNotFound, "PUT", followPath, nil)
	stranger.expect(http.StatusNotFound, "PUT", readPath, map[string]any{"seq": 3})
	if n := tm.h.count(`SELECT count(*) FROM thread_follows WHERE user_id = $1`, stranger.id); n != 0 {
		t.Fatalf("a refused follow wrote %d rows", n)
	}
}

// Paging by cursor: most recent reply first, every thread once, across workspaces.
func TestFollowedThreadsPaging(t *testing.T) {
	t.Parallel()
	tm := newTeam(t, harnessOpts{})
	var w persistence.Workspace
	tm.bob.ok("POST", "/api/workspaces", map[string]any{"name": "Other"}, &w)
	var chans struct{ Items []persistence.ChannelView }
	tm.bob.ok("GET", fmt.Sprintf("/api/workspaces/%d/channels", w.ID), nil, &chans)
	other := chans.Items[0].ID
	var want []int64 // newest reply last
	for i := range 7 {
		ch := tm.gen
		if i%2 == 1 {
			ch = other
		}
		var root persistence.Message
		tm.bob.ok("POST", fmt.Sprintf("/api/channels/%d/messages", ch), map[string]any{"content": fmt.Sprintf("root %d", i)}, &root)
		if ch == tm.gen {
			tm.reply(tm.alice, ch, root.ID, "re")
		} else {
			tm.reply(tm.bob, ch, root.ID, "re")
		}
		want = append(want, root.ID)
	}
	slices.Reverse(want)
	_, order := followed(tm.bob, "", 3)
	if !slices.Equal(order, want) {
		t.Fatalf("order %v, want %v", order, want)
	}
	_, unread := followed(tm.bob, "&unread=true", 2)
	if len(unread) != 4 { // alice's replies in general; bob's own in his workspace are read
		t.Fatalf("unread threads %v", unread)
	}
}

// A member removed from a private channel loses its threads from the list at once (the
// list checks access in its query, no cache), and gets them back when re-added.
func TestFollowedThreadsAccess(t *testing.T) {
	t.Parallel()
	tm := newTeam(t, harnessOpts{})
	carol := tm.join("carol", "member")
	priv := tm.channel(tm.alice, "secret", "private")
	tm.alice.ok("POST", fmt.Sprintf("/api/channels/%d/members", priv), map[string]any{"userId": id(carol.id)}, nil)
	var root persistence.Message
	tm.alice.ok("POST", fmt.Sprintf("/api/channels/%d/messages", priv), map[string]any{"content": "plans"}, &root)
	tm.reply(carol, priv, root.ID, "noted")
	pub := tm.post(tm.alice, "public root")
	tm.reply(carol, tm.gen, pub.ID, "me too")
	tm.reply(tm.alice, priv, root.ID, "more plans")
	if ts, _ := followed(carol, "", 10); len(ts) != 2 {
		t.Fatalf("carol's threads before: %+v", ts)
	}
	tm.alice.expect(http.StatusNoContent, "DELETE", fmt.Sprintf("/api/channels/%d/members/%d", priv, carol.id), nil)
	ts, _ := followed(carol, "", 10)
	if _, ok := ts[root.ID]; ok || len(ts) != 1 {
		t.Fatalf("carol still lists the private thread: %+v", ts)
	}
	carol.expect(http.StatusNotFound, "PUT", fmt.Sprintf("/api/messages/%d/thread-read", root.ID), map[string]any{"seq": 1})
	// Nor is she told of new replies.
	before := len(ofType(tm.notifications(carol.id), persistence.EventThreadUpdated))
	tm.reply(tm.alice, priv, root.ID, "after she left")
	if n := len(ofType(tm.notifications(carol.id), persistence.EventThreadUpdated)); n != before {
		t.Fatalf("a removed member got thread.updated")
	}
	tm.alice.ok("POST", fmt.Sprintf("/api/channels/%d/members", priv), map[string]any{"userId": id(carol.id)}, nil)
	if ts, _ := followed(carol, "", 10); ts[root.ID].UnreadReplies != 2 {
		t.Fatalf("re-added carol: %+v", ts)
	}
}
