package api_test

import (
	"strings"
	"testing"

	"github.com/parley-chat/parley/persistence"
)

func TestSmokeFlow(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpts{})
	alice, bob := h.user("alice"), h.user("bob")
	var w persistence.Workspace
	alice.ok("POST", "/api/workspaces", map[string]any{"name": "Acme"}, &w)
	var inv persistence.Invitation
	alice.ok("POST", "/api/workspaces/"+id(w.ID)+"/invitations", map[string]any{"username": "bob"}, &inv)
	bob.ok("POST", "/api/invitations/accept", map[string]any{"token": inv.Token}, nil)
	var chans struct{ Items []persistence.ChannelView }
	bob.ok("GET", "/api/workspaces/"+id(w.ID)+"/channels", nil, &chans)
	if len(chans.Items) != 1 || chans.Items[0].Name != "general" || !chans.Items[0].IsMember {
		t.Fatalf("channels: %+v", chans)
	}
	gen := chans.Items[0].ID
	var m persistence.Message
	alice.ok("POST", "/api/channels/"+id(gen)+"/messages", map[string]any{"content": "hi @bob"}, &m)
	if m.Seq != 1 {
		t.Fatalf("message: %+v", m)
	}
	bob.ok("GET", "/api/channels/"+id(gen)+"/messages", nil, nil)
	var mentions struct{ Items []persistence.MentionItem }
	bob.ok("GET", "/api/mentions?unread=true", nil, &mentions)
	if len(mentions.Items) != 1 || mentions.Items[0].Message.ID != m.ID {
		t.Fatalf("mentions: %+v", mentions)
	}
}

func TestUnknownRoutesAnswerProblems(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpts{})
	c := h.user("alice")
	b := c.expect(404, "GET", "/api/nothing/here", nil)
	if !strings.Contains(string(b), `"code":"not_found"`) {
		t.Fatalf("404 body %s", b)
	}
	st, b := c.do("PUT", "/api/workspaces", nil)
	if st != 405 || !strings.Contains(string(b), `"code":"method_not_allowed"`) {
		t.Fatalf("405: %d %s", st, b)
	}
}
