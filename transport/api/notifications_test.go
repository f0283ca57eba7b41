package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parley-chat/parley/persistence"
)

// statuses is the test's own presence: the one-method seam persistence.Presence, which the
// presence service implements in production.
type statuses map[int64]string

func (s statuses) Statuses(_ context.Context, ids []int64) (map[int64]string, error) {
	out := map[int64]string{}
	for _, id := range ids {
		if v, ok := s[id]; ok {
			out[id] = v
		}
	}
	return out, nil
}

// join makes name a workspace member (invited with role, accepted) and returns them.
func (tm *team) join(name, role string) *client {
	tm.h.t.Helper()
	c := tm.h.user(name)
	var inv persistence.Invitation
	tm.alice.ok("POST", fmt.Sprintf("/api/workspaces/%d/invitations", tm.ws), map[string]any{"username": name, "role": role}, &inv)
	c.ok("POST", "/api/invitations/accept", map[string]any{"token": inv.Token}, nil)
	return c
}

func (tm *team) channel(c *client, name, typ string) int64 {
	tm.h.t.Helper()
	var ch persistence.ChannelView
	c.ok("POST", fmt.Sprintf("/api/workspaces/%d/channels", tm.ws), map[string]any{"name": name, "type": typ}, &ch)
	return ch.ID
}

// notifications returns the events of userID's notification queue, as JSON objects.
func (tm *team) notifications(userID int64) []map[string]any {
	var out []map[string]any
	for _, e := range tm.h.events.userEvents(userID) {
		if e.dest != persistence.QueueNotifications {
			continue
		}
		b, _ := json.Marshal(e.ev)
		var v map[string]any
		_ = json.Unmarshal(b, &v)
		out = append(out, v)
	}
	return out
}

func ofType(evs []map[string]any, typ string) []map[string]any {
	var out []map[string]any
	for _, e := range evs {
		if e["type"] == typ {
			out = append(out, e)
		}
	}
	return out
}

func TestChannelPrefs(t *testing.T) {
	t.Parallel()
	tm := newTeam(t, harnessOpts{})
	prefs := fmt.Sprintf("/api/channels/%d/prefs", tm.gen)
	var p persistence.ChannelPrefs
	tm.bob.ok("GET", prefs, nil, &p)
	if p != persistence.DefaultChannelPrefs || p.Notify != "mentions" {
		t.Fatalf("defaults %+v", p)
	}
	tm.bob.ok("PUT", prefs, map[string]any{"notify": "all", "muted": true}, &p)
	if p != (persistence.ChannelPrefs{Notify: "all", Muted: true}) {
		t.Fatalf("after PUT %+v", p)
	}
	tm.bob.ok("PUT", prefs, map[string]any{"hidden": true}, &p) // absent fields stay
	if p != (persistence.ChannelPrefs{Notify: "all", Muted: true, Hidden: true}) {
		t.Fatalf("after partial PUT %+v", p)
	}
	// Bad values change nothing.
	tm.bob.expect(400, "PUT", prefs, map[string]any{"notify": "loud", "muted": false})
	tm.bob.expect(400, "PUT", prefs, map[string]any{"muted": "yes"})
	tm.bob.expect(400, "PUT", prefs, map[string]any{"volume": 3})
	tm.bob.expect(400, "PUT", prefs, map[string]any{})
	tm.bob.ok("GET", prefs, nil, &p)
	if p != (persistence.ChannelPrefs{Notify: "all", Muted: true, Hidden: true}) {
		t.Fatalf("after bad PUTs %+v", p)
	}
	// The caller's own: alice still has the defaults.
	tm.alice.ok("GET", prefs, nil, &p)
	if p != persistence.DefaultChannelPrefs {
		t.Fatalf("alice's %+v", p)
	}
	// A channel the caller cannot see is 404, a missing one too.
	secret := tm.channel(tm.alice, "secret", "private")
	tm.bob.expect(404, "GET", fmt.Sprintf("/api/channels/%d/prefs", secret), nil)
	tm.bob.expect(404, "PUT", fmt.Sprintf("/api/channels/%d/prefs", secret), map[string]any{"muted": true})
	tm.bob.expect(404, "GET", "/api/channels/12345/prefs", nil)
	// The channel list and the channel carry the caller's preferences.
	var chans struct{ Items []persistence.ChannelView }
	tm.bob.ok("GET", fmt.Sprintf("/api/workspaces/%d/channels", tm.ws), nil, &chans)
	if len(chans.Items) != 1 || chans.Items[0].Prefs == nil || !chans.Items[0].Prefs.Hidden || chans.Items[0].Prefs.Notify != "all" {
		t.Fatalf("channel list %+v", chans.Items)
	}
	tm.alice.ok("GET", fmt.Sprintf("/api/workspaces/%d/channels", tm.ws), nil, &chans)
	for _, c := range chans.Items {
		if c.Prefs == nil || *c.Prefs != persistence.DefaultChannelPrefs {
			t.Fatalf("alice's list %+v", c)
		}
	}
	var v persistence.ChannelView
	tm.bob.ok("GET", fmt.Sprintf("/api/channels/%d", tm.gen), nil, &v)
	if v.Prefs == nil || !v.Prefs.Muted {
		t.Fatalf("channel %+v", v)
	}
}

