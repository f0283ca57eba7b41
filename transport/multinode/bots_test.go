package multinode_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/parley-chat/parley/actors"
	"github.com/parley-chat/parley/persistence"
	"github.com/parley-chat/parley/stomp"
)

// hookPost POSTs body to an incoming webhook's URL on n, without credentials.
func hookPost(t *testing.T, n *node, url string, body any) (int, []byte) {
	t.Helper()
	b, _ := json.Marshal(body)
	resp, err := http.Post(n.url+url, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw
}

// messageOf reads channel events until a message and returns it with the frame's seq header.
func messageOf(t *testing.T, c <-chan *stomp.Frame, what string) (persistence.Message, string) {
	t.Helper()
	for {
		f := next(t, c, what)
		var ev persistence.MessageEvent
		if err := json.Unmarshal(f.Body, &ev); err != nil {
			t.Fatalf("%s: %s: %v", what, f.Body, err)
		}
		if ev.Type == persistence.EventMessage {
			return ev.Message, f.Value("seq")
		}
	}
}

// A bot made on node 1 authenticates with its token on REST and STOMP on node 2; an
// incoming webhook made on node 1 and posted to on node 1 without credentials reaches a
// subscriber on node 2 with its seq, authored by the hook's bot; revoked on node 2, it is
// 404 on node 1 from the next request; deactivating the bot ends its session on node 2
// with ERROR token_revoked (ADR 0036).
func TestBotsAndIncomingWebhooksAcrossNodes(t *testing.T) {
	t.Parallel()
	nodes := startCluster(t, clusterOptions{nodes: 2})
	alice, bob := newUser(t, nodes[0], "alice"), newUser(t, nodes[1], "bob")
	chans := workspace(t, nodes, alice, []*user{bob}, "builds")
	cid := strconv.FormatInt(chans[0], 10)
	var ch struct {
		WorkspaceID int64 `json:"workspaceId,string"`
	}
	call(t, nodes[0], http.MethodGet, "/api/channels/"+cid, alice, nil, &ch)
	wid := strconv.FormatInt(ch.WorkspaceID, 10)

	var created struct {
		User  persistence.User `json:"user"`
		Token string           `json:"token"`
	}
	call(t, nodes[0], http.MethodPost, "/api/workspaces/"+wid+"/bots", alice, map[string]string{"username": "ci"}, &created)
	bot := &user{name: "ci", id: created.User.ID, token: created.Token}
	var me persistence.User
	call(t, nodes[1], http.MethodGet, "/api/users/me", bot, nil, &me)
	if me.ID != bot.id || !me.IsBot {
		t.Fatalf("the bot's token on node 2 is %+v", me)
	}
	// The bot joins the channel and posts over STOMP on node 2.
	call(t, nodes[1], http.MethodPost, "/api/channels/"+cid+"/members", bot, map[string]string{"userId": strconv.FormatInt(bot.id, 10)}, nil)
	botConn := dial(t, nodes[1], bot)

	bc := dial(t, nodes[1], bob)
	events, err := bc.Subscribe(actors.ChannelDestination(chans[0]))
	if err != nil {
		t.Fatal(err)
	}
	waitTopic(t, nodes[0], "c:"+cid, 1)
	var a acks
	if err := a.send(botConn, chans[0], "bot over stomp"); err != nil {
		t.Fatal(err)
	}
	m, _ := messageOf(t, events.C, "the bot's STOMP message")
	if m.UserID != bot.id || m.Content != "bot over stomp" {
		t.Fatalf("bot message %+v", m)
	}

	var hook struct {
		ID        int64  `json:"id,string"`
		URL       string `json:"url"`
		BotUserID int64  `json:"botUserId,string"`
	}
	call(t, nodes[0], http.MethodPost, "/api/channels/"+cid+"/webhooks/incoming", alice, map[string]string{"name": "Deploys"}, &hook)
	st, raw := hookPost(t, nodes[0], hook.URL, map[string]string{"content": "deployed v1.2 @bob", "clientMsgId": "d-1"})
	var posted persistence.Message
	if st != http.StatusOK || json.Unmarshal(raw, &posted) != nil || posted.UserID != hook.BotUserID {
		t.Fatalf("hook post: %d %s", st, raw)
	}
	got, seq := messageOf(t, events.C, "the hook's message on node 2")
	if got.ID != posted.ID || got.UserID != hook.BotUserID || seq != strconv.FormatInt(posted.Seq, 10) || posted.Seq != m.Seq+1 {
		t.Fatalf("node 2 got %+v seq %q, want %+v", got, seq, posted)
	}
	var author persistence.User
	call(t, nodes[1], http.MethodGet, fmt.Sprintf("/api/users/%d", hook.BotUserID), bob, nil, &author)
	if !author.IsBot || author.DisplayName != "Deploys" {
		t.Fatalf("author %+v", author)
	}
	// A retry on the other node is the same message, delivered once.
	st, raw = hookPost(t, nodes[1], hook.URL, map[string]string{"content": "deployed v1.2 @bob", "clientMsgId": "d-1"})
	var retry persistence.Message
	if st != http.StatusOK || json.Unmarshal(raw, &retry) != nil || retry.ID != posted.ID {
		t.Fatalf("retry on node 2: %d %s", st, raw)
	}

	call(t, nodes[1], http.MethodDelete, fmt.Sprintf("/api/webhooks/incoming/%d", hook.ID), alice, nil, nil)
	for _, n := range nodes {
		if st, raw := hookPost(t, n, hook.URL, map[string]string{"content": "after revocation"}); st != http.StatusNotFound {
			t.Fatalf("node %d after revocation: %d %s", n.id, st, raw)
		}
	}
	// Deactivating the bot on node 1 ends its session on node 2.
	call(t, nodes[0], http.MethodDelete, fmt.Sprintf("/api/bots/%d", bot.id), alice, nil, nil)
	select {
	case f := <-botConn.Errors():
		if f.Value("code") != "token_revoked" {
			t.Fatalf("bot session: ERROR %v %q, want token_revoked", f.Headers, f.Body)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the deactivated bot's session got no ERROR")
	}
	if st := status(t, nodes[1], bot); st != http.StatusUnauthorized {
		t.Fatalf("deactivated bot on node 2: %d", st)
	}
}
