package api_test

import (
	"fmt"
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