func TestDoNotDisturb(t *testing.T) {
	t.Parallel()
	tm := newTeam(t, harnessOpts{})
	var me struct {
		DNDUntil *persistence.Time `json:"dndUntil"`
	}
	tm.bob.ok("GET", "/api/users/me", nil, &me)
	if me.DNDUntil != nil {
		t.Fatalf("dnd %v by default", me.DNDUntil)
	}
	until := time.Now().Add(time.Hour).UTC().Truncate(time.Millisecond)
	tm.bob.ok("PUT", "/api/users/me/dnd", map[string]any{"until": until.Format(time.RFC3339Nano)}, &me)
	if me.DNDUntil == nil || !me.DNDUntil.Equal(until) {
		t.Fatalf("dnd %v, want %v", me.DNDUntil, until)
	}
	tm.bob.ok("GET", "/api/users/me", nil, &me)
	if me.DNDUntil == nil || !me.DNDUntil.Equal(until) {
		t.Fatalf("GET me: dnd %v, want %v", me.DNDUntil, until)
	}
	// Bad values change nothing.
	for _, bad := range []any{
		map[string]any{"until": "tomorrow"},
		map[string]any{"until": time.Now().Add(-time.Minute).Format(time.RFC3339)},
		map[string]any{"until": time.Now().Add(400 * 24 * time.Hour).Format(time.RFC3339)},
		map[string]any{"until": 12},
		map[string]any{"from": "x"},
	} {
		tm.bob.expect(400, "PUT", "/api/users/me/dnd", bad)
	}
	tm.bob.ok("GET", "/api/users/me", nil, &me)
	if me.DNDUntil == nil || !me.DNDUntil.Equal(until) {
		t.Fatalf("after bad PUTs: dnd %v", me.DNDUntil)
	}
	// A mention in do-not-disturb is stored but does not notify; the message is delivered.
	m := tm.post(tm.alice, "hey @bob")
	var mentions struct{ Items []persistence.MentionItem }
	tm.bob.ok("GET", "/api/mentions", nil, &mentions)
	if len(mentions.Items) != 1 || mentions.Items[0].MessageID != m.ID {
		t.Fatalf("mentions %+v", mentions.Items)
	}
	if n := ofType(tm.notifications(tm.bob.id), "mention"); len(n) != 0 {
		t.Fatalf("notified in dnd: %v", n)
	}
	// Off again: the next mention notifies.
	tm.bob.ok("PUT", "/api/users/me/dnd", map[string]any{"until": nil}, &me)
	if me.DNDUntil != nil {
		t.Fatalf("dnd %v after null", me.DNDUntil)
	}
	tm.post(tm.alice, "again @bob")
	if n := ofType(tm.notifications(tm.bob.id), "mention"); len(n) != 1 || n[0]["via"] != "user" {
		t.Fatalf("notifications %v", n)
	}
}

