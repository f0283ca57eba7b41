package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/parley-chat/parley/persistence"
)

// team is a workspace with alice (owner) and bob (member), both in general.
type team struct {
	h          *harness
	alice, bob *client
	ws, gen    int64
}

func newTeam(t *testing.T, o harnessOpts) *team {
	h := newHarness(t, o)
	tm := &team{h: h, alice: h.user("alice"), bob: h.user("bob")}
	var w persistence.Workspace
	tm.alice.ok("POST", "/api/workspaces", map[string]any{"name": "Acme"}, &w)
	tm.ws = w.ID
	var inv persistence.Invitation
	tm.alice.ok("POST", fmt.Sprintf("/api/workspaces/%d/invitations", w.ID), map[string]any{"username": "bob"}, &inv)
	tm.bob.ok("POST", "/api/invitations/accept", map[string]any{"token": inv.Token}, nil)
	var chans struct{ Items []persistence.ChannelView }
	tm.alice.ok("GET", fmt.Sprintf("/api/workspaces/%d/channels", w.ID), nil, &chans)
	tm.gen = chans.Items[0].ID
	return tm
}

func (tm *team) msgs() string { return fmt.Sprintf("/api/channels/%d/messages", tm.gen) }

func (tm *team) post(c *client, content string) persistence.Message {
	var m persistence.Message
	c.ok("POST", tm.msgs(), map[string]any{"content": content}, &m)
	return m
}

func TestPostIsIdempotentWithClientMsgID(t *testing.T) {
	posters(t, func(t *testing.T, o harnessOpts) {
		tm := newTeam(t, o)
		body := map[string]any{"content": "once", "clientMsgId": "c-1"}
		var first, second persistence.Message
		if st := tm.alice.ok("POST", tm.msgs(), body, &first); st != http.StatusCreated {
			t.Fatalf("first post: %d", st)
		}
		if st := tm.alice.ok("POST", tm.msgs(), body, &second); st != http.StatusOK {
			t.Fatalf("retry: %d, want 200", st)
		}
		if first.ID != second.ID || second.Seq != 1 || second.ClientMsgID != "c-1" {
			t.Fatalf("retry returned %+v, want %+v", second, first)
		}
		// Another user's identical clientMsgId is another message.
		var bobs persistence.Message
		tm.bob.ok("POST", tm.msgs(), body, &bobs)
		if bobs.ID == first.ID || bobs.Seq != 2 {
			t.Fatalf("bob's message %+v", bobs)
		}
		if n := tm.h.count(`SELECT count(*) FROM messages`); n != 2 {
			t.Fatalf("%d messages stored, want 2", n)
		}
		if n := tm.h.count(`SELECT last_seq FROM channels WHERE id = $1`, tm.gen); n != 2 {
			t.Fatalf("last_seq %d, want 2", n)
		}
	})
}

func TestConcurrentPostsGetGaplessSeq(t *testing.T) {
	posters(t, func(t *testing.T, o harnessOpts) {
		tm := newTeam(t, o)
		const writers, each = 6, 15
		var wg sync.WaitGroup
		seqs := make(chan int64, writers*each)
		for w := range writers {
			c := tm.alice
			if w%2 == 1 {
				c = tm.bob
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range each {
					st, b := c.do("POST", tm.msgs(), map[string]any{"content": fmt.Sprintf("w%d m%d", w, i)})
					if st != http.StatusCreated {
						t.Errorf("post: %d %s", st, b)
						return
					}
					var m persistence.Message
					if err := jsonUnmarshal(b, &m); err != nil {
						t.Error(err)
						return
					}
					seqs <- m.Seq
				}
			}()
		}
		wg.Wait()
		close(seqs)
		seen := map[int64]bool{}
		for s := range seqs {
			if seen[s] {
				t.Fatalf("seq %d handed out twice", s)
			}
			seen[s] = true
		}
		for s := int64(1); s <= writers*each; s++ {
			if !seen[s] {
				t.Fatalf("seq %d missing: not gapless", s)
			}
		}
		if n := tm.h.count(`SELECT last_seq FROM channels WHERE id = $1`, tm.gen); n != writers*each {
			t.Fatalf("last_seq %d", n)
		}
	})
}

