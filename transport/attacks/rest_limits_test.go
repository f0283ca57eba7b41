package attacks_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/parley-chat/parley/transport"
	"github.com/parley-chat/parley/transport/api"
)

// openRESTLimits lifts the REST limits for a test that is not about them but makes many
// requests as one user.
func openRESTLimits(c *transport.Config) {
	open := api.Limit{Rate: 1e6, Burst: 1e6}
	c.RateLimits = api.Limits{Messages: open, Reactions: open, Search: open, Writes: open}
}

// TestRESTPostsFollowTheSendLimit: a node's REST message limit is its STOMP SEND limit
// (--send-rate, --send-burst), per user: past the burst one user gets 429 rate_limited,
// counted in parley_rate_limited_total, while another posts on.
func TestRESTPostsFollowTheSendLimit(t *testing.T) {
	t.Parallel()
	n := startNode(t, func(c *transport.Config) {
		c.Realtime.SendRate, c.Realtime.SendBurst = 0.1, 3
	})
	alice, bob := n.user("alice"), n.user("bob")
	s := n.workspace(alice, "acme", bob)
	for i := range 3 {
		n.post(alice, s.general, fmt.Sprint("burst ", i))
	}
	status, raw := n.do(http.MethodPost, fmt.Sprintf("/api/channels/%d/messages", s.general), alice, map[string]string{"content": "one too many"})
	if status != http.StatusTooManyRequests {
		t.Fatalf("fourth post: %d %s, want 429", status, raw)
	}
	n.post(bob, s.general, "bob posts on")
	if v := n.metric("parley_rate_limited_total"); v != 1 {
		t.Fatalf("parley_rate_limited_total = %v, want 1", v)
	}
}
