package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/parley-chat/parley/persistence"
	"github.com/parley-chat/parley/transport/api"
	"github.com/parley-chat/parley/transport/auth"
)

func TestProfileUpdateAndValidation(t *testing.T) {
	t.Parallel()
	tm := newDMTeam(t)
	var u persistence.User
	tm.bob.ok("PATCH", "/api/users/me", map[string]any{"displayName": "  Bob B. ", "statusText": "in a meeting",
		"statusEmoji": "📅", "timezone": "America/Argentina/Buenos_Aires"}, &u)
	if u.DisplayName != "Bob B." || u.StatusText != "in a meeting" || u.StatusEmoji != "📅" ||
		u.Timezone != "America/Argentina/Buenos_Aires" || u.AvatarURL != nil || u.ID != tm.bob.id {
		t.Fatalf("patched %+v", u)
	}
	tm.bob.ok("PATCH", "/api/users/me", map[string]any{"statusEmoji": ":calendar:", "timezone": "UTC"}, &u)
	if u.StatusEmoji != ":calendar:" || u.Timezone != "UTC" || u.DisplayName != "Bob B." {
		t.Fatalf("second patch %+v", u)
	}
	var before persistence.User
	tm.bob.ok("GET", "/api/users/me", nil, &before)

	long := func(n int) string { return strings.Repeat("é", n) }
	for _, c := range []struct {
		field string
		body  any
	}{
		{"displayName", map[string]any{"displayName": long(81)}},
		{"displayName", map[string]any{"displayName": "bell\a"}},
		{"statusText", map[string]any{"statusText": long(101), "displayName": "fine"}},
		{"statusEmoji", map[string]any{"statusEmoji": "happy", "statusText": "fine"}},
		{"statusEmoji", map[string]any{"statusEmoji": "😀😀"}},
		{"timezone", map[string]any{"timezone": "Mars/Olympus_Mons", "displayName": "fine"}},
		{"timezone", map[string]any{"timezone": "Local"}},
		{"timezone", map[string]any{"timezone": "../../etc/passwd"}},
		{"timezone", map[string]any{"timezone": "/usr/share/zoneinfo/UTC"}},
		{"timezone", map[string]any{"timezone": 3}},
		{"", map[string]any{}},
		{"email", map[string]any{"email": "x@example.com"}},
	} {
		b := tm.bob.expect(http.StatusBadRequest, "PATCH", "/api/users/me", c.body)
		var p api.Problem
		if err := json.Unmarshal(b, &p); err != nil || p.Field != c.field || p.Code != "validation_failed" {
			t.Errorf("%v: problem %s, want field %q", c.body, b, c.field)
		}
		var now persistence.User
		tm.bob.ok("GET", "/api/users/me", nil, &now)
		if fmt.Sprint(now) != fmt.Sprint(before) {
			t.Fatalf("%v changed the profile: %+v, was %+v", c.body, now, before)
		}
	}
	// "" clears.
	tm.bob.ok("PATCH", "/api/users/me", map[string]any{"statusText": "", "statusEmoji": "", "timezone": ""}, &u)
	if u.StatusText != "" || u.StatusEmoji != "" || u.Timezone != "" || u.DisplayName != "Bob B." {
		t.Fatalf("cleared %+v", u)
	}
	// A chosen display name outlives the tokens' name claims; a cleared one does not.
	ctx := context.Background()
	me, err := tm.h.store.UpsertUser(ctx, persistence.Identity{Subject: auth.DevSubjectPrefix + "bob", Username: "bob", Name: "Robert From SSO"})
	if err != nil || me.ID != tm.bob.id || me.DisplayName != "Bob B." {
		t.Fatalf("upsert after a chosen name: %+v %v", me, err)
	}
	tm.bob.ok("PATCH", "/api/users/me", map[string]any{"displayName": ""}, nil)
	if me, _ = tm.h.store.UpsertUser(ctx, persistence.Identity{Subject: auth.DevSubjectPrefix + "bob", Username: "bob", Name: "Robert From SSO"}); me.DisplayName != "Robert From SSO" {
		t.Fatalf("upsert after clearing: %+v", me)
	}
}

