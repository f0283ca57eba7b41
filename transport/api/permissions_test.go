package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/parley-chat/parley/persistence"
)

// The actors of the permission matrix: the four workspace roles (member twice: once as the
// creator of the channels under test), a user outside the workspace and a member of
// another workspace.
var actors = []string{"owner", "admin", "member", "creator", "guest", "outsider", "other"}

// world is a workspace set up through the API for the matrix.
type world struct {
	h      *harness
	ws     int64
	users  map[string]*client
	ch     map[string]int64 // pub, pubng, priv, arch, a-<actor>
	msgs   map[string]int64 // edit, del-<actor>
	target map[string]*client
}

// newWorld builds workspace W owned by owner with admin, member, creator (member role) and
// guest; creator made the channels:
//   - pub: public, members creator and guest
//   - pubng: public, member creator only
//   - priv: private, members creator and member
//   - arch: public and archived, members creator, member and guest
//   - a-<actor>: public, creator only (each actor tries to archive their own)
func newWorld(t *testing.T) *world {
	h := newHarness(t, harnessOpts{})
	w := &world{h: h, users: map[string]*client{}, ch: map[string]int64{}, msgs: map[string]int64{}, target: map[string]*client{}}
	for _, a := range actors {
		w.users[a] = h.user(a)
	}
	owner := w.users["owner"]
	var ws persistence.Workspace
	owner.ok("POST", "/api/workspaces", map[string]any{"name": "W"}, &ws)
	w.ws = ws.ID
	w.users["other"].ok("POST", "/api/workspaces", map[string]any{"name": "W2"}, nil)
	join := func(c *client, role string) {
		var inv persistence.Invitation
		owner.ok("POST", w.path("/invitations"), map[string]any{"username": c.name, "role": role}, &inv)
		c.ok("POST", "/api/invitations/accept", map[string]any{"token": inv.Token}, nil)
	}
	join(w.users["admin"], "admin")
	join(w.users["member"], "member")
	join(w.users["creator"], "member")
	join(w.users["guest"], "guest")
	for _, a := range actors {
		for _, kind := range []string{"p-", "d-"} {
			c := h.user(kind + a)
			join(c, "member")
			w.target[kind+a] = c
		}
	}
	w.target["role"] = h.user("role-target")
	join(w.target["role"], "member")

	creator := w.users["creator"]
	mk := func(name, typ string, members ...string) int64 {
		var c persistence.ChannelView
		creator.ok("POST", w.path("/channels"), map[string]any{"name": name, "type": typ}, &c)
		for _, m := range members {
			creator.ok("POST", fmt.Sprintf("/api/channels/%d/members", c.ID), map[string]any{"userId": id(w.users[m].id)}, nil)
		}
		w.ch[name] = c.ID
		return c.ID
	}
	mk("pub", "public", "guest")
	mk("pubng", "public")
	mk("priv", "private", "member")
	arch := mk("arch", "public", "member", "guest")
	for _, a := range actors {
		mk("a-"+a, "public")
	}
	post := func(key string) {
		var m persistence.Message
		creator.ok("POST", fmt.Sprintf("/api/channels/%d/messages", w.ch["pub"]), map[string]any{"content": key}, &m)
		w.msgs[key] = m.ID
	}
	post("edit")
	for _, a := range actors {
		post("del-" + a)
	}
	creator.ok("PATCH", fmt.Sprintf("/api/channels/%d", arch), map[string]any{"archived": true}, nil)
	return w
}

func (w *world) path(suffix string) string { return fmt.Sprintf("/api/workspaces/%d%s", w.ws, suffix) }
func (w *world) chp(name, suffix string) string {
	return fmt.Sprintf("/api/channels/%d%s", w.ch[name], suffix)
}

