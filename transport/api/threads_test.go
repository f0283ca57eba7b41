package api_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/parley-chat/parley/persistence"
)

// The thread list takes at most 2 SQL queries for any page size (the reference project
// needed 1,101 for 100 threads), counted by a pgx query tracer.
func TestThreadListQueryCount(t *testing.T) {
	t.Parallel()
	tm := newTeam(t, harnessOpts{counts: true})
	carol := tm.h.user("carol")
	ctx := context.Background()
	roots := make([]persistence.NewMessage, 100)
	for i := range roots {
		roots[i] = persistence.NewMessage{UserID: tm.alice.id, Content: fmt.Sprintf("root %d", i)}
	}
	res, err := tm.h.store.AppendMessages(ctx, tm.gen, roots)
	if err != nil {
		t.Fatal(err)
	}
	var replies []persistence.NewMessage
	for i, r := range res {
		replies = append(replies, persistence.NewMessage{UserID: tm.bob.id, ParentID: r.Message.ID, Content: "re"})
		if i%2 == 0 {
			replies = append(replies, persistence.NewMessage{UserID: carol.id, ParentID: r.Message.ID, Content: "re 2"})
		}
	}
	if _, err := tm.h.store.AppendMessages(ctx, tm.gen, replies); err != nil {
		t.Fatal(err)
	}
	path := fmt.Sprintf("/api/channels/%d/threads?limit=100", tm.gen)
	tm.alice.ok("GET", path, nil, nil) // warm up: nothing cached but the caller
	before := tm.h.queries.n.Load()
	var page struct {
		Items []persistence.Thread
		Next  *string
	}
	tm.alice.ok("GET", path, nil, &page)
	if n := tm.h.queries.n.Load() - before; n > 2 {
		t.Fatalf("thread list of 100 took %d queries, want at most 2", n)
	}
	if len(page.Items) != 100 || page.Next != nil {
		t.Fatalf("%d threads, next %v", len(page.Items), page.Next)
	}
	// Most recent reply first: the last root's thread got the last reply.
	first := page.Items[0]
	if first.ID != res[99].Message.ID || first.ReplyCount != 1 || first.LastReplyAt == nil {
		t.Fatalf("first thread %+v", first)
	}
	last := page.Items[99]
	if last.ID != res[0].Message.ID || last.ReplyCount != 2 || len(last.Participants) != 2 ||
		last.Participants[0] != tm.bob.id || last.Participants[1] != carol.id {
		t.Fatalf("last thread %+v", last)
	}
	// Paging: 40 + 40 + 20.
	var p1, p2 struct {
		Items []persistence.Thread
		Next  *string
	}
	tm.alice.ok("GET", fmt.Sprintf("/api/channels/%d/threads?limit=40", tm.gen), nil, &p1)
	tm.alice.ok("GET", fmt.Sprintf("/api/channels/%d/threads?limit=40&after=%s", tm.gen, *p1.Next), nil, &p2)
	if len(p1.Items) != 40 || len(p2.Items) != 40 || p2.Items[0].ID != page.Items[40].ID {
		t.Fatalf("paging: %d, %d", len(p1.Items), len(p2.Items))
	}
}

func TestRepliesAndThreadRules(t *testing.T) {
	posters(t, func(t *testing.T, o harnessOpts) {
		tm := newTeam(t, o)
		root := tm.post(tm.alice, "root")
		var reply persistence.Message
		tm.bob.ok("POST", tm.msgs(), map[string]any{"content": "reply", "parentId": id(root.ID)}, &reply)
		if reply.ParentID == nil || *reply.ParentID != root.ID {
			t.Fatalf("reply %+v", reply)
		}
		// A reply to a reply is refused; so is a parent in another channel.
		tm.bob.expect(400, "POST", tm.msgs(), map[string]any{"content": "nested", "parentId": id(reply.ID)})
		var other persistence.ChannelView
		tm.alice.ok("POST", fmt.Sprintf("/api/workspaces/%d/channels", tm.ws), map[string]any{"name": "other", "type": "public"}, &other)
		tm.alice.expect(400, "POST", fmt.Sprintf("/api/channels/%d/messages", other.ID), map[string]any{"content": "x", "parentId": id(root.ID)})

		var replies struct{ Items []persistence.Message }
		tm.alice.ok("GET", fmt.Sprintf("/api/messages/%d/replies", root.ID), nil, &replies)
		if len(replies.Items) != 1 || replies.Items[0].ID != reply.ID {
			t.Fatalf("replies %+v", replies)
		}
		var got persistence.Message
		tm.alice.ok("GET", fmt.Sprintf("/api/messages/%d", root.ID), nil, &got)
		if got.ReplyCount != 1 || got.LastReplyAt == nil {
			t.Fatalf("root %+v", got)
		}
	})
}
