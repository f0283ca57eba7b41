package multinode_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/parley-chat/parley/actors"
	"github.com/parley-chat/parley/persistence"
	"github.com/parley-chat/parley/stomp"
	"github.com/parley-chat/parley/stomp/stompclient"
)

// inbox records, in arrival order, what one session hears on /user/queue/mentions and
// /user/queue/notifications (one read goroutine feeds both, so their order is the wire's).
type inbox struct {
	name string
	mu   sync.Mutex
	log  []inboxEvent
}

type inboxEvent struct {
	queue     string // persistence.QueueMentions or QueueNotifications
	typ       string
	via       string // notifications only
	messageID string
}

func newInbox(t *testing.T, c *stompclient.Client, name string) *inbox {
	t.Helper()
	in := &inbox{name: name}
	for _, q := range []string{persistence.QueueMentions, persistence.QueueNotifications} {
		if _, err := c.SubscribeFunc(q, func(f *stomp.Frame, _ time.Time) {
			var ev struct {
				Type    string `json:"type"`
				Via     string `json:"via"`
				Message struct {
					ID string `json:"id"`
				} `json:"message"`
			}
			_ = json.Unmarshal(f.Body, &ev)
			in.mu.Lock()
			in.log = append(in.log, inboxEvent{queue: q, typ: ev.Type, via: ev.Via, messageID: ev.Message.ID})
			in.mu.Unlock()
		}); err != nil {
			t.Fatalf("%s: subscribe %s: %v", name, q, err)
		}
	}
	return in
}

// about returns the events about message id, in arrival order.
func (in *inbox) about(id string) []inboxEvent {
	in.mu.Lock()
	defer in.mu.Unlock()
	var out []inboxEvent
	for _, e := range in.log {
		if e.messageID == id {
			out = append(out, e)
		}
	}
	return out
}

// waitMention waits until the inbox holds the mention of message id on queue and returns
// the event.
func (in *inbox) waitMention(t *testing.T, queue, id string) inboxEvent {
	t.Helper()
	var got inboxEvent
	waitFor(t, in.name+" hearing of the mention in "+id+" on "+queue, 10*time.Second, func() bool {
		for _, e := range in.about(id) {
			if e.queue == queue && e.typ == persistence.EventMention {
				got = e
				return true
			}
		}
		return false
	})
	return got
}

// mentionedIn returns the ids of the messages u is mentioned in, from GET /api/mentions on n.
func mentionedIn(t *testing.T, n *node, u *user) map[string]bool {
	t.Helper()
	var page struct {
		Items []struct {
			MessageID string `json:"messageId"`
		} `json:"items"`
	}
	call(t, n, http.MethodGet, "/api/mentions?limit=100", u, nil, &page)
	out := map[string]bool{}
	for _, m := range page.Items {
		out[m.MessageID] = true
	}
	return out
}

// sendID posts content to channel over STOMP and returns the message id from its RECEIPT.
func sendID(t *testing.T, c *stompclient.Client, channel int64, content string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"channelId": strconv.FormatInt(channel, 10), "content": content})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	f, err := c.SendWithReceipt(ctx, actors.DestMessageSend, body)
	if err != nil {
		t.Fatalf("send %q: %v", content, err)
	}
	id := f.Value(stomp.HdrMessageID)
	if id == "" {
		t.Fatalf("RECEIPT without message-id: %v", f)
	}
	return id
}