// TestPermissionMatrix checks every row of SPEC's permission table against every actor,
// with the exact status: 404 outside the workspace (or for what the actor cannot see), 403
// for what they see but may not do, 409 for an archived channel.
func TestPermissionMatrix(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	type row struct {
		name   string
		method string
		path   func(actor string) string
		body   func(actor string) any
		want   [7]int // in the order of actors
	}
	fixed := func(p string) func(string) string { return func(string) string { return p } }
	self := func(a string) any { return map[string]any{"userId": id(w.users[a].id)} }
	rows := []row{
		{"see the workspace", "GET", fixed(w.path("")), nil, [7]int{200, 200, 200, 200, 200, 404, 404}},
		{"see its members", "GET", fixed(w.path("/members")), nil, [7]int{200, 200, 200, 200, 200, 404, 404}},
		{"list its channels", "GET", fixed(w.path("/channels")), nil, [7]int{200, 200, 200, 200, 200, 404, 404}},
		{"see a public channel", "GET", fixed(w.chp("pubng", "")), nil, [7]int{200, 200, 200, 200, 404, 404, 404}},
		{"see a private channel", "GET", fixed(w.chp("priv", "")), nil, [7]int{200, 200, 200, 200, 404, 404, 404}},
		{"create a channel", "POST", fixed(w.path("/channels")),
			func(a string) any { return map[string]any{"name": "new-" + a, "type": "public"} }, [7]int{201, 201, 201, 201, 403, 404, 404}},
		{"join a public channel", "POST", fixed(w.chp("pubng", "/members")), self, [7]int{201, 201, 201, 204, 404, 404, 404}},
		{"join a private channel", "POST", fixed(w.chp("priv", "/members")), self, [7]int{403, 403, 204, 204, 404, 404, 404}},
		{"read a public channel (guest in it)", "GET", fixed(w.chp("pub", "/messages")), nil, [7]int{200, 200, 200, 200, 200, 404, 404}},
		{"read a public channel (guest not in it)", "GET", fixed(w.chp("pubng", "/messages")), nil, [7]int{200, 200, 200, 200, 404, 404, 404}},
		{"read a private channel", "GET", fixed(w.chp("priv", "/messages")), nil, [7]int{403, 403, 200, 200, 404, 404, 404}},
		{"read a thread list", "GET", fixed(w.chp("priv", "/threads")), nil, [7]int{403, 403, 200, 200, 404, 404, 404}},
		{"read a message", "GET", fixed(fmt.Sprintf("/api/messages/%d", w.msgs["edit"])), nil, [7]int{200, 200, 200, 200, 200, 404, 404}},
		{"post in a public channel", "POST", fixed(w.chp("pub", "/messages")),
			func(a string) any { return map[string]any{"content": "hi from " + a} }, [7]int{201, 201, 201, 201, 201, 404, 404}},
		{"post in a private channel", "POST", fixed(w.chp("priv", "/messages")),
			func(a string) any { return map[string]any{"content": "hi from " + a} }, [7]int{403, 403, 201, 201, 404, 404, 404}},
		{"post in an archived channel", "POST", fixed(w.chp("arch", "/messages")),
			func(a string) any { return map[string]any{"content": "hi"} }, [7]int{409, 409, 409, 409, 409, 404, 404}},
		{"react to a message", "PUT", fixed(fmt.Sprintf("/api/messages/%d/reactions/:tada:", w.msgs["edit"])), nil, [7]int{200, 200, 200, 200, 200, 404, 404}},
		{"mark a private channel read", "PUT", fixed(w.chp("priv", "/read")),
			func(string) any { return map[string]any{"seq": 1} }, [7]int{403, 403, 200, 200, 404, 404, 404}},
		{"add someone to a private channel", "POST", fixed(w.chp("priv", "/members")),
			func(a string) any { return map[string]any{"userId": id(w.target["p-"+a].id)} }, [7]int{403, 403, 201, 201, 404, 404, 404}},
		{"set a public channel's topic", "PATCH", fixed(w.chp("pub", "")),
			func(a string) any { return map[string]any{"topic": "by " + a} }, [7]int{200, 200, 403, 200, 403, 404, 404}},
		{"rename a private channel", "PATCH", fixed(w.chp("priv", "")),
			func(a string) any { return map[string]any{"name": "priv-" + a} }, [7]int{200, 200, 403, 200, 404, 404, 404}},
		{"archive a channel", "PATCH", func(a string) string { return w.chp("a-"+a, "") },
			func(string) any { return map[string]any{"archived": true} }, [7]int{200, 200, 403, 200, 404, 404, 404}},
		{"invite to the workspace", "POST", fixed(w.path("/invitations")),
			func(a string) any { return map[string]any{"username": "invitee-" + a} }, [7]int{201, 201, 403, 403, 403, 404, 404}},
		{"list invitations", "GET", fixed(w.path("/invitations")), nil, [7]int{200, 200, 403, 403, 403, 404, 404}},
		{"change a role", "PATCH", fixed(w.path(fmt.Sprintf("/members/%d", w.target["role"].id))),
			func(string) any { return map[string]any{"role": "member"} }, [7]int{200, 200, 403, 403, 403, 404, 404}},
		{"change the owner's role", "PATCH", fixed(w.path(fmt.Sprintf("/members/%d", w.users["owner"].id))),
			func(string) any { return map[string]any{"role": "admin"} }, [7]int{403, 403, 403, 403, 403, 404, 404}},
		{"remove a member", "DELETE", func(a string) string { return w.path(fmt.Sprintf("/members/%d", w.target["d-"+a].id)) },
			nil, [7]int{204, 204, 403, 403, 403, 404, 404}},
		{"edit a message (author: creator)", "PATCH", fixed(fmt.Sprintf("/api/messages/%d", w.msgs["edit"])),
			func(a string) any { return map[string]any{"content": "edited by " + a} }, [7]int{403, 403, 403, 200, 403, 404, 404}},
		{"delete a message (author: creator)", "DELETE", func(a string) string { return fmt.Sprintf("/api/messages/%d", w.msgs["del-"+a]) },
			nil, [7]int{204, 204, 403, 204, 403, 404, 404}},
		{"list read receipts (members only)", "GET", fixed(w.chp("pub", "/read-receipts")), nil, [7]int{403, 403, 403, 200, 200, 404, 404}},
		{"search", "GET", fixed(w.path("/search?q=hi")), nil, [7]int{200, 200, 200, 200, 200, 404, 404}},
	}
	for _, r := range rows {
		for i, a := range actors {
			var body any
			if r.body != nil {
				body = r.body(a)
			}
			st, b := w.users[a].do(r.method, r.path(a), body)
			if st != r.want[i] {
				t.Errorf("%s as %s: %s %s = %d, want %d (%s)", r.name, a, r.method, r.path(a), st, r.want[i], b)
			}
		}
	}

	// Transfer ownership last: it changes who the owner is.
	transfer := w.path(fmt.Sprintf("/members/%d", w.users["admin"].id))
	for i := len(actors) - 1; i >= 0; i-- {
		a := actors[i]
		want := map[string]int{"owner": 200, "outsider": 404, "other": 404}[a]
		if want == 0 {
			want = 403
		}
		if st, b := w.users[a].do("PATCH", transfer, map[string]any{"role": "owner"}); st != want {
			t.Errorf("transfer ownership as %s = %d, want %d (%s)", a, st, want, b)
		}
	}
	var ms struct{ Items []persistence.Member }
	w.users["admin"].ok("GET", w.path("/members?limit=100"), nil, &ms)
	roles := map[int64]persistence.Role{}
	for _, m := range ms.Items {
		roles[m.UserID] = m.Role
	}
	if roles[w.users["admin"].id] != persistence.RoleOwner || roles[w.users["owner"].id] != persistence.RoleAdmin {
		t.Fatalf("after transfer: admin is %s, old owner is %s", roles[w.users["admin"].id], roles[w.users["owner"].id])
	}
}

