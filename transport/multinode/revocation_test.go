package multinode_test

import (
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/parley-chat/parley/actors"
	"github.com/parley-chat/parley/stomp"
	"github.com/parley-chat/parley/transport/internal/revocationtest"
)

// Taken out of a private channel, then out of the workspace, by a REST call on node 1, a
// user's sessions stop posting within revocationtest.Bound of the 204 on both nodes: those that
// only send and those that subscribe too, whose subscription ends. On today's main the
// send-only sessions kept posting for ~1-1.5 s, and node 2 dropped the access change as a
// malformed user event: its subscribed session kept both posting and its subscription.
func TestSendsStopWhenAccessEndsOnEveryNode(t *testing.T) {
	t.Parallel()
	nodes := startCluster(t, clusterOptions{nodes: 2})
	alice, bob := newUser(t, nodes[0], "alice"), newUser(t, nodes[1], "bob")
	chans := workspace(t, nodes, alice, []*user{bob}, "open")
	var ws struct {
		Items []struct {
			ID int64 `json:"id,string"`
		} `json:"items"`
	}
	call(t, nodes[0], http.MethodGet, "/api/workspaces", alice, nil, &ws)
	wid := ws.Items[0].ID
	var secret struct {
		ID int64 `json:"id,string"`
	}
	call(t, nodes[0], http.MethodPost, fmt.Sprintf("/api/workspaces/%d/channels", wid), alice,
		map[string]string{"name": "secret", "type": "private"}, &secret)
	call(t, nodes[0], http.MethodPost, fmt.Sprintf("/api/channels/%d/members", secret.ID), alice,
		map[string]string{"userId": strconv.FormatInt(bob.id, 10)}, nil)

	onNode1, onNode2, subscribedOnNode2 := dial(t, nodes[0], bob), dial(t, nodes[1], bob), dial(t, nodes[1], bob)
	if _, err := subscribedOnNode2.SubscribeFunc(actors.ChannelDestination(secret.ID), func(*stomp.Frame, time.Time) {}); err != nil {
		t.Fatal(err)
	}
	// Both nodes hold bob's queue topic: from now on an access change reaches them.
	waitTopic(t, nodes[1], "u:"+strconv.FormatInt(bob.id, 10), 2)

	outcomes := revocationtest.SendsAcrossRemoval(t, secret.ID, func() {
		call(t, nodes[0], http.MethodDelete, fmt.Sprintf("/api/channels/%d/members/%d", secret.ID, bob.id), alice, nil, nil)
	}, onNode1, onNode2, subscribedOnNode2)
	revocationtest.Check(t, "private channel, send-only session on node 1", outcomes[0])
	revocationtest.Check(t, "private channel, send-only session on node 2", outcomes[1])
	revocationtest.Check(t, "private channel, subscribed session on node 2", outcomes[2])
	// The subscription on node 2 ends too (ADR 0009), with an ERROR naming it.
	select {
	case f := <-subscribedOnNode2.Errors():
		if f.Value(stomp.HdrDestination) != actors.ChannelDestination(secret.ID) {
			t.Fatalf("ERROR on node 2 after the removal: %v %q", f.Headers, f.Body)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the subscription on node 2 did not end within 10 s of the removal")
	}

	outcomes = revocationtest.SendsAcrossRemoval(t, chans[0], func() {
		call(t, nodes[0], http.MethodDelete, fmt.Sprintf("/api/workspaces/%d/members/%d", wid, bob.id), alice, nil, nil)
	}, onNode1, onNode2)
	revocationtest.Check(t, "workspace, send-only session on node 1", outcomes[0])
	revocationtest.Check(t, "workspace, send-only session on node 2", outcomes[1])
}