func TestReadMarkersNeverMoveBackwards(t *testing.T) {
	posters(t, func(t *testing.T, o harnessOpts) {
		tm := newTeam(t, o)
		read := fmt.Sprintf("/api/channels/%d/read", tm.gen)
		channel := func(c *client) persistence.ChannelView {
			var v persistence.ChannelView
			c.ok("GET", fmt.Sprintf("/api/channels/%d", tm.gen), nil, &v)
			return v
		}
		for i := range 5 {
			tm.post(tm.alice, fmt.Sprintf("m%d", i))
		}
		// Posting advanced alice's own marker; bob has no receipt yet (lastReadSeq 0).
		if v := channel(tm.alice); v.LastReadSeq != 5 || v.UnreadCount != 0 {
			t.Fatalf("alice after posting: %+v", v)
		}
		if v := channel(tm.bob); v.LastReadSeq != 0 || v.UnreadCount != 5 || v.LastSeq != 5 {
			t.Fatalf("bob before reading: %+v", v)
		}
		var m struct{ LastReadSeq, UnreadCount int64 }
		tm.bob.ok("PUT", read, map[string]any{"seq": 3}, &m)
		if m.LastReadSeq != 3 || m.UnreadCount != 2 {
			t.Fatalf("mark 3: %+v", m)
		}
		tm.bob.ok("PUT", read, map[string]any{"seq": 1}, &m)
		if m.LastReadSeq != 3 {
			t.Fatalf("marker moved backwards to %d", m.LastReadSeq)
		}
		tm.bob.ok("PUT", read, map[string]any{"seq": 1000}, &m)
		if m.LastReadSeq != 5 || m.UnreadCount != 0 {
			t.Fatalf("marker beyond last seq: %+v, want clamped to 5", m)
		}
		// Alice posts again: bob has one unread; bob posts: his marker moves to his message.
		tm.post(tm.alice, "m5")
		if v := channel(tm.bob); v.UnreadCount != 1 {
			t.Fatalf("bob: %+v", v)
		}
		tm.post(tm.bob, "reply")
		if v := channel(tm.bob); v.LastReadSeq != 7 || v.UnreadCount != 0 {
			t.Fatalf("bob after posting: %+v", v)
		}
		var receipts map[string]int64
		tm.alice.ok("GET", fmt.Sprintf("/api/channels/%d/read-receipts", tm.gen), nil, &receipts)
		if receipts[id(tm.bob.id)] != 7 || receipts[id(tm.alice.id)] != 6 {
			t.Fatalf("receipts %v", receipts)
		}
		// System delivers new messages to its own sessions, not to the recorder.
		if got := tm.h.events.channelTypes(tm.gen); !contains(got, persistence.EventRead) || (!tm.h.system && !contains(got, persistence.EventMessage)) {
			t.Fatalf("events %v", got)
		}
		tm.bob.expect(400, "PUT", read, map[string]any{"seq": -1})
		tm.bob.expect(400, "PUT", read, map[string]any{})
	})
}