// A channel's creator keeps the creator's powers only while they may still post there with
// a role that creates channels: demoted to guest (still in the channel, still posting), they
// may no longer rename or archive it or take an admin out of it (403 problem+json, nothing
// changes); made a member again, they may (issue 21, finding 7).
func TestDemotedCreatorLosesCreatorPowers(t *testing.T) {
	t.Parallel()
	tm := newTeam(t, harnessOpts{})
	admin, alice, bob := tm.h.user("carl"), tm.alice, tm.bob
	var inv persistence.Invitation
	alice.ok("POST", fmt.Sprintf("/api/workspaces/%d/invitations", tm.ws), map[string]any{"username": "carl", "role": "admin"}, &inv)
	admin.ok("POST", "/api/invitations/accept", map[string]any{"token": inv.Token}, nil)
	member := fmt.Sprintf("/api/workspaces/%d/members/%d", tm.ws, bob.id)

	for _, typ := range []string{"public", "private"} {
		var c persistence.ChannelView
		bob.ok("POST", fmt.Sprintf("/api/workspaces/%d/channels", tm.ws), map[string]any{"name": "bobs-" + typ, "type": typ}, &c)
		ch := fmt.Sprintf("/api/channels/%d", c.ID)
		bob.ok("POST", ch+"/members", map[string]any{"userId": id(admin.id)}, nil)
		alice.ok("PATCH", member, map[string]any{"role": "guest"}, nil)

		bob.ok("POST", ch+"/messages", map[string]any{"content": "still posting"}, nil) // a guest in the channel posts
		refused := []struct {
			method, path string
			body         any
		}{
			{"PATCH", ch, map[string]any{"name": "renamed-" + typ}},
			{"PATCH", ch, map[string]any{"topic": "by a guest"}},
			{"PATCH", ch, map[string]any{"archived": true}},
			{"DELETE", fmt.Sprintf("%s/members/%d", ch, admin.id), nil},
		}
		for _, r := range refused {
			b := bob.expect(http.StatusForbidden, r.method, r.path, r.body)
			var p struct{ Code string }
			if err := json.Unmarshal(b, &p); err != nil || p.Code != "forbidden" {
				t.Fatalf("%s %s as the demoted creator: %s, want code forbidden", r.method, r.path, b)
			}
		}
		var after persistence.ChannelView
		bob.ok("GET", ch, nil, &after)
		if after.Name != c.Name || after.Topic != c.Topic || after.Archived {
			t.Fatalf("%s channel after the refused changes: %+v, want %+v", typ, after.Channel, c.Channel)
		}
		if n := tm.h.count(`SELECT count(*) FROM channel_members WHERE channel_id = $1 AND user_id = $2`, c.ID, admin.id); n != 1 {
			t.Fatalf("the admin was taken out of the %s channel by a guest", typ)
		}

		// A member again: the creator's powers are back.
		alice.ok("PATCH", member, map[string]any{"role": "member"}, nil)
		bob.ok("PATCH", ch, map[string]any{"name": "renamed-" + typ}, nil)
		bob.expect(http.StatusNoContent, "DELETE", fmt.Sprintf("%s/members/%d", ch, admin.id), nil)
		bob.ok("PATCH", ch, map[string]any{"archived": true}, nil)
		bob.ok("PATCH", ch, map[string]any{"archived": false}, nil)
	}
}