func TestGetUserSharesAWorkspace(t *testing.T) {
	t.Parallel()
	tm := newDMTeam(t)
	tm.carol.ok("PATCH", "/api/users/me", map[string]any{"statusText": "on leave", "timezone": "Asia/Tokyo"}, nil)
	var u persistence.User
	tm.gus.ok("GET", "/api/users/"+id(tm.carol.id), nil, &u) // a guest sees their workspace's members
	if u.Username != "carol" || u.StatusText != "on leave" || u.Timezone != "Asia/Tokyo" || u.Email != "" {
		t.Fatalf("carol as gus sees her: %+v", u)
	}
	tm.carol.ok("GET", "/api/users/"+id(tm.carol.id), nil, &u)
	tm.erin.expect(http.StatusNotFound, "GET", "/api/users/"+id(tm.carol.id), nil)
	tm.carol.expect(http.StatusNotFound, "GET", "/api/users/"+id(tm.erin.id), nil)
	tm.carol.expect(http.StatusNotFound, "GET", "/api/users/424242", nil)
	tm.carol.expect(http.StatusBadRequest, "GET", "/api/users/abc", nil)
	// Once erin joins, they share a workspace.
	tm.join(tm.erin, "member")
	tm.erin.ok("GET", "/api/users/"+id(tm.carol.id), nil, &u)
}

// presenceStub stands in for the presence service, which another part of issue 23 builds.
type presenceStub struct {
	st  map[int64]string
	err error
}

func (p presenceStub) Statuses(_ context.Context, ids []int64) (map[int64]string, error) {
	return p.st, p.err
}

func TestMembersCarryProfileAndPresence(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpts{})
	alice, bob := h.user("alice"), h.user("bob")
	var w persistence.Workspace
	alice.ok("POST", "/api/workspaces", map[string]any{"name": "W"}, &w)
	var inv persistence.Invitation
	alice.ok("POST", fmt.Sprintf("/api/workspaces/%d/invitations", w.ID), map[string]any{"username": "bob"}, &inv)
	bob.ok("POST", "/api/invitations/accept", map[string]any{"token": inv.Token}, nil)
	bob.ok("PATCH", "/api/users/me", map[string]any{"statusText": "hi", "statusEmoji": "👋", "timezone": "Europe/Paris"}, nil)

	list := func(a *api.API) map[int64]persistence.Member {
		t.Helper()
		mux := http.NewServeMux()
		a.Register(mux)
		out := map[int64]persistence.Member{}
		for _, path := range []string{fmt.Sprintf("/api/workspaces/%d/members", w.ID), fmt.Sprintf("/api/channels/%d/members", generalOf(t, alice, w.ID))} {
			rec := serve(t, mux, alice, "GET", path)
			var page struct{ Items []persistence.Member }
			if err := json.Unmarshal(rec, &page); err != nil {
				t.Fatal(err)
			}
			for _, m := range page.Items {
				if prev, ok := out[m.UserID]; ok && fmt.Sprint(prev) != fmt.Sprint(m) {
					t.Fatalf("%s lists %+v, the other list %+v", path, m, prev)
				}
				out[m.UserID] = m
			}
		}
		return out
	}
	newAPI := func(p api.PresenceSource) *api.API {
		a, err := api.New(api.Config{}, api.Deps{Store: h.store, Verifier: h.verify, IDs: mustIDs(t), Presence: p})
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	ms := list(newAPI(nil))
	if b := ms[bob.id]; b.StatusText != "hi" || b.StatusEmoji != "👋" || b.Timezone != "Europe/Paris" || b.AvatarURL != nil || b.Presence != "offline" {
		t.Fatalf("bob without presence: %+v", b)
	}
	ms = list(newAPI(presenceStub{st: map[int64]string{bob.id: "online", alice.id: "bogus"}}))
	if ms[bob.id].Presence != "online" || ms[alice.id].Presence != "offline" {
		t.Fatalf("with presence: %+v", ms)
	}
	ms = list(newAPI(presenceStub{st: map[int64]string{bob.id: "away"}}))
	if ms[bob.id].Presence != "away" {
		t.Fatalf("away: %+v", ms[bob.id])
	}
	ms = list(newAPI(presenceStub{err: errors.New("redis down")}))
	if ms[bob.id].Presence != "offline" {
		t.Fatalf("presence down: %+v", ms[bob.id])
	}
}

// serve runs one request as c through mux (an API other than the harness's) and returns
// the body of its 200.
func serve(t *testing.T, mux *http.ServeMux, c *client, method, path string) []byte {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	req.Header.Set("Authorization", "Bearer "+c.token)
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	checkAgainstSpec(t, req, rec.Result(), rec.Body.Bytes())
	if rec.Code != http.StatusOK {
		t.Fatalf("%s %s: %d %s", method, path, rec.Code, rec.Body.Bytes())
	}
	return rec.Body.Bytes()
}

func generalOf(t *testing.T, c *client, ws int64) int64 {
	t.Helper()
	var page struct{ Items []persistence.ChannelView }
	c.ok("GET", fmt.Sprintf("/api/workspaces/%d/channels", ws), nil, &page)
	return page.Items[0].ID
}
