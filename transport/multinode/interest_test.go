package multinode_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parley-chat/parley/actors"
	"github.com/parley-chat/parley/stomp"
)

// A node receives a channel's traffic only while it has a subscriber of the channel:
// node 3, with a session but no subscription, receives none of it even though one of its
// users posts there; node 2 stops receiving once its last subscriber has left.
func TestNodeWithoutSubscriberReceivesNoChannelTraffic(t *testing.T) {
	t.Parallel()
	nodes := startCluster(t, clusterOptions{nodes: 3})
	owner := newUser(t, nodes[0], "owner")
	l1, l2, s3 := newUser(t, nodes[0], "listener1"), newUser(t, nodes[1], "listener2"), newUser(t, nodes[2], "sender3")
	chans := workspace(t, nodes, owner, []*user{l1, l2, s3}, "alpha")
	r1 := newReceiver(t, dial(t, nodes[0], l1), "listener1@node1", chans...)
	r2 := newReceiver(t, dial(t, nodes[1], l2), "listener2@node2", chans...)
	c3 := dial(t, nodes[2], s3)
	c1 := dial(t, nodes[0], owner)

	received := func(n *node) float64 {
		return n.metric(t, "parley_bus_received_messages_total", `interest="channel"`)
	}
	// Redis confirmed the channel's topic on nodes 1 and 2 (the resync that follows).
	waitFor(t, "the channel's topic live on nodes 1 and 2", 10*time.Second, func() bool {
		return nodes[0].metric(t, "parley_cluster_resyncs_total") >= 1 && nodes[1].metric(t, "parley_cluster_resyncs_total") >= 1
	})
	var a acks
	for k := range 20 {
		c := c1
		if k%2 == 1 {
			c = c3 // node 3 posts without listening
		}
		if err := a.send(c, chans[0], fmt.Sprintf("m%d", k)); err != nil {
			t.Fatal(err)
		}
	}
	check(t, &a, []*receiver{r1, r2}, 10*time.Second)
	if got := received(nodes[2]); got != 0 {
		t.Fatalf("node 3 has no subscriber of the channel and received %g of its messages", got)
	}
	if received(nodes[1]) == 0 {
		t.Fatal("node 2 has a subscriber and received nothing")
	}

	// Node 2's only subscriber leaves: the node unsubscribes the topic and keeps only the
	// queue topic of listener2, whose session stays open, and the broadcast topic every node
	// holds (users' events, ADR 0052).
	waitFor(t, "node 2 to hold 3 topics (the channel, listener2's queues, broadcast)", 10*time.Second, func() bool {
		return nodes[1].metric(t, "parley_bus_subscribed_topics") == 3
	})
	if err := r2.unsubscribe(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "node 2 to leave the channel's topic", 10*time.Second, func() bool {
		return nodes[1].metric(t, "parley_bus_subscribed_topics") == 2
	})
	before := received(nodes[1])
	var more acks
	for k := range 10 {
		if err := more.send(c3, chans[0], fmt.Sprintf("late%d", k)); err != nil {
			t.Fatal(err)
		}
	}
	_, tops := more.snapshot()
	waitFor(t, "node 1 to get the later messages", 10*time.Second, func() bool { return r1.reached(tops) })
	if got := received(nodes[1]); got != before {
		t.Fatalf("node 2 received %g channel messages after its last subscriber left", got-before)
	}
	if got := received(nodes[2]); got != 0 {
		t.Fatalf("node 3 received %g channel messages", got)
	}
}

