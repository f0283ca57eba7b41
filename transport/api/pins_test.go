package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/parley-chat/parley/persistence"
	"github.com/parley-chat/parley/transport/api"
)

// openWrites lifts the per-user limits on posts and writes, for tests that make many.
func openWrites() api.Config {
	open := api.Limit{Rate: 1e6, Burst: 1e6}
	return api.Config{Limits: api.Limits{Messages: open, Writes: open, Reactions: open}}
}

// TestPinHistoryReactionsPermissions: pinning is posting (409 in an archived channel);
// pins, history and who-reacted are reading, and a message whose channel the caller cannot
// read is 404, as if it did not exist (ADR 0042).
func TestPinHistoryReactionsPermissions(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	creator := w.users["creator"]
	postIn := func(ch string) int64 {
		var m persistence.Message
		creator.ok("POST", w.chp(ch, "/messages"), map[string]any{"content": "in " + ch}, &m)
		return m.ID
	}
	pub, priv := w.msgs["edit"], postIn("priv")
	creator.ok("PATCH", fmt.Sprintf("/api/messages/%d", priv), map[string]any{"content": "in priv, edited"}, nil)
	creator.ok("PUT", fmt.Sprintf("/api/messages/%d/reactions/:eyes:", priv), nil, nil)
	// An archived channel's message: archive after posting.
	var arch persistence.ChannelView
	creator.ok("POST", w.path("/channels"), map[string]any{"name": "arch2", "type": "public"}, &arch)
	var am persistence.Message
	creator.ok("POST", fmt.Sprintf("/api/channels/%d/messages", arch.ID), map[string]any{"content": "old"}, &am)
	creator.ok("PATCH", fmt.Sprintf("/api/channels/%d", arch.ID), map[string]any{"archived": true}, nil)

	msg := func(id int64, suffix string) string { return fmt.Sprintf("/api/messages/%d%s", id, suffix) }
	rows := []struct {
		name, method, path string
		want               [7]int // owner, admin, member, creator, guest, outsider, other
	}{
		{"pin in a public channel", "PUT", msg(pub, "/pin"), [7]int{200, 200, 200, 200, 200, 404, 404}},
		{"pin in a private channel", "PUT", msg(priv, "/pin"), [7]int{404, 404, 200, 200, 404, 404, 404}},
		{"pin in an archived channel", "PUT", msg(am.ID, "/pin"), [7]int{409, 409, 409, 409, 404, 404, 404}},
		{"list a public channel's pins", "GET", w.chp("pub", "/pins"), [7]int{200, 200, 200, 200, 200, 404, 404}},
		{"list a private channel's pins", "GET", w.chp("priv", "/pins"), [7]int{403, 403, 200, 200, 404, 404, 404}},
		{"a private message's history", "GET", msg(priv, "/history"), [7]int{404, 404, 200, 200, 404, 404, 404}},
		{"a public message's history", "GET", msg(pub, "/history"), [7]int{200, 200, 200, 200, 200, 404, 404}},
		{"a private message's reactions", "GET", msg(priv, "/reactions"), [7]int{404, 404, 200, 200, 404, 404, 404}},
		{"unpin in a private channel", "DELETE", msg(priv, "/pin"), [7]int{404, 404, 204, 204, 404, 404, 404}},
		{"unpin in a public channel", "DELETE", msg(pub, "/pin"), [7]int{204, 204, 204, 204, 204, 404, 404}},
	}
	for _, r := range rows {
		for i, a := range actors {
			if st, b := w.users[a].do(r.method, r.path, nil); st != r.want[i] {
				t.Errorf("%s as %s: %s %s = %d, want %d (%s)", r.name, a, r.method, r.path, st, r.want[i], b)
			}
		}
	}
	for _, bad := range []string{"/api/messages/x/pin", "/api/messages/0/history", "/api/messages/-1/reactions"} {
		method := "GET"
		if bad == "/api/messages/x/pin" {
			method = "PUT"
		}
		w.users["member"].expect(http.StatusBadRequest, method, bad, nil)
	}
	if n := w.h.count(`SELECT count(*) FROM pins`); n != 0 {
		t.Fatalf("%d pins left after every unpin and refusal", n)
	}
}