// Bad input is a 400 problem and writes nothing.
func TestBadInputIs400AndWritesNothing(t *testing.T) {
	posters(t, func(t *testing.T, o harnessOpts) {
		tm := newTeam(t, o)
		tm.post(tm.alice, "first")
		before := tm.h.count(`SELECT count(*) FROM messages`) + tm.h.count(`SELECT count(*) FROM channels`) + tm.h.count(`SELECT count(*) FROM workspaces`)
		cases := []struct {
			name, method, path string
			body               any
			want               int
		}{
			{"malformed JSON", "POST", tm.msgs(), `{"content": "x"`, 400},
			{"not JSON", "POST", tm.msgs(), `content=x`, 400},
			{"two JSON values", "POST", tm.msgs(), `{"content":"a"} {"content":"b"}`, 400},
			{"empty body", "POST", tm.msgs(), ``, 400},
			{"array body", "POST", tm.msgs(), `[]`, 400},
			{"unknown field", "POST", tm.msgs(), map[string]any{"content": "x", "channel": 1}, 400},
			{"wrong type", "POST", tm.msgs(), map[string]any{"content": 42}, 400},
			{"blank content", "POST", tm.msgs(), map[string]any{"content": " \n\t"}, 400},
			{"oversized content", "POST", tm.msgs(), map[string]any{"content": strings.Repeat("é", 4001)}, 400},
			{"numeric parent id", "POST", tm.msgs(), `{"content":"x","parentId":12}`, 400},
			{"bad parent id", "POST", tm.msgs(), map[string]any{"content": "x", "parentId": "12a"}, 400},
			{"negative parent id", "POST", tm.msgs(), map[string]any{"content": "x", "parentId": "-3"}, 400},
			{"unknown parent", "POST", tm.msgs(), map[string]any{"content": "x", "parentId": "12345"}, 400},
			{"long clientMsgId", "POST", tm.msgs(), map[string]any{"content": "x", "clientMsgId": strings.Repeat("c", 65)}, 400},
			{"bad channel id", "POST", "/api/channels/abc/messages", map[string]any{"content": "x"}, 400},
			{"overflowing channel id", "POST", "/api/channels/99999999999999999999/messages", map[string]any{"content": "x"}, 400},
			{"zero channel id", "POST", "/api/channels/0/messages", map[string]any{"content": "x"}, 400},
			{"missing channel", "POST", "/api/channels/123/messages", map[string]any{"content": "x"}, 404},
			{"body too large", "POST", tm.msgs(), `{"content":"` + strings.Repeat("a", 1<<20) + `"}`, 413},
			{"bad limit", "GET", tm.msgs() + "?limit=0", nil, 400},
			{"huge limit", "GET", tm.msgs() + "?limit=101", nil, 400},
			{"both cursors", "GET", tm.msgs() + "?before_seq=1&after_seq=1", nil, 400},
			{"bad workspace name", "POST", "/api/workspaces", map[string]any{"name": ""}, 400},
			{"bad channel name", "POST", fmt.Sprintf("/api/workspaces/%d/channels", tm.ws), map[string]any{"name": "No Spaces", "type": "public"}, 400},
			{"bad channel type", "POST", fmt.Sprintf("/api/workspaces/%d/channels", tm.ws), map[string]any{"name": "x", "type": "secret"}, 400},
			{"long topic", "POST", fmt.Sprintf("/api/workspaces/%d/channels", tm.ws), map[string]any{"name": "x", "type": "public", "topic": strings.Repeat("t", 251)}, 400},
			{"bad role", "POST", fmt.Sprintf("/api/workspaces/%d/invitations", tm.ws), map[string]any{"username": "zed", "role": "king"}, 400},
			{"invite nobody", "POST", fmt.Sprintf("/api/workspaces/%d/invitations", tm.ws), map[string]any{"role": "member"}, 400},
			{"search without q", "GET", fmt.Sprintf("/api/workspaces/%d/search", tm.ws), nil, 400},
			{"search too long", "GET", fmt.Sprintf("/api/workspaces/%d/search?q=%s", tm.ws, strings.Repeat("q", 201)), nil, 400},
			{"bad unread sort", "GET", "/api/unreads?sort=random", nil, 400},
			{"bad emoji", "PUT", "/api/messages/1/reactions/a%20b", nil, 400},
		}
		for _, tc := range cases {
			st, b := tm.alice.do(tc.method, tc.path, tc.body)
			if st != tc.want {
				t.Errorf("%s: %d, want %d (%s)", tc.name, st, tc.want, b)
				continue
			}
			var p struct{ Code string }
			if err := jsonUnmarshal(b, &p); err != nil || p.Code == "" {
				t.Errorf("%s: no problem code in %s", tc.name, b)
			}
			if tc.want == 400 && p.Code != "validation_failed" {
				t.Errorf("%s: code %q", tc.name, p.Code)
			}
		}
		after := tm.h.count(`SELECT count(*) FROM messages`) + tm.h.count(`SELECT count(*) FROM channels`) + tm.h.count(`SELECT count(*) FROM workspaces`)
		if after != before {
			t.Fatalf("bad input wrote rows: %d before, %d after", before, after)
		}
		// 4,000 characters of multi-byte text is fine.
		tm.alice.expect(201, "POST", tm.msgs(), map[string]any{"content": strings.Repeat("é", 4000)})
	})
}
