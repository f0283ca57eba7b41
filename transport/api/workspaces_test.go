package api_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/parley-chat/parley/persistence"
)

func TestInvitations(t *testing.T) {
	t.Parallel()
	tm := newTeam(t, harnessOpts{})
	invites := fmt.Sprintf("/api/workspaces/%d/invitations", tm.ws)
	dave, erin := tm.h.user("dave"), tm.h.user("erin")

	var i persistence.Invitation
	tm.alice.ok("POST", invites, map[string]any{"username": "dave", "role": "guest"}, &i)
	if i.Status != "pending" || len(i.Token) < 16 || i.Role != persistence.RoleGuest {
		t.Fatalf("invitation %+v", i)
	}
	if d := i.ExpiresAt.Sub(time.Now()); d < 7*24*time.Hour-time.Minute || d > 7*24*time.Hour+time.Minute {
		t.Fatalf("expires in %v, want 7 days", d)
	}
	tm.alice.expect(409, "POST", invites, map[string]any{"username": "dave"}) // pending already
	tm.alice.expect(409, "POST", invites, map[string]any{"username": "bob"})  // already a member
	erin.expect(403, "POST", "/api/invitations/accept", map[string]any{"token": i.Token})
	erin.expect(404, "POST", "/api/invitations/accept", map[string]any{"token": "0123456789abcdef0123"})
	var w persistence.Workspace
	dave.ok("POST", "/api/invitations/accept", map[string]any{"token": i.Token}, &w)
	if w.ID != tm.ws || w.Role != persistence.RoleGuest {
		t.Fatalf("accepted into %+v", w)
	}
	dave.expect(410, "POST", "/api/invitations/accept", map[string]any{"token": i.Token})
	// Guests are not put in general and cannot see it.
	var chans struct{ Items []persistence.ChannelView }
	dave.ok("GET", fmt.Sprintf("/api/workspaces/%d/channels", tm.ws), nil, &chans)
	if len(chans.Items) != 0 {
		t.Fatalf("guest sees %+v", chans.Items)
	}

	// Expired: 410; and an expired invitation does not block a new one.
	tm.alice.ok("POST", invites, map[string]any{"email": "erin@example.com"}, &i)
	if _, err := tm.h.store.Pool().Exec(context.Background(), `UPDATE invitations SET expires_at = now() - interval '1 second' WHERE id = $1`, i.ID); err != nil {
		t.Fatal(err)
	}
	erin.expect(410, "POST", "/api/invitations/accept", map[string]any{"token": i.Token})
	tm.alice.expect(201, "POST", invites, map[string]any{"email": "ERIN@example.com"})
	var pending struct{ Items []persistence.Invitation }
	tm.alice.ok("GET", invites, nil, &pending)
	if len(pending.Items) != 1 || pending.Items[0].Token != "" {
		t.Fatalf("pending %+v", pending.Items)
	}
}

func TestMembershipChanges(t *testing.T) {
	t.Parallel()
	tm := newTeam(t, harnessOpts{})
	members := fmt.Sprintf("/api/workspaces/%d/members/", tm.ws)
	// The owner cannot leave; a member can.
	tm.alice.expect(409, "DELETE", members+id(tm.alice.id), nil)
	tm.bob.expect(204, "DELETE", members+id(tm.bob.id), nil)
	tm.bob.expect(404, "GET", fmt.Sprintf("/api/workspaces/%d", tm.ws), nil)
	if got := tm.h.events.channelTypes(tm.gen); !contains(got, persistence.EventMemberLeft) {
		t.Fatalf("events %v", got)
	}
	if n := tm.h.count(`SELECT count(*) FROM channel_members WHERE user_id = $1`, tm.bob.id); n != 0 {
		t.Fatalf("bob still in %d channels", n)
	}
	tm.alice.expect(404, "DELETE", members+id(tm.bob.id), nil)
	tm.alice.expect(400, "PATCH", members+id(tm.alice.id), map[string]any{"role": "owner"})
}

func TestChannelLifecycle(t *testing.T) {
	t.Parallel()
	tm := newTeam(t, harnessOpts{})
	chans := fmt.Sprintf("/api/workspaces/%d/channels", tm.ws)
	var c persistence.ChannelView
	tm.bob.ok("POST", chans, map[string]any{"name": "Design", "type": "public", "topic": "pixels"}, &c)
	if c.Name != "design" || !c.IsMember || c.CreatedBy != tm.bob.id {
		t.Fatalf("created %+v", c)
	}
	tm.alice.expect(409, "POST", chans, map[string]any{"name": "design", "type": "private"})
	cp := fmt.Sprintf("/api/channels/%d", c.ID)
	tm.alice.expect(201, "POST", cp+"/members", map[string]any{"userId": id(tm.alice.id)})
	tm.alice.expect(204, "POST", cp+"/members", map[string]any{"userId": id(tm.alice.id)})
	tm.alice.expect(404, "POST", cp+"/members", map[string]any{"userId": "12345"})
	tm.bob.ok("PATCH", cp, map[string]any{"name": "design-team", "archived": true}, &c)
	if c.Name != "design-team" || !c.Archived {
		t.Fatalf("patched %+v", c)
	}
	tm.bob.expect(409, "POST", cp+"/messages", map[string]any{"content": "x"})
	tm.bob.expect(409, "PATCH", cp, map[string]any{"topic": "still archived"})
	tm.bob.ok("PATCH", cp, map[string]any{"archived": false}, &c)
	tm.bob.expect(201, "POST", cp+"/messages", map[string]any{"content": "back"})
	tm.alice.expect(204, "DELETE", fmt.Sprintf("%s/members/%d", cp, tm.alice.id), nil)
	tm.alice.expect(404, "DELETE", fmt.Sprintf("%s/members/%d", cp, tm.alice.id), nil)
	tm.bob.expect(400, "PATCH", cp, map[string]any{})
	want := []string{"member.joined", "channel.updated", "channel.updated", "message", "member.left"}
	if got := tm.h.events.channelTypes(c.ID); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	// Private channels: the creator is in from the start and can add others.
	var p persistence.ChannelView
	tm.bob.ok("POST", chans, map[string]any{"name": "priv", "type": "private"}, &p)
	tm.bob.expect(200, "GET", fmt.Sprintf("/api/channels/%d/messages", p.ID), nil)
	tm.alice.expect(403, "GET", fmt.Sprintf("/api/channels/%d/messages", p.ID), nil)
	tm.bob.expect(201, "POST", fmt.Sprintf("/api/channels/%d/members", p.ID), map[string]any{"userId": id(tm.alice.id)})
	tm.alice.expect(200, "GET", fmt.Sprintf("/api/channels/%d/messages", p.ID), nil)
}
