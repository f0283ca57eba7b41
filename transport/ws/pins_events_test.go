package ws_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/parley-chat/parley/cluster"
	"github.com/parley-chat/parley/persistence"
	"github.com/parley-chat/parley/transport/api"
)

// restOn serves the REST API over env's store and actor system (Poster and Events), as the
// server wires them, so that REST writes reach env's STOMP sessions.
func (e *env) restOn(t *testing.T) string {
	t.Helper()
	ids, err := cluster.NewIDGenerator(2, nil)
	if err != nil {
		t.Fatal(err)
	}
	a, err := api.New(api.Config{}, api.Deps{Store: e.store, Verifier: e.verifier, IDs: ids, Poster: e.sys, Events: e.sys})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	a.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

func restCall(t *testing.T, method, url, token string, body, out any) {
	t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, _ := http.NewRequest(method, url, rd)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		t.Fatalf("%s %s: %d", method, url, resp.StatusCode)
	}
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatal(err)
		}
	}
}

// TestPinEventsReachSubscribers: a pin and an unpin made over REST reach a STOMP
// subscriber of the channel as message.pinned and message.unpinned carrying the message's
// id and seq; pinning again (idempotent) sends nothing more (ADR 0042).
func TestPinEventsReachSubscribers(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	defer http.DefaultClient.CloseIdleConnections()
	base := e.restOn(t)
	aliceTok, alice := e.user("alice")
	bobTok, _ := e.user("bob")
	cid := e.channel(alice, "pins", "public")
	var m persistence.Message
	restCall(t, "POST", fmt.Sprintf("%s/api/channels/%d/messages", base, cid), aliceTok, map[string]any{"content": "pin me"}, &m)

	sub, err := e.dial(bobTok).Subscribe(dest(cid))
	if err != nil {
		t.Fatal(err)
	}
	pin := fmt.Sprintf("%s/api/messages/%d/pin", base, m.ID)
	restCall(t, "PUT", pin, aliceTok, nil, nil)
	restCall(t, "PUT", pin, bobTok, nil, nil) // already pinned: no event
	restCall(t, "DELETE", pin, bobTok, nil, nil)
	restCall(t, "DELETE", pin, aliceTok, nil, nil) // already unpinned: no event
	// A marker after the pins: the next event on the topic must be it.
	restCall(t, "POST", fmt.Sprintf("%s/api/channels/%d/messages", base, cid), aliceTok, map[string]any{"content": "after"}, nil)

	var got []string
	for len(got) == 0 || got[len(got)-1] != "message" {
		f := next(t, sub, 10*time.Second)
		var ev struct {
			Type     string `json:"type"`
			ID       string `json:"id"`
			Seq      int64  `json:"seq"`
			PinnedAt string `json:"pinnedAt"`
		}
		if err := json.Unmarshal(f.Body, &ev); err != nil {
			t.Fatalf("event %q: %v", f.Body, err)
		}
		got = append(got, ev.Type)
		if ev.Type == persistence.EventMessagePinned || ev.Type == persistence.EventMessageUnpinned {
			if ev.ID != strconv.FormatInt(m.ID, 10) || ev.Seq != m.Seq {
				t.Fatalf("%s carries id %s seq %d, want %d and %d", ev.Type, ev.ID, ev.Seq, m.ID, m.Seq)
			}
			if (ev.Type == persistence.EventMessagePinned) != (ev.PinnedAt != "") {
				t.Fatalf("%s with pinnedAt %q", ev.Type, ev.PinnedAt)
			}
		}
	}
	if want := []string{"message.pinned", "message.unpinned", "message"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("events %v, want %v", got, want)
	}
}