// A mention, a notification, a read event, typing and a membership event each reach the
// sessions concerned on other nodes (the reference sent read events and mentions only to
// the local server).
func TestUserAndChannelEventsCrossNodes(t *testing.T) {
	t.Parallel()
	nodes := startCluster(t, clusterOptions{nodes: 3})
	alice, bob, carol := newUser(t, nodes[0], "alice"), newUser(t, nodes[1], "bob"), newUser(t, nodes[2], "carol")
	chans := workspace(t, nodes, alice, []*user{bob, carol}, "alpha")
	cid := strconv.FormatInt(chans[0], 10)

	// bob listens to his queues on node 2; alice to the channel on node 1.
	cb := dial(t, nodes[1], bob)
	mentions, err := cb.Subscribe("/user/queue/mentions")
	if err != nil {
		t.Fatal(err)
	}
	notes, err := cb.Subscribe("/user/queue/notifications")
	if err != nil {
		t.Fatal(err)
	}
	ca := dial(t, nodes[0], alice)
	events, err := ca.Subscribe(actors.ChannelDestination(chans[0]))
	if err != nil {
		t.Fatal(err)
	}
	waitTopic(t, nodes[0], "u:"+strconv.FormatInt(bob.id, 10), 1) // bob's queues, node 2
	waitTopic(t, nodes[0], "c:"+cid, 1)                           // the channel, node 1

	var a acks
	if err := a.send(ca, chans[0], "hello @bob"); err != nil {
		t.Fatal(err)
	}
	m := next(t, mentions.C, "mention on node 2")
	if !strings.Contains(string(m.Body), `"mention"`) || !strings.Contains(string(m.Body), "hello @bob") {
		t.Fatalf("mention: %s", m.Body)
	}
	expectType(t, events.C, "message")

	// carol (node 3) types and marks read; bob (node 2) joins: alice sees it all on node 1.
	cc := dial(t, nodes[2], carol)
	body, _ := json.Marshal(map[string]string{"channelId": cid})
	if err := cc.Send(actors.DestTyping, body); err != nil {
		t.Fatal(err)
	}
	expectType(t, events.C, "typing")
	call(t, nodes[2], http.MethodPut, "/api/channels/"+cid+"/read", carol, map[string]int64{"seq": 1}, nil)
	expectType(t, events.C, "read")
	call(t, nodes[1], http.MethodPost, "/api/channels/"+cid+"/members", bob, map[string]string{"userId": strconv.FormatInt(bob.id, 10)}, nil)
	expectType(t, events.C, "member.joined")

	// alice (node 1) adds bob to a private channel: bob's notification arrives on node 2.
	var priv struct {
		ID        int64 `json:"id,string"`
		Workspace int64 `json:"workspaceId,string"`
	}
	var ch struct {
		WorkspaceID int64 `json:"workspaceId,string"`
	}
	call(t, nodes[0], http.MethodGet, "/api/channels/"+cid, alice, nil, &ch)
	call(t, nodes[0], http.MethodPost, "/api/workspaces/"+strconv.FormatInt(ch.WorkspaceID, 10)+"/channels", alice,
		map[string]string{"name": "secret", "type": "private"}, &priv)
	call(t, nodes[0], http.MethodPost, "/api/channels/"+strconv.FormatInt(priv.ID, 10)+"/members", alice,
		map[string]string{"userId": strconv.FormatInt(bob.id, 10)}, nil)
	// (bob's mention above notified him too: the first notification may be that one.)
	n, _ := nextNotification(t, notes.C, "channel.added", time.Now())
	if n["channel"].(map[string]any)["id"] != strconv.FormatInt(priv.ID, 10) {
		t.Fatalf("notification: %v", n)
	}
}

func next(t *testing.T, c <-chan *stomp.Frame, what string) *stomp.Frame {
	t.Helper()
	select {
	case f, ok := <-c:
		if !ok {
			t.Fatalf("%s: subscription closed", what)
		}
		return f
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
	return nil
}

// expectType reads channel events until one of type typ (others, e.g. a read event the
// server emits for the sender, are skipped).
func expectType(t *testing.T, c <-chan *stomp.Frame, typ string) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case f, ok := <-c:
			if !ok {
				t.Fatalf("waiting for %s: subscription closed", typ)
			}
			var ev struct {
				Type string `json:"type"`
			}
			_ = json.Unmarshal(f.Body, &ev)
			if ev.Type == typ {
				return
			}
		case <-deadline:
			t.Fatalf("timed out waiting for a %s event", typ)
		}
	}
}
