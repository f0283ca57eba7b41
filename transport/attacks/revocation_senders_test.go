package attacks_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/parley-chat/parley/stomp/stompclient"
	"github.com/parley-chat/parley/transport"
	"github.com/parley-chat/parley/transport/internal/revocationtest"
)

// A session that sends without subscribing, and one that subscribes and sends, are refused
// as soon as their user is taken out of a private channel, or out of the workspace: no send
// issued later than revocationtest.Bound after the removal's 204 is accepted. On today's main
// the send-only session kept posting for ~1.25 s (its cached access check lived for
// AccessTTL, and only subscribed channels were checked again).
func TestSendsStopWhenAccessEnds(t *testing.T) {
	t.Parallel()
	n := startNode(t, func(c *transport.Config) { c.Realtime.SendRate, c.Realtime.SendBurst = 1000, 1000 })
	alice, bob, carol := n.user("alice"), n.user("bob"), n.user("carol")
	s := n.workspace(alice, "acme", bob, carol)
	secret := n.channel(alice, s.id, "secret", "private")
	n.must(http.MethodPost, fmt.Sprintf("/api/channels/%d/members", secret), alice, map[string]string{"userId": fmt.Sprint(bob.id)}, nil)

	t.Run("private channel", func(t *testing.T) {
		sendOnly, subscribed := n.dial(bob), n.dial(bob)
		if _, err := subscribed.Subscribe(destOf(secret)); err != nil {
			t.Fatal(err)
		}
		outcomes := revocationtest.SendsAcrossRemoval(t, secret, func() {
			n.must(http.MethodDelete, fmt.Sprintf("/api/channels/%d/members/%d", secret, bob.id), alice, nil, nil)
		}, sendOnly, subscribed)
		revocationtest.Check(t, "send-only session", outcomes[0])
		revocationtest.Check(t, "subscribed session", outcomes[1])
	})
	t.Run("workspace", func(t *testing.T) {
		other := n.channel(alice, s.id, "other", "public")
		sendOnly := n.dial(carol)
		mustSend(t, sendOnly, other) // a second cached channel: every one must go
		outcomes := revocationtest.SendsAcrossRemoval(t, s.general, func() {
			n.must(http.MethodDelete, fmt.Sprintf("/api/workspaces/%d/members/%d", s.id, carol.id), alice, nil, nil)
		}, sendOnly)
		revocationtest.Check(t, "send-only session", outcomes[0])
		if err := revocationtest.TrySend(sendOnly, other); !revocationtest.RefusedForAccess(err) {
			t.Fatalf("a send to the workspace's other channel after the removal: %v", err)
		}
	})
	n.healthy()
}

func mustSend(t *testing.T, c *stompclient.Client, cid int64) {
	t.Helper()
	if err := revocationtest.TrySend(c, cid); err != nil {
		t.Fatalf("send to %d: %v", cid, err)
	}
}