// @here across two nodes sharing PostgreSQL and Redis, with the real presence service
// (ADR 0033) behind the store (ADR 0034): sam on node 1 says @here in #ops, whose members
// are alice (online on node 2), bob (no session: offline), carol (online on node 1, muted
// #ops), erin (online on node 2, notify "none" for #ops) and dave (online on node 2 but
// away). Only alice is mentioned and notified, over STOMP and over REST; away is not online
// for @here. @channel then reaches bob and dave as well, never carol or erin.
func TestHereHonoursPresenceAndPrefs(t *testing.T) {
	t.Parallel()
	nodes := startCluster(t, clusterOptions{nodes: 2})
	n1, n2 := nodes[0], nodes[1]
	sam := newUser(t, n1, "sam")
	alice, bob, carol := newUser(t, n2, "alice"), newUser(t, n1, "bob"), newUser(t, n1, "carol")
	erin, dave := newUser(t, n2, "erin"), newUser(t, n2, "dave")
	members := []*user{alice, bob, carol, erin, dave}
	ops := workspace(t, nodes, sam, members, "ops")[0]
	wid := workspaceID(t, n1, sam)
	cid := strconv.FormatInt(ops, 10)
	for _, u := range members {
		call(t, n1, http.MethodPost, "/api/channels/"+cid+"/members", u, map[string]string{"userId": strconv.FormatInt(u.id, 10)}, nil)
	}
	call(t, n1, http.MethodPut, "/api/channels/"+cid+"/prefs", carol, map[string]any{"muted": true}, nil)
	call(t, n2, http.MethodPut, "/api/channels/"+cid+"/prefs", erin, map[string]any{"notify": "none"}, nil)

	cs := dial(t, n1, sam)
	ina := newInbox(t, dial(t, n2, alice), "alice")
	inc := newInbox(t, dial(t, n1, carol), "carol")
	ine := newInbox(t, dial(t, n2, erin), "erin")
	cd := dial(t, n2, dave)
	ind := newInbox(t, cd, "dave")
	setPresence(t, cd, "away")
	for _, u := range []*user{alice, carol, erin, dave} {
		waitTopic(t, n1, "u:"+strconv.FormatInt(u.id, 10), 1) // each user's queues are live
	}

	// Presence as the store will read it (the snapshot asks the same service).
	want := map[int64]string{alice.id: "online", bob.id: "offline", carol.id: "online", erin.id: "online", dave.id: "away"}
	q := "/api/workspaces/" + wid + "/presence?userIds="
	for id := range want {
		q += strconv.FormatInt(id, 10) + ","
	}
	q = q[:len(q)-1]
	waitFor(t, "presence "+strconv.Quote(q), 10*time.Second, func() bool {
		var snap map[string]string
		call(t, n1, http.MethodGet, q, sam, nil, &snap)
		for id, st := range want {
			if snap[strconv.FormatInt(id, 10)] != st {
				return false
			}
		}
		return true
	})

	// mentions checks, from PostgreSQL (committed before the RECEIPT or the 201), who is
	// mentioned in message id.
	mentions := func(id, what string, wantMentioned ...*user) {
		t.Helper()
		for i, u := range members {
			wantIt := false
			for _, w := range wantMentioned {
				wantIt = wantIt || w == u
			}
			if got := mentionedIn(t, nodes[i%2], u)[id]; got != wantIt {
				t.Errorf("%s: %s mentioned %v, want %v", what, u.name, got, wantIt)
			}
		}
	}

	// @here over STOMP on node 1.
	here := sendID(t, cs, ops, "@here deploy is done")
	mentions(here, "@here over STOMP", alice)
	ina.waitMention(t, persistence.QueueMentions, here)
	if ev := ina.waitMention(t, persistence.QueueNotifications, here); ev.via != persistence.MentionViaHere {
		t.Errorf("alice's notification via %q, want %q", ev.via, persistence.MentionViaHere)
	}

	// @here over REST on node 2 (that node's store and presence).
	var posted struct {
		ID string `json:"id"`
	}
	call(t, n2, http.MethodPost, "/api/channels/"+cid+"/messages", sam, map[string]string{"content": "rollback is done too, @here"}, &posted)
	hereREST := posted.ID
	mentions(hereREST, "@here over REST", alice)
	ina.waitMention(t, persistence.QueueMentions, hereREST)
	if ev := ina.waitMention(t, persistence.QueueNotifications, hereREST); ev.via != persistence.MentionViaHere {
		t.Errorf("alice's notification via %q, want %q", ev.via, persistence.MentionViaHere)
	}

	// @channel: every member, online or not, but those who muted the channel or set
	// notify "none"; dave is notified (away is not do-not-disturb).
	all := sendID(t, cs, ops, "@channel retro at 4")
	mentions(all, "@channel", alice, bob, dave)
	for _, in := range []*inbox{ina, ind} {
		in.waitMention(t, persistence.QueueMentions, all)
		if ev := in.waitMention(t, persistence.QueueNotifications, all); ev.via != persistence.MentionViaChannel {
			t.Errorf("%s's notification via %q, want %q", in.name, ev.via, persistence.MentionViaChannel)
		}
	}

	// A direct mention of the others, sent last on the same channel, is the marker: once it
	// has reached a session, anything the earlier messages made for it has too. Muted or
	// "none", a direct @name is still a mention (on /user/queue/mentions), but it notifies
	// only dave.
	marker := sendID(t, cs, ops, "@carol @erin @dave see above")
	mentions(marker, "direct mentions", carol, erin, dave)
	for _, in := range []*inbox{inc, ine, ind} {
		in.waitMention(t, persistence.QueueMentions, marker)
	}
	ind.waitMention(t, persistence.QueueNotifications, marker)
	for _, in := range []*inbox{inc, ine, ind} {
		for _, id := range []string{here, hereREST} {
			if evs := in.about(id); len(evs) != 0 {
				t.Errorf("%s heard of @here message %s: %+v", in.name, id, evs)
			}
		}
	}
	for _, in := range []*inbox{inc, ine} {
		if evs := in.about(all); len(evs) != 0 {
			t.Errorf("%s heard of @channel message: %+v", in.name, evs)
		}
		if evs := in.about(marker); len(evs) != 1 || evs[0].queue != persistence.QueueMentions {
			t.Errorf("%s heard of the direct mention %+v, want only on %s", in.name, evs, persistence.QueueMentions)
		}
	}
}