// TestPinsAreIdempotentAndAnnounced: pinning twice keeps one pin and announces it once
// (message.pinned with id and seq), unpinning twice likewise; the list has the message in
// full; a deleted message loses its pin and cannot be pinned again (410).
func TestPinsAreIdempotentAndAnnounced(t *testing.T) {
	t.Parallel()
	tm := newTeam(t, harnessOpts{})
	m := tm.post(tm.alice, "pin me")
	other := tm.post(tm.bob, "and me")
	pinPath := fmt.Sprintf("/api/messages/%d/pin", m.ID)
	var first, again persistence.Pin
	tm.bob.ok("PUT", pinPath, nil, &first)
	tm.alice.ok("PUT", pinPath, nil, &again)
	if first.MessageID != m.ID || first.Seq != m.Seq || first.ChannelID != tm.gen || first.PinnedBy != tm.bob.id {
		t.Fatalf("pin %+v of message %+v", first, m)
	}
	if again != first {
		t.Fatalf("second pin %+v, want the first %+v", again, first)
	}
	tm.alice.ok("PUT", fmt.Sprintf("/api/messages/%d/pin", other.ID), nil, nil)

	var pins api.Page[persistence.PinnedMessage]
	tm.bob.ok("GET", fmt.Sprintf("/api/channels/%d/pins", tm.gen), nil, &pins)
	if len(pins.Items) != 2 || pins.Items[0].Message.ID != other.ID || pins.Items[1].Message.ID != m.ID ||
		pins.Items[1].Message.Content != "pin me" || pins.Items[1].PinnedBy != tm.bob.id || pins.Next != nil {
		t.Fatalf("pins: %+v", pins)
	}

	tm.alice.expect(http.StatusNoContent, "DELETE", pinPath, nil)
	tm.alice.expect(http.StatusNoContent, "DELETE", pinPath, nil)
	pinned, unpinned := tm.pinEvents(m.ID)
	if len(pinned) != 1 || len(unpinned) != 1 {
		t.Fatalf("%d message.pinned and %d message.unpinned events, want 1 each", len(pinned), len(unpinned))
	}
	if ev := pinned[0]; ev.Seq != m.Seq || ev.ChannelID != tm.gen || ev.ByUserID != tm.bob.id || ev.PinnedAt == nil {
		t.Fatalf("message.pinned %+v", ev)
	}
	if ev := unpinned[0]; ev.Seq != m.Seq || ev.ByUserID != tm.alice.id || ev.PinnedAt != nil {
		t.Fatalf("message.unpinned %+v", ev)
	}

	// Deleting a pinned message drops its pin; a tombstone cannot be pinned.
	tm.bob.expect(http.StatusNoContent, "DELETE", fmt.Sprintf("/api/messages/%d", other.ID), nil)
	tm.bob.ok("GET", fmt.Sprintf("/api/channels/%d/pins", tm.gen), nil, &pins)
	if len(pins.Items) != 0 {
		t.Fatalf("pins after the deletion: %+v", pins.Items)
	}
	tm.bob.expect(http.StatusGone, "PUT", fmt.Sprintf("/api/messages/%d/pin", other.ID), nil)
	if n := tm.h.count(`SELECT count(*) FROM pins`); n != 0 {
		t.Fatalf("%d pins stored, want 0", n)
	}
}

// pinEvents returns the pin events recorded for message id.
func (tm *team) pinEvents(id int64) (pinned, unpinned []persistence.PinEvent) {
	tm.h.events.mu.Lock()
	defer tm.h.events.mu.Unlock()
	for _, e := range tm.h.events.channel {
		ev, ok := e.ev.(persistence.PinEvent)
		if !ok || ev.ID != id {
			continue
		}
		switch ev.Type {
		case persistence.EventMessagePinned:
			pinned = append(pinned, ev)
		case persistence.EventMessageUnpinned:
			unpinned = append(unpinned, ev)
		}
	}
	return pinned, unpinned
}

