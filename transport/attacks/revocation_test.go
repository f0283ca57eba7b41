package attacks_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parley-chat/parley/persistence"
	"github.com/parley-chat/parley/stomp"
	"github.com/parley-chat/parley/stomp/stompclient"
)

// A subscription does not outlive the access that allowed it: taken out of a private
// channel, or out of the workspace, a user's live subscriptions end with an ERROR naming
// the destination, and nothing posted afterwards reaches them.
func TestSubscriptionsEndWhenAccessEnds(t *testing.T) {
	t.Parallel()
	n := startNode(t, nil)
	alice, bob, carol := n.user("alice"), n.user("bob"), n.user("carol")
	s := n.workspace(alice, "acme", bob, carol)
	secret := n.channel(alice, s.id, "secret", "private")
	n.must(http.MethodPost, fmt.Sprintf("/api/channels/%d/members", secret), alice, map[string]string{"userId": fmt.Sprint(bob.id)}, nil)

	watch, err := n.dial(alice).Subscribe(destOf(secret))
	if err != nil {
		t.Fatal(err)
	}
	watchGeneral, err := n.dial(alice).Subscribe(destOf(s.general))
	if err != nil {
		t.Fatal(err)
	}
	bobClient, carolClient := n.dial(bob), n.dial(carol)
	bobSecret, err := bobClient.Subscribe(destOf(secret))
	if err != nil {
		t.Fatal(err)
	}
	carolGeneral, err := carolClient.Subscribe(destOf(s.general))
	if err != nil {
		t.Fatal(err)
	}
	n.post(alice, secret, "before")
	nextOn(t, watch)
	if f := nextOn(t, bobSecret); f.Command != stomp.CmdMessage {
		t.Fatalf("bob got %v before his removal", f)
	}

	// Bob leaves the private channel by alice's hand.
	n.must(http.MethodDelete, fmt.Sprintf("/api/channels/%d/members/%d", secret, bob.id), alice, nil, nil)
	ended := nextError(t, bobClient)
	if ended.Value(stomp.HdrDestination) != destOf(secret) || (ended.Value("code") != "forbidden" && ended.Value("code") != "not_found") {
		t.Fatalf("bob's ERROR after his removal: %v %q", ended.Headers, ended.Body)
	}
	n.post(alice, secret, "after")
	nothingMoreOn(t, bobClient, bobSecret, watch, "after", "a private channel bob was taken out of")

	// Carol is taken out of the workspace: even its public channels stop.
	n.must(http.MethodDelete, fmt.Sprintf("/api/workspaces/%d/members/%d", s.id, carol.id), alice, nil, nil)
	ended = nextError(t, carolClient)
	if ended.Value(stomp.HdrDestination) != destOf(s.general) {
		t.Fatalf("carol's ERROR after her removal: %v %q", ended.Headers, ended.Body)
	}
	n.post(alice, s.general, "after carol")
	nothingMoreOn(t, carolClient, carolGeneral, watchGeneral, "after carol", "a workspace carol was taken out of")
	n.healthy()
}

func nextError(t *testing.T, c *stompclient.Client) *stomp.Frame {
	t.Helper()
	select {
	case f := <-c.Errors():
		return f
	case <-time.After(10 * time.Second):
		t.Fatal("no ERROR within 10 s")
	}
	return nil
}

// nothingMoreOn checks that sub gets no message posted after the removal: watch (a member's
// subscription to the same channel) waits for the post with content; once it has it the
// channel actor has delivered it, and a RECEIPT the client asks for afterwards comes after
// anything queued for it. The removal's own member.left event may reach the removed user:
// it tells them why.
func nothingMoreOn(t *testing.T, c *stompclient.Client, sub, watch *stompclient.Subscription, content, what string) {
	t.Helper()
	for !strings.Contains(string(nextOn(t, watch).Body), `"content":"`+content+`"`) {
	}
	if _, err := c.Subscribe(persistence.QueueErrors); err != nil {
		t.Fatal(err)
	}
	for {
		select {
		case f, ok := <-sub.C:
			if !ok {
				return
			}
			if !strings.Contains(string(f.Body), `"type":"member.left"`) {
				t.Fatalf("delivered from %s: %v %q", what, f.Headers, f.Body)
			}
			continue
		default:
		}
		return
	}
}
