package multinode_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/parley-chat/parley/actors"
	"github.com/parley-chat/parley/stomp"
	"github.com/parley-chat/parley/stomp/stompclient"
)

// presenceFeed is a session's /user/queue/presence: the statuses it was told, in order.
type presenceFeed struct {
	t *testing.T
	c <-chan *stomp.Frame
}

type presenceMsg struct {
	Type   string `json:"type"`
	UserID string `json:"userId"`
	Status string `json:"status"`
}

func watchPresence(t *testing.T, c *stompclient.Client) *presenceFeed {
	t.Helper()
	s, err := c.Subscribe(actors.QueuePresence)
	if err != nil {
		t.Fatal(err)
	}
	return &presenceFeed{t: t, c: s.C}
}

// watch sends /app/presence.watch and waits for its RECEIPT (or the ERROR it gets).
func watch(c *stompclient.Client, ids ...int64) error {
	list := make([]string, len(ids))
	for i, id := range ids {
		list[i] = strconv.FormatInt(id, 10)
	}
	body, _ := json.Marshal(map[string][]string{"userIds": list})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := c.SendWithReceipt(ctx, actors.DestPresenceWatch, body)
	return err
}

func setPresence(t *testing.T, c *stompclient.Client, status string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.SendWithReceipt(ctx, actors.DestPresenceSet, []byte(`{"status":"`+status+`"}`)); err != nil {
		t.Fatal(err)
	}
}

// expect reads the feed until uid's status is want, within d; any event about a user not
// in allowed fails the test.
func (f *presenceFeed) expect(uid int64, want string, d time.Duration, allowed ...int64) time.Duration {
	f.t.Helper()
	start := time.Now()
	deadline := time.After(d)
	for {
		select {
		case fr, ok := <-f.c:
			if !ok {
				f.t.Fatal("presence subscription closed")
			}
			var m presenceMsg
			if err := json.Unmarshal(fr.Body, &m); err != nil || m.Type != "presence" {
				f.t.Fatalf("not a presence event: %s", fr.Body)
			}
			id, _ := strconv.ParseInt(m.UserID, 10, 64)
			ok = id == uid
			for _, a := range allowed {
				ok = ok || id == a
			}
			if !ok {
				f.t.Fatalf("event about user %d, who is not watched: %s", id, fr.Body)
			}
			if id == uid && m.Status == want {
				return time.Since(start)
			}
		case <-deadline:
			f.t.Fatalf("user %d not %s within %s", uid, want, d)
		}
	}
}

func workspaceID(t *testing.T, n *node, as *user) string {
	t.Helper()
	var page struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
	}
	call(t, n, http.MethodGet, "/api/workspaces", as, nil, &page)
	if len(page.Items) == 0 {
		t.Fatal("no workspace")
	}
	return page.Items[0].ID
}