// TestPinsPerChannelAreBounded: the 101st pin of a channel is 409 and stores nothing, even
// when many arrive at once; unpinning one makes room.
func TestPinsPerChannelAreBounded(t *testing.T) {
	t.Parallel()
	tm := newTeam(t, harnessOpts{cfg: openWrites()})
	n := persistence.MaxPinsPerChannel + 20
	ids := make([]int64, n)
	for i := range ids {
		ids[i] = tm.post(tm.alice, fmt.Sprintf("m%d", i)).ID
	}
	for _, id := range ids[:persistence.MaxPinsPerChannel-5] {
		tm.alice.ok("PUT", fmt.Sprintf("/api/messages/%d/pin", id), nil, nil)
	}
	status := make(chan int, 25)
	for _, id := range ids[persistence.MaxPinsPerChannel-5:] {
		go func() {
			st, _ := tm.bob.do("PUT", fmt.Sprintf("/api/messages/%d/pin", id), nil)
			status <- st
		}()
	}
	ok, refused := 0, 0
	for range 25 {
		switch st := <-status; st {
		case http.StatusOK:
			ok++
		case http.StatusConflict:
			refused++
		default:
			t.Errorf("concurrent pin: %d", st)
		}
	}
	if got := tm.h.count(`SELECT count(*) FROM pins WHERE channel_id = $1`, tm.gen); got != int64(persistence.MaxPinsPerChannel) || ok != 5 || refused != 20 {
		t.Fatalf("%d pins stored, %d accepted, %d refused; want %d, 5, 20", got, ok, refused, persistence.MaxPinsPerChannel)
	}
	tm.alice.expect(http.StatusNoContent, "DELETE", fmt.Sprintf("/api/messages/%d/pin", ids[0]), nil)
	var last persistence.Pin
	for _, id := range ids[persistence.MaxPinsPerChannel-5:] {
		if st, b := tm.alice.do("PUT", fmt.Sprintf("/api/messages/%d/pin", id), nil); st == http.StatusOK {
			_ = json.Unmarshal(b, &last)
		}
	}
	if last.MessageID == 0 {
		t.Fatal("no room after an unpin")
	}
}

// TestEditHistory: every edit keeps the version it replaces, newest first, each with when
// it was written; at most MaxEditHistory are kept; a deletion removes them.
func TestEditHistory(t *testing.T) {
	t.Parallel()
	tm := newTeam(t, harnessOpts{cfg: openWrites()})
	m := tm.post(tm.alice, "v0")
	path := fmt.Sprintf("/api/messages/%d", m.ID)
	var hist []persistence.MessageVersion
	tm.bob.ok("GET", path+"/history", nil, &hist)
	if len(hist) != 0 {
		t.Fatalf("history of an unedited message: %+v", hist)
	}
	var e1, e2 persistence.Message
	tm.alice.ok("PATCH", path, map[string]any{"content": "v1"}, &e1)
	tm.alice.ok("PATCH", path, map[string]any{"content": "v2"}, &e2)
	tm.bob.ok("GET", path+"/history", nil, &hist)
	if len(hist) != 2 || hist[0].Content != "v1" || hist[1].Content != "v0" ||
		!hist[0].EditedAt.Equal(e1.EditedAt.Time) || !hist[1].EditedAt.Equal(m.CreatedAt.Time) {
		t.Fatalf("history %+v; created %v, first edit %v", hist, m.CreatedAt, e1.EditedAt)
	}
	var raw []map[string]any
	tm.bob.ok("GET", path+"/history", nil, &raw)
	if s, _ := raw[0]["editedAt"].(string); len(s) != len("2006-01-02T15:04:05.000Z") {
		t.Fatalf("editedAt %q: want exactly 3 fractional digits", s)
	}

	for i := 3; i <= persistence.MaxEditHistory+5; i++ {
		tm.alice.ok("PATCH", path, map[string]any{"content": fmt.Sprintf("v%d", i)}, nil)
	}
	tm.bob.ok("GET", path+"/history", nil, &hist)
	last := persistence.MaxEditHistory + 5
	if len(hist) != persistence.MaxEditHistory || hist[0].Content != fmt.Sprintf("v%d", last-1) ||
		hist[len(hist)-1].Content != fmt.Sprintf("v%d", last-persistence.MaxEditHistory) {
		t.Fatalf("bounded history: %d versions, newest %q, oldest %q", len(hist), hist[0].Content, hist[len(hist)-1].Content)
	}

	// An outsider, and a workspace member for a private channel they are not in, get 404.
	carol := tm.h.user("carol")
	carol.expect(http.StatusNotFound, "GET", path+"/history", nil)
	var priv persistence.ChannelView
	tm.alice.ok("POST", fmt.Sprintf("/api/workspaces/%d/channels", tm.ws), map[string]any{"name": "secret", "type": "private"}, &priv)
	var pm persistence.Message
	tm.alice.ok("POST", fmt.Sprintf("/api/channels/%d/messages", priv.ID), map[string]any{"content": "s0"}, &pm)
	tm.alice.ok("PATCH", fmt.Sprintf("/api/messages/%d", pm.ID), map[string]any{"content": "s1"}, nil)
	tm.bob.expect(http.StatusNotFound, "GET", fmt.Sprintf("/api/messages/%d/history", pm.ID), nil)
	tm.alice.expect(http.StatusNotFound, "GET", "/api/messages/123456789/history", nil)

	tm.alice.expect(http.StatusNoContent, "DELETE", path, nil)
	tm.bob.ok("GET", path+"/history", nil, &hist)
	if len(hist) != 0 || tm.h.count(`SELECT count(*) FROM message_versions WHERE message_id = $1`, m.ID) != 0 {
		t.Fatalf("a tombstone's history: %+v", hist)
	}
}