// GET /api/mentions lists, and PUT /api/mentions/{id}/read marks, only mentions in messages
// the caller can read now, as GET /api/messages/{id} decides: taken out of a private channel
// or out of the workspace, or made a guest, a user no longer sees those messages' later
// edits and reactions there, and marking them read is 404 and changes nothing (issue 21,
// finding 3). Pages stay full: the filter is in the query, before the limit.
func TestMentionsFollowAccess(t *testing.T) {
	t.Parallel()
	tm := newTeam(t, harnessOpts{})
	alice, bob, carol := tm.alice, tm.bob, tm.h.user("carol")
	var inv persistence.Invitation
	alice.ok("POST", fmt.Sprintf("/api/workspaces/%d/invitations", tm.ws), map[string]any{"username": "carol"}, &inv)
	carol.ok("POST", "/api/invitations/accept", map[string]any{"token": inv.Token}, nil)
	mkChannel := func(name, typ string, members ...*client) int64 {
		var c persistence.ChannelView
		alice.ok("POST", fmt.Sprintf("/api/workspaces/%d/channels", tm.ws), map[string]any{"name": name, "type": typ}, &c)
		for _, m := range members {
			alice.ok("POST", fmt.Sprintf("/api/channels/%d/members", c.ID), map[string]any{"userId": id(m.id)}, nil)
		}
		return c.ID
	}
	secret, open := mkChannel("secret", "private", bob), mkChannel("open", "public")
	post := func(cid int64, content string) persistence.Message {
		var m persistence.Message
		alice.ok("POST", fmt.Sprintf("/api/channels/%d/messages", cid), map[string]any{"content": content}, &m)
		return m
	}
	general := post(tm.gen, "@bob @carol in general")
	inSecret := []persistence.Message{post(secret, "@bob one"), post(secret, "@bob two"), post(secret, "@bob three")}
	inOpen := post(open, "@carol in open, which she never joined")
	type page struct {
		Items []persistence.MentionItem
		Next  *string
	}
	mentions := func(c *client, query string) page {
		var p page
		c.ok("GET", "/api/mentions"+query, nil, &p)
		return p
	}
	messageIDs := func(p page) []int64 {
		var ids []int64
		for _, it := range p.Items {
			ids = append(ids, it.Message.ID)
		}
		return ids
	}
	before := mentions(bob, "")
	if got := messageIDs(before); len(got) != 4 {
		t.Fatalf("bob's mentions before: %v", got)
	}
	mentionOf := map[int64]int64{} // message → bob's mention
	for _, it := range before.Items {
		mentionOf[it.Message.ID] = it.ID
	}

	// Taken out of the private channel, then the message is edited and reacted to.
	alice.expect(http.StatusNoContent, "DELETE", fmt.Sprintf("/api/channels/%d/members/%d", secret, bob.id), nil)
	alice.ok("PATCH", fmt.Sprintf("/api/messages/%d", inSecret[2].ID), map[string]any{"content": "@bob three, edited after he left"}, nil)
	alice.ok("PUT", fmt.Sprintf("/api/messages/%d/reactions/:tada:", inSecret[2].ID), nil, nil)
	bob.expect(http.StatusNotFound, "GET", fmt.Sprintf("/api/messages/%d", inSecret[2].ID), nil)
	for _, q := range []string{"", "?unread=true", "?limit=1"} {
		p := mentions(bob, q)
		if got := messageIDs(p); len(got) != 1 || got[0] != general.ID || p.Next != nil {
			t.Fatalf("bob's mentions%s after leaving the private channel: %v (next %v), want only %d and no next page",
				q, got, p.Next, general.ID)
		}
	}
	unreadMentions := `SELECT count(*) FROM mentions WHERE user_id = $1 AND read_at IS NULL`
	n := tm.h.count(unreadMentions, bob.id)
	for _, m := range inSecret {
		b := bob.expect(http.StatusNotFound, "PUT", fmt.Sprintf("/api/mentions/%d/read", mentionOf[m.ID]), nil)
		var p struct{ Code string }
		if err := json.Unmarshal(b, &p); err != nil || p.Code != "not_found" {
			t.Fatalf("marking a mention in a channel he left: %s, want code not_found", b)
		}
	}
	if got := tm.h.count(unreadMentions, bob.id); got != n {
		t.Fatalf("refused marks changed bob's unread mentions: %d → %d", n, got)
	}
	// Nor do the private channel's messages count among his unreads.
	var unreads struct{ TotalCount int64 }
	bob.ok("GET", "/api/unreads", nil, &unreads)
	if unreads.TotalCount != 1 {
		t.Fatalf("bob's unreads after leaving the private channel: %d, want 1 (general)", unreads.TotalCount)
	}

	// Made a guest, carol reads only the channels she is in: general, not open.
	if got := messageIDs(mentions(carol, "")); len(got) != 2 {
		t.Fatalf("carol's mentions before: %v", got)
	}
	alice.ok("PATCH", fmt.Sprintf("/api/workspaces/%d/members/%d", tm.ws, carol.id), map[string]any{"role": "guest"}, nil)
	if got := messageIDs(mentions(carol, "")); len(got) != 1 || got[0] != general.ID {
		t.Fatalf("carol's mentions as a guest: %v, want only %d (not %d)", got, general.ID, inOpen.ID)
	}

	// Out of the workspace: nothing at all, and nothing to mark.
	alice.expect(http.StatusNoContent, "DELETE", fmt.Sprintf("/api/workspaces/%d/members/%d", tm.ws, bob.id), nil)
	if got := mentions(bob, ""); len(got.Items) != 0 || got.Next != nil {
		t.Fatalf("bob's mentions out of the workspace: %v", messageIDs(got))
	}
	bob.expect(http.StatusNotFound, "PUT", fmt.Sprintf("/api/mentions/%d/read", mentionOf[general.ID]), nil)
	if got := tm.h.count(unreadMentions, bob.id); got != n {
		t.Fatalf("a refused mark changed bob's unread mentions: %d → %d", n, got)
	}
	// Back in the channel (a member again), the mention and its mark work again.
	alice.ok("POST", fmt.Sprintf("/api/workspaces/%d/invitations", tm.ws), map[string]any{"username": "bob"}, &inv)
	bob.ok("POST", "/api/invitations/accept", map[string]any{"token": inv.Token}, nil)
	bob.expect(http.StatusNoContent, "PUT", fmt.Sprintf("/api/mentions/%d/read", mentionOf[general.ID]), nil)
}