// mentioned returns who has a mention of message mid.
func (tm *team) mentioned(mid int64) []int64 {
	tm.h.t.Helper()
	rows, err := tm.h.store.Pool().Query(context.Background(), `SELECT user_id FROM mentions WHERE message_id = $1 ORDER BY user_id`, mid)
	if err != nil {
		tm.h.t.Fatal(err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var u int64
		if err := rows.Scan(&u); err != nil {
			tm.h.t.Fatal(err)
		}
		out = append(out, u)
	}
	return out
}

func sorted(ids ...int64) []int64 { slices.Sort(ids); return ids }

func TestChannelWideMentions(t *testing.T) {
	t.Parallel()
	online := statuses{}
	tm := newTeam(t, harnessOpts{store: persistence.StoreConfig{Presence: online}})
	carol, dave, erin, frank := tm.join("carol", "member"), tm.join("dave", "member"), tm.join("erin", "member"), tm.join("frank", "admin")
	gina := tm.join("gina", "guest")
	gen := fmt.Sprintf("/api/channels/%d", tm.gen)
	tm.alice.ok("POST", gen+"/members", map[string]any{"userId": id(gina.id)}, nil) // a guest member reads it
	frank.expect(204, "DELETE", gen+"/members/"+id(frank.id), nil)                  // can read, not a member
	carol.ok("PUT", gen+"/prefs", map[string]any{"notify": "none"}, nil)
	dave.ok("PUT", gen+"/prefs", map[string]any{"muted": true}, nil)
	erin.ok("PUT", "/api/users/me/dnd", map[string]any{"until": time.Now().Add(time.Hour).Format(time.RFC3339)}, nil)

	// @channel and @all: every member who reads the channel, but the author, those who
	// muted it or set notify none (they still get a direct @mention).
	for _, word := range []string{"@channel", "@all", "@channel."} {
		m := tm.post(tm.alice, "lunch "+word+" and @carol")
		want := sorted(tm.bob.id, carol.id, erin.id, gina.id)
		if got := tm.mentioned(m.ID); !slices.Equal(got, want) {
			t.Fatalf("%s mentioned %v, want %v", word, got, want)
		}
	}
	// Notifications: not in do-not-disturb (erin), not muted/none.
	if n := ofType(tm.notifications(tm.bob.id), "mention"); len(n) != 3 || n[0]["via"] != "channel" {
		t.Fatalf("bob's notifications %v", n)
	}
	if n := ofType(tm.notifications(erin.id), "mention"); len(n) != 0 {
		t.Fatalf("erin notified in dnd: %v", n)
	}
	if n := ofType(tm.notifications(carol.id), "mention"); len(n) != 0 {
		t.Fatalf("carol (notify none) notified of her direct mention: %v", n)
	}
	// The mentions are listed (and counted) like any other.
	var mentions struct{ Items []persistence.MentionItem }
	erin.ok("GET", "/api/mentions?unread=true", nil, &mentions)
	if len(mentions.Items) != 3 {
		t.Fatalf("erin's mentions %+v", mentions.Items)
	}

	// In a private channel, only its members.
	secret := tm.channel(tm.alice, "secret", "private")
	tm.alice.ok("POST", fmt.Sprintf("/api/channels/%d/members", secret), map[string]any{"userId": id(tm.bob.id)}, nil)
	var pm persistence.Message
	tm.alice.ok("POST", fmt.Sprintf("/api/channels/%d/messages", secret), map[string]any{"content": "@channel psst"}, &pm)
	if got := tm.mentioned(pm.ID); !slices.Equal(got, []int64{tm.bob.id}) {
		t.Fatalf("private @channel mentioned %v", got)
	}

	// @here: the members online (not away, not offline), with the same preferences.
	online[tm.bob.id], online[carol.id], online[gina.id], online[erin.id] = "online", "online", "away", "offline"
	m := tm.post(tm.alice, "@here standup")
	if got, want := tm.mentioned(m.ID), []int64{tm.bob.id}; !slices.Equal(got, want) {
		t.Fatalf("@here mentioned %v, want %v", got, want)
	}
	if n := ofType(tm.notifications(tm.bob.id), "mention"); n[len(n)-1]["via"] != "here" {
		t.Fatalf("bob's last notification %v", n[len(n)-1])
	}
	online[erin.id] = "online"
	m = tm.post(tm.bob, "@here who is around, @erin?")
	if got := tm.mentioned(m.ID); !slices.Equal(got, []int64{erin.id}) { // once, as a direct mention
		t.Fatalf("@here by bob mentioned %v", got)
	}

	// Guests may not: 403, nothing posted.
	var before persistence.ChannelView
	tm.alice.ok("GET", gen, nil, &before)
	b := gina.expect(403, "POST", gen+"/messages", map[string]any{"content": "hello @channel"})
	if !strings.Contains(string(b), "guests may not use @channel") {
		t.Fatalf("guest refusal: %s", b)
	}
	gina.expect(403, "POST", gen+"/messages", map[string]any{"content": "@here anyone?"})
	var after persistence.ChannelView
	tm.alice.ok("GET", gen, nil, &after)
	if after.LastSeq != before.LastSeq {
		t.Fatalf("guest's @channel posted: seq %d -> %d", before.LastSeq, after.LastSeq)
	}
	gina.ok("POST", gen+"/messages", map[string]any{"content": "hello @bob"}, nil) // a plain mention is fine
}

func TestChannelWideMentionSizeCap(t *testing.T) {
	t.Parallel()
	tm := newTeam(t, harnessOpts{store: persistence.StoreConfig{ChannelMentionMax: 3}, counts: true})
	small := tm.channel(tm.alice, "small", "public")
	tm.alice.ok("POST", fmt.Sprintf("/api/channels/%d/members", small), map[string]any{"userId": id(tm.bob.id)}, nil)
	post := func(ch int64, content string) (int, []byte) {
		return tm.alice.do("POST", fmt.Sprintf("/api/channels/%d/messages", ch), map[string]any{"content": content})
	}
	// Allowed at the cap; one statement count for any channel size under it.
	tm.h.queries.n.Store(0)
	if st, b := post(small, "@channel two of us"); st != 201 {
		t.Fatalf("@channel in a 2-member channel: %d %s", st, b)
	}
	small2 := tm.h.queries.n.Load()
	for _, n := range []string{"carol", "dave", "erin", "frank"} {
		tm.join(n, "member") // joins general
	}
	var before persistence.ChannelView
	tm.alice.ok("GET", fmt.Sprintf("/api/channels/%d", tm.gen), nil, &before)
	st, b := post(tm.gen, "everyone @channel")
	if st != 400 || !strings.Contains(string(b), "more than 3 members") {
		t.Fatalf("@channel in a 6-member channel: %d %s", st, b)
	}
	if st, _ := post(tm.gen, "@here?"); st != 400 {
		t.Fatalf("@here in a 6-member channel: %d", st)
	}
	var after persistence.ChannelView
	tm.alice.ok("GET", fmt.Sprintf("/api/channels/%d", tm.gen), nil, &after)
	if after.LastSeq != before.LastSeq {
		t.Fatalf("refused message posted: seq %d -> %d", before.LastSeq, after.LastSeq)
	}
	tm.post(tm.alice, "but @bob is fine")
	// The member set is one statement, not one per member: three members cost what two did.
	for _, n := range []string{"gina"} {
		c := tm.join(n, "member")
		tm.alice.ok("POST", fmt.Sprintf("/api/channels/%d/members", small), map[string]any{"userId": id(c.id)}, nil)
	}
	tm.h.queries.n.Store(0)
	if st, b := post(small, "@channel three of us"); st != 201 {
		t.Fatalf("@channel in a 3-member channel: %d %s", st, b)
	}
	if got := tm.h.queries.n.Load(); got != small2 {
		t.Fatalf("@channel to 3 members took %d statements, to 2 %d", got, small2)
	}
}

func TestLiveWorkspaceNotifications(t *testing.T) {
	t.Parallel()
	tm := newTeam(t, harnessOpts{})
	gina := tm.join("gina", "guest")
	carol := tm.h.user("carol")

	// channel.created: to every member who can see the new public channel, not to guests.
	pub := tm.channel(tm.alice, "random", "public")
	if n := ofType(tm.notifications(tm.bob.id), "channel.created"); len(n) != 1 || n[0]["channel"].(map[string]any)["id"] != id(pub) {
		t.Fatalf("bob's channel.created %v", n)
	}
	if n := ofType(tm.notifications(gina.id), "channel.created"); len(n) != 0 {
		t.Fatalf("guest told of a channel she cannot see: %v", n)
	}
	// A private channel is news to no one but those added.
	priv := tm.channel(tm.alice, "secret", "private")
	if n := ofType(tm.notifications(tm.bob.id), "channel.created"); len(n) != 1 {
		t.Fatalf("bob told of a private channel: %v", n)
	}
	tm.alice.ok("POST", fmt.Sprintf("/api/channels/%d/members", priv), map[string]any{"userId": id(tm.bob.id)}, nil)
	if n := ofType(tm.notifications(tm.bob.id), "channel.added"); len(n) != 1 || n[0]["channel"].(map[string]any)["id"] != id(priv) || n[0]["byUserId"] != id(tm.alice.id) {
		t.Fatalf("bob's channel.added %v", n)
	}
	// channel.updated: to whoever sees the channel.
	tm.alice.ok("PATCH", fmt.Sprintf("/api/channels/%d", priv), map[string]any{"topic": "shh"}, nil)
	if n := ofType(tm.notifications(tm.bob.id), "channel.updated"); len(n) != 1 || n[0]["channel"].(map[string]any)["topic"] != "shh" {
		t.Fatalf("bob's channel.updated %v", n)
	}
	if n := ofType(tm.notifications(gina.id), "channel.updated"); len(n) != 0 {
		t.Fatalf("guest told of %v", n)
	}
	// workspace.invited: to the invitee, by username or by e-mail, with the token.
	var inv persistence.Invitation
	tm.alice.ok("POST", fmt.Sprintf("/api/workspaces/%d/invitations", tm.ws), map[string]any{"username": "carol"}, &inv)
	n := ofType(tm.notifications(carol.id), "workspace.invited")
	if len(n) != 1 || n[0]["workspaceName"] != "Acme" || n[0]["invitation"].(map[string]any)["token"] != inv.Token {
		t.Fatalf("carol's workspace.invited %v", n)
	}
	dave := tm.h.user("dave")
	if _, err := tm.h.store.Pool().Exec(context.Background(), `UPDATE users SET email = 'Dave@Example.com' WHERE id = $1`, dave.id); err != nil {
		t.Fatal(err)
	}
	tm.alice.ok("POST", fmt.Sprintf("/api/workspaces/%d/invitations", tm.ws), map[string]any{"email": "dave@example.com"}, nil)
	if n := ofType(tm.notifications(dave.id), "workspace.invited"); len(n) != 1 {
		t.Fatalf("dave's workspace.invited %v", n)
	}
	// member.joined: carol accepts; every member hears of it, carol does not.
	carol.ok("POST", "/api/invitations/accept", map[string]any{"token": inv.Token}, nil)
	joined := func(c *client) []map[string]any {
		var out []map[string]any
		for _, e := range ofType(tm.notifications(c.id), "member.joined") {
			if e["userId"] == id(carol.id) && e["workspaceId"] == id(tm.ws) {
				out = append(out, e)
			}
		}
		return out
	}
	for _, c := range []*client{tm.alice, tm.bob, gina} {
		if n := joined(c); len(n) != 1 {
			t.Fatalf("%s's member.joined %v", c.name, n)
		}
	}
	if n := joined(carol); len(n) != 0 {
		t.Fatalf("carol told of herself: %v", n)
	}
}