// TestReactionUsers: GET …/reactions names who reacted, in the order they did, at most
// MaxReactionUsers per emoji while count counts everyone.
func TestReactionUsers(t *testing.T) {
	t.Parallel()
	tm := newTeam(t, harnessOpts{cfg: openReactions()})
	m := tm.post(tm.alice, "react")
	path := fmt.Sprintf("/api/messages/%d/reactions", m.ID)
	tm.bob.ok("PUT", path+"/👍", nil, nil)
	tm.alice.ok("PUT", path+"/👍", nil, nil)
	tm.bob.ok("PUT", path+"/:tada:", nil, nil)
	var rs []persistence.ReactionUsers
	tm.alice.ok("GET", path, nil, &rs)
	if len(rs) != 2 || rs[0].Emoji != "👍" || rs[0].Count != 2 || len(rs[0].UserIDs) != 2 ||
		rs[0].UserIDs[0] != tm.bob.id || rs[0].UserIDs[1] != tm.alice.id ||
		rs[1].Emoji != ":tada:" || rs[1].Count != 1 || len(rs[1].UserIDs) != 1 || rs[1].UserIDs[0] != tm.bob.id {
		t.Fatalf("reactions %+v", rs)
	}
	var raw []map[string]any
	tm.alice.ok("GET", path, nil, &raw)
	if ids, _ := raw[0]["userIds"].([]any); len(ids) != 2 || ids[0] != id(tm.bob.id) {
		t.Fatalf("userIds %v: want decimal strings", raw[0]["userIds"])
	}

	// 60 reactors: the first 50 are named.
	ctx := context.Background()
	for i := range 58 {
		u := tm.h.user(fmt.Sprintf("fan%02d", i))
		if _, err := tm.h.store.Pool().Exec(ctx, `INSERT INTO reactions (message_id, emoji, user_id, created_at)
			VALUES ($1, '👍', $2, now() + make_interval(secs => $3))`, m.ID, u.id, i+1); err != nil {
			t.Fatal(err)
		}
	}
	tm.alice.ok("GET", path, nil, &rs)
	if rs[0].Count != 60 || len(rs[0].UserIDs) != persistence.MaxReactionUsers || rs[0].UserIDs[0] != tm.bob.id {
		t.Fatalf("60 reactors: count %d, %d named, first %d", rs[0].Count, len(rs[0].UserIDs), rs[0].UserIDs[0])
	}
	tm.alice.expect(http.StatusNoContent, "DELETE", fmt.Sprintf("/api/messages/%d", m.ID), nil)
	tm.alice.ok("GET", path, nil, &rs)
	if len(rs) != 0 {
		t.Fatalf("a tombstone's reactions: %+v", rs)
	}
}

// TestConcurrentEditsKeepEveryVersion: edits of one message at once take turns on its row,
// so each keeps the version it replaced and none fails on the version's number.
func TestConcurrentEditsKeepEveryVersion(t *testing.T) {
	t.Parallel()
	tm := newTeam(t, harnessOpts{cfg: openWrites()})
	m := tm.post(tm.alice, "v0")
	path := fmt.Sprintf("/api/messages/%d", m.ID)
	const n = 12
	status := make(chan int, n)
	for i := range n {
		go func() {
			st, _ := tm.alice.do("PATCH", path, map[string]any{"content": fmt.Sprintf("e%d", i)})
			status <- st
		}()
	}
	for range n {
		if st := <-status; st != http.StatusOK {
			t.Errorf("concurrent edit: %d", st)
		}
	}
	var hist []persistence.MessageVersion
	tm.bob.ok("GET", path+"/history", nil, &hist)
	var cur persistence.Message
	tm.bob.ok("GET", path, nil, &cur)
	seen := map[string]bool{cur.Content: true}
	for _, v := range hist {
		seen[v.Content] = true
	}
	if len(hist) != n || !seen["v0"] || len(seen) != n+1 {
		t.Fatalf("%d versions %+v and current %q: want every one of v0 and the %d edits once", len(hist), hist, cur.Content, n)
	}
}
