package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	parleyactors "github.com/parley-chat/parley/actors"
	"github.com/parley-chat/parley/transport/api"
	"github.com/parley-chat/parley/transport/clientip"
)

// tight is a limit that refills too slowly (one token per 10 s) to matter during a test.
func tight(burst int) api.Limit { return api.Limit{Rate: 0.1, Burst: burst} }

// send makes a request with extra headers (token: bearer, "" none) and returns the
// response with its body read.
func send(t *testing.T, h *harness, method, path, token string, body any, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, h.srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// expectLimited fails unless resp is 429 problem+json code rate_limited with a Retry-After
// of whole seconds, at least 1.
func expectLimited(t *testing.T, what string, resp *http.Response, body []byte) {
	t.Helper()
	var p api.Problem
	_ = json.Unmarshal(body, &p)
	if resp.StatusCode != http.StatusTooManyRequests || p.Code != "rate_limited" ||
		resp.Header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("%s: %d %s %s, want 429 problem+json rate_limited", what, resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || s < 1 {
		t.Fatalf("%s: Retry-After %q, want whole seconds >= 1", what, resp.Header.Get("Retry-After"))
	}
}

// limitedCount reads parley_rate_limited_total{limit}.
func limitedCount(t *testing.T, reg *prometheus.Registry, limit string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "parley_rate_limited_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "limit" && l.GetValue() == limit {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// TestMessagePostsPastTheBurstAreRefused: a user posting over REST gets the burst, then 429
// with Retry-After, and nothing more is stored; another user posts on. Without the limit
// one user posted thousands of messages a second (issue 21, finding 5).
func TestMessagePostsPastTheBurstAreRefused(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	tm := newTeam(t, harnessOpts{cfg: api.Config{Limits: api.Limits{Messages: tight(5)}}, registerer: reg})
	for i := range 5 {
		tm.post(tm.alice, "burst "+strconv.Itoa(i))
	}
	resp, body := send(t, tm.h, "POST", tm.msgs(), tm.alice.token, map[string]any{"content": "one too many"}, nil)
	expectLimited(t, "sixth post", resp, body)
	tm.post(tm.bob, "bob is not limited by alice")
	if n := tm.h.count(`SELECT count(*) FROM messages WHERE user_id = $1`, tm.alice.id); n != 5 {
		t.Fatalf("%d of alice's messages stored, want 5", n)
	}
	if v := limitedCount(t, reg, "rest_messages"); v != 1 {
		t.Fatalf("parley_rate_limited_total{limit=rest_messages} = %v, want 1", v)
	}
}

// The message limit's default is STOMP SEND's (the server passes its configured one).
func TestMessageLimitDefaultsToTheSendLimit(t *testing.T) {
	want := api.Limit{Rate: parleyactors.DefaultSendRate, Burst: parleyactors.DefaultSendBurst}
	if api.DefaultMessagesLimit != want {
		t.Fatalf("REST message limit %+v, STOMP SEND limit %+v", api.DefaultMessagesLimit, want)
	}
}

func TestSearchesAreLimitedPerUser(t *testing.T) {
	t.Parallel()
	tm := newTeam(t, harnessOpts{cfg: api.Config{Limits: api.Limits{Search: tight(3)}}})
	path := fmt.Sprintf("/api/workspaces/%d/search?q=hello", tm.ws)
	for range 3 {
		tm.alice.ok("GET", path, nil, nil)
	}
	resp, body := send(t, tm.h, "GET", path, tm.alice.token, nil, nil)
	expectLimited(t, "fourth search", resp, body)
	tm.bob.ok("GET", path, nil, nil)
}

func TestOtherWritesAndReactionsAreLimitedPerUser(t *testing.T) {
	t.Parallel()
	tm := newTeam(t, harnessOpts{cfg: api.Config{Limits: api.Limits{Writes: tight(3), Reactions: tight(2)}}})
	carol := tm.h.user("carol")
	for i := range 3 {
		carol.ok("POST", "/api/workspaces", map[string]any{"name": "w" + strconv.Itoa(i)}, nil)
	}
	resp, body := send(t, tm.h, "POST", "/api/workspaces", carol.token, map[string]any{"name": "one too many"}, nil)
	expectLimited(t, "fourth write", resp, body)
	// Reactions have their own bucket, and so do messages.
	m := tm.post(tm.alice, "react to me")
	react := fmt.Sprintf("/api/messages/%d/reactions/", m.ID)
	tm.alice.ok("PUT", react+"%F0%9F%91%8D", nil, nil)
	tm.alice.ok("DELETE", react+"%F0%9F%91%8D", nil, nil)
	resp, body = send(t, tm.h, "PUT", react+"%F0%9F%8E%89", tm.alice.token, nil, nil)
	expectLimited(t, "third reaction change", resp, body)
	tm.bob.ok("PUT", react+"%F0%9F%8E%89", nil, nil)
	tm.bob.ok("PUT", fmt.Sprintf("/api/channels/%d/read", tm.gen), map[string]any{"seq": 0}, nil)
}

// TestDevLoginIsLimitedPerAddress: dev logins from one address get the burst, then 429;
// another client address (named by a trusted proxy) logs in on.
func TestDevLoginIsLimitedPerAddress(t *testing.T) {
	t.Parallel()
	proxy, err := clientip.New([]string{"127.0.0.1", "::1"})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	h := newHarness(t, harnessOpts{cfg: api.Config{DevMode: true, Limits: api.Limits{DevLogin: tight(3)}},
		clientIP: proxy, registerer: reg})
	login := func(name, from string) (*http.Response, []byte) {
		return send(t, h, "POST", "/api/auth/dev/login", "", map[string]string{"username": name},
			map[string]string{"X-Forwarded-For": from})
	}
	for i := range 3 {
		if resp, body := login("u"+strconv.Itoa(i), "198.51.100.7"); resp.StatusCode != http.StatusOK {
			t.Fatalf("login %d: %d %s", i, resp.StatusCode, body)
		}
	}
	resp, body := login("ceo", "198.51.100.7")
	expectLimited(t, "fourth login from one address", resp, body)
	if resp, body := login("ceo", "203.0.113.9"); resp.StatusCode != http.StatusOK {
		t.Fatalf("login from another address: %d %s", resp.StatusCode, body)
	}
	if v := limitedCount(t, reg, "dev_login"); v != 1 {
		t.Fatalf("parley_rate_limited_total{limit=dev_login} = %v, want 1", v)
	}
}

// TestBadCredentialsAreLimitedPerAddress: requests with bad tokens from one address get the
// burst of 401s, then 429; a valid token from the same address is still served.
func TestBadCredentialsAreLimitedPerAddress(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpts{cfg: api.Config{Limits: api.Limits{Unauthenticated: tight(3)}}})
	alice := h.user("alice")
	for i := range 3 {
		if resp, body := send(t, h, "GET", "/api/users/me", "not-a-token", nil, nil); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("bad token %d: %d %s", i, resp.StatusCode, body)
		}
	}
	resp, body := send(t, h, "GET", "/api/users/me", "not-a-token", nil, nil)
	expectLimited(t, "fourth bad token", resp, body)
	resp, body = send(t, h, "GET", "/openapi.json", "", nil, nil)
	expectLimited(t, "public route from the same address", resp, body)
	alice.ok("GET", "/api/users/me", nil, nil)
}
