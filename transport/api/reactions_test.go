package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"testing"

	"github.com/parley-chat/parley/persistence"
	"github.com/parley-chat/parley/transport/api"
)

func openReactions() api.Config {
	return api.Config{Limits: api.Limits{Reactions: api.Limit{Rate: 1e6, Burst: 1e6}}}
}

// TestFiftyDistinctReactionsPerMessage: the 51st distinct emoji on a message is refused
// with 409 too_many_reactions and stores nothing; one of the fifty still works. Before,
// one user put 1,000 distinct reactions on one message (issue 21, finding 5).
func TestFiftyDistinctReactionsPerMessage(t *testing.T) {
	t.Parallel()
	tm := newTeam(t, harnessOpts{cfg: openReactions()})
	m := tm.post(tm.alice, "react")
	path := func(e string) string { return fmt.Sprintf("/api/messages/%d/reactions/%s", m.ID, url.PathEscape(e)) }
	for i := range persistence.MaxReactionsPerMessage {
		tm.alice.ok("PUT", path(fmt.Sprintf(":e%d:", i)), nil, nil)
	}
	var p api.Problem
	body := tm.bob.expect(http.StatusConflict, "PUT", path("👍"), nil)
	if err := json.Unmarshal(body, &p); err != nil || p.Code != "too_many_reactions" {
		t.Fatalf("51st distinct reaction: %s", body)
	}
	var r persistence.Reaction
	tm.bob.ok("PUT", path(":e7:"), nil, &r)
	if r.Count != 2 || !r.Me {
		t.Fatalf("a 50th emoji's second reactor: %+v", r)
	}
	if n := tm.h.count(`SELECT count(DISTINCT emoji) FROM reactions WHERE message_id = $1`, m.ID); n != 50 {
		t.Fatalf("%d distinct reactions stored, want 50", n)
	}
	// Removing one makes room for another.
	tm.alice.ok("DELETE", path(":e0:"), nil, nil)
	tm.bob.ok("PUT", path("👍"), nil, nil)
}

// TestDistinctReactionCapUnderConcurrentAdds: 80 new emojis added at once on a message
// with 45 leave exactly 50.
func TestDistinctReactionCapUnderConcurrentAdds(t *testing.T) {
	t.Parallel()
	tm := newTeam(t, harnessOpts{cfg: openReactions()})
	m := tm.post(tm.alice, "react")
	path := func(e string) string { return fmt.Sprintf("/api/messages/%d/reactions/%s", m.ID, url.PathEscape(e)) }
	for i := range 45 {
		tm.alice.ok("PUT", path(fmt.Sprintf(":a%d:", i)), nil, nil)
	}
	var wg sync.WaitGroup
	status := make([]int, 80)
	for i := range status {
		wg.Go(func() {
			c := tm.alice
			if i%2 == 1 {
				c = tm.bob
			}
			status[i], _ = c.do("PUT", path(fmt.Sprintf(":b%d:", i)), nil)
		})
	}
	wg.Wait()
	ok := 0
	for i, s := range status {
		switch s {
		case http.StatusOK:
			ok++
		case http.StatusConflict:
		default:
			t.Errorf("add %d: %d", i, s)
		}
	}
	if n := tm.h.count(`SELECT count(DISTINCT emoji) FROM reactions WHERE message_id = $1`, m.ID); n != 50 || ok != 5 {
		t.Fatalf("%d distinct reactions stored, %d adds accepted; want 50 and 5", n, ok)
	}
}

// TestReactionEmojiIsValidated: a reaction is one Unicode emoji sequence or a :shortcode:;
// anything else is 400 validation_failed and stores nothing.
func TestReactionEmojiIsValidated(t *testing.T) {
	t.Parallel()
	tm := newTeam(t, harnessOpts{cfg: openReactions()})
	m := tm.post(tm.alice, "react")
	path := func(e string) string { return fmt.Sprintf("/api/messages/%d/reactions/%s", m.ID, url.PathEscape(e)) }
	for _, e := range []string{"👍🏽", "🇫🇷", "👨‍👩‍👧", ":+1:"} {
		tm.alice.ok("PUT", path(e), nil, nil)
	}
	for _, e := range []string{"tada", "<b>", "x👍", "👍👍", ":Big:", "🇫"} {
		body := tm.alice.expect(http.StatusBadRequest, "PUT", path(e), nil)
		var p api.Problem
		if err := json.Unmarshal(body, &p); err != nil || p.Code != "validation_failed" || p.Field != "emoji" {
			t.Errorf("%q: %s", e, body)
		}
	}
	if n := tm.h.count(`SELECT count(*) FROM reactions WHERE message_id = $1`, m.ID); n != 4 {
		t.Fatalf("%d reactions stored, want 4", n)
	}
	// A reaction stored under the old rule can still be removed.
	if _, err := tm.h.store.Pool().Exec(t.Context(), `INSERT INTO reactions (message_id, emoji, user_id) VALUES ($1, 'legacy', $2)`, m.ID, tm.alice.id); err != nil {
		t.Fatal(err)
	}
	var r persistence.Reaction
	tm.alice.ok("DELETE", path("legacy"), nil, &r)
	if r.Count != 0 {
		t.Fatalf("legacy reaction after DELETE: %+v", r)
	}
}