// Alice on node 1 watches bob, who comes and goes on node 2: every change reaches her
// within 2 s; carol, who shares no workspace with alice, is never reported; a list over
// the limit is refused and changes nothing; the REST snapshot agrees.
func TestPresenceAcrossTwoNodes(t *testing.T) {
	t.Parallel()
	nodes := startCluster(t, clusterOptions{nodes: 2})
	alice, bob, carol := newUser(t, nodes[0], "alice"), newUser(t, nodes[1], "bob"), newUser(t, nodes[0], "carol")
	workspace(t, nodes, alice, []*user{bob})
	wid := workspaceID(t, nodes[0], alice)

	ca := dial(t, nodes[0], alice)
	feed := watchPresence(t, ca)
	if err := watch(ca, bob.id, carol.id); err != nil {
		t.Fatal(err)
	}
	feed.expect(bob.id, "offline", 5*time.Second) // the initial status, nothing about carol

	cb := dial(t, nodes[1], bob)
	t.Logf("online after %s", feed.expect(bob.id, "online", 2*time.Second))
	cc := dial(t, nodes[0], carol) // carol comes online: alice hears nothing of it
	_ = cc
	setPresence(t, cb, "away")
	t.Logf("away after %s", feed.expect(bob.id, "away", 2*time.Second))

	var snap map[string]string
	call(t, nodes[0], http.MethodGet, "/api/workspaces/"+wid+"/presence?userIds="+
		strconv.FormatInt(bob.id, 10)+","+strconv.FormatInt(carol.id, 10)+","+strconv.FormatInt(alice.id, 10), alice, nil, &snap)
	want := map[string]string{strconv.FormatInt(bob.id, 10): "away", strconv.FormatInt(alice.id, 10): "online"}
	if len(snap) != len(want) || snap[strconv.FormatInt(bob.id, 10)] != "away" || snap[strconv.FormatInt(alice.id, 10)] != "online" {
		t.Errorf("snapshot %v, want %v (carol, not a member, left out)", snap, want)
	}

	// 501 users: ERROR, and the list in force stays bob's.
	many := make([]int64, 501)
	for i := range many {
		many[i] = int64(i + 1)
	}
	if err := watch(ca, many...); err == nil {
		t.Fatal("a 501-user watch list was accepted")
	}
	setPresence(t, cb, "online")
	feed.expect(bob.id, "online", 2*time.Second)

	// bob's second session on node 1 keeps him online while the first leaves.
	cb2 := dial(t, nodes[0], bob)
	_ = cb.Close()
	setPresence(t, cb2, "away")
	feed.expect(bob.id, "away", 2*time.Second)
	_ = cb2.Close()
	t.Logf("offline after %s", feed.expect(bob.id, "offline", 2*time.Second))

	// Replacing the list with an empty one stops the feed.
	if err := watch(ca); err != nil {
		t.Fatal(err)
	}
	dial(t, nodes[1], bob)
	select {
	case f := <-feed.c:
		t.Fatalf("event after the watch list was emptied: %s", f.Body)
	case <-time.After(500 * time.Millisecond):
	}
}

// A session without user activity for AwayAfter is away; its next frame makes it online.
func TestPresenceIdleSessionGoesAway(t *testing.T) {
	t.Parallel()
	nodes := startCluster(t, clusterOptions{nodes: 2, awayAfter: 700 * time.Millisecond})
	alice, bob := newUser(t, nodes[0], "alice"), newUser(t, nodes[1], "bob")
	workspace(t, nodes, alice, []*user{bob})
	ca := dial(t, nodes[0], alice)
	feed := watchPresence(t, ca)
	cb := dial(t, nodes[1], bob)
	if err := watch(ca, bob.id); err != nil {
		t.Fatal(err)
	}
	feed.expect(bob.id, "online", 2*time.Second)
	feed.expect(bob.id, "away", 5*time.Second)
	// Any frame from bob but a heart-beat is activity: a SUBSCRIBE here.
	if _, err := cb.Subscribe(actors.QueuePresence); err != nil {
		t.Fatal(err)
	}
	feed.expect(bob.id, "online", 2*time.Second)
}

// A node cut off from Redis stops renewing: the other node sweeps it and its users go
// offline for their watchers; once the link is back, the node writes them again.
func TestPresenceNodeCutOffFromRedis(t *testing.T) {
	t.Parallel()
	nodes := startCluster(t, clusterOptions{nodes: 2, proxied: []int{2}})
	alice, bob := newUser(t, nodes[0], "alice"), newUser(t, nodes[1], "bob")
	workspace(t, nodes, alice, []*user{bob})
	ca := dial(t, nodes[0], alice)
	feed := watchPresence(t, ca)
	dial(t, nodes[1], bob)
	if err := watch(ca, bob.id); err != nil {
		t.Fatal(err)
	}
	feed.expect(bob.id, "online", 2*time.Second)
	nodes[1].proxy.Stop()
	t.Logf("offline %s after the cut", feed.expect(bob.id, "offline", 10*time.Second))
	if err := nodes[1].proxy.Start(); err != nil {
		t.Fatal(err)
	}
	feed.expect(bob.id, "online", 10*time.Second)
}
