package api_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/parley-chat/parley/transport/api"

	"github.com/parley-chat/parley/persistence"
)

func TestSmokeFlow(t *testing.T) {
	posters(t, func(t *testing.T, o harnessOpts) {
		h := newHarness(t, o)
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
	})
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

func TestMetricsAreRegistered(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpts{})
	reg := prometheus.NewRegistry()
	a, err := api.New(api.Config{}, api.Deps{Store: h.store, Verifier: h.verify, IDs: mustIDs(t), Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	// A second API on the same registry shares the collectors instead of failing.
	if _, err := api.New(api.Config{}, api.Deps{Store: h.store, Verifier: h.verify, IDs: mustIDs(t), Registerer: reg}); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	a.Register(mux)
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("GET", "/api/users/me", nil))
	if rec.Code != 401 {
		t.Fatalf("status %d", rec.Code)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, mf := range mfs {
		if mf.GetName() == "parley_http_requests_total" && len(mf.GetMetric()) == 1 && mf.GetMetric()[0].GetCounter().GetValue() == 1 {
			found = true
		}
	}
	if !found {
		t.Fatalf("parley_http_requests_total not counted: %v", mfs)
	}
}

func TestNewValidatesConfig(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpts{})
	deps := api.Deps{Store: h.store, Verifier: h.verify, IDs: mustIDs(t)}
	if _, err := api.New(api.Config{MaxBodyBytes: 10}, deps); err == nil {
		t.Fatal("tiny MaxBodyBytes accepted")
	}
	if _, err := api.New(api.Config{}, api.Deps{Store: h.store}); err == nil {
		t.Fatal("missing verifier accepted")
	}
}
