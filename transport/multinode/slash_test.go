package multinode_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/parley-chat/parley/actors"
	"github.com/parley-chat/parley/integrations/slash"
	"github.com/parley-chat/parley/stomp"
	"github.com/parley-chat/parley/stomp/stompclient"
)

type registered struct {
	ID        string `json:"id"`
	Command   string `json:"command"`
	Secret    string `json:"secret"`
	BotUserID string `json:"botUserId"`
}

// slashSetup is a two-node cluster (node 2 keeps the SSRF guard on), alice owning a
// workspace with channel ops and bob a member, and /deploy registered on a receiver on
// loopback.
type slashSetup struct {
	nodes      []*node
	alice, bob *user
	wid, cid   int64
	rcv        *cmdReceiver
	deploy     registered
}

func newSlashSetup(t *testing.T) *slashSetup {
	t.Helper()
	s := &slashSetup{nodes: startCluster(t, clusterOptions{nodes: 2, refusePrivate: []int{2},
		slash: slash.Config{Timeout: 1500 * time.Millisecond}})}
	s.alice, s.bob = newUser(t, s.nodes[0], "alice"), newUser(t, s.nodes[0], "bob")
	s.cid = workspace(t, s.nodes, s.alice, []*user{s.bob}, "ops")[0]
	var ch struct {
		WorkspaceID int64 `json:"workspaceId,string"`
	}
	call(t, s.nodes[0], http.MethodGet, fmt.Sprintf("/api/channels/%d", s.cid), s.alice, nil, &ch)
	s.wid = ch.WorkspaceID
	s.rcv = newCmdReceiver(t)
	call(t, s.nodes[0], http.MethodPost, s.commands(), s.alice, map[string]string{"command": "/deploy", "url": s.rcv.srv.URL}, &s.deploy)
	if len(s.deploy.Secret) != 64 || s.deploy.BotUserID == "" || s.deploy.BotUserID == "0" {
		t.Fatalf("registration answered %+v", s.deploy)
	}
	s.rcv.mu.Lock()
	s.rcv.secret = s.deploy.Secret
	s.rcv.mu.Unlock()
	return s
}

func (s *slashSetup) commands() string { return fmt.Sprintf("/api/workspaces/%d/commands", s.wid) }

// Registering: owner and admins only, a valid name unique in the workspace, a URL the
// node's SSRF guard accepts; the list never shows the secret; a deleted command is unknown.
func TestSlashCommandRegistration(t *testing.T) {
	t.Parallel()
	s := newSlashSetup(t)
	n1, n2 := s.nodes[0], s.nodes[1]
	for _, tc := range []struct {
		name   string
		n      *node
		as     *user
		body   map[string]string
		status int
		code   string
	}{
		{"a member", n1, s.bob, map[string]string{"command": "/other", "url": s.rcv.srv.URL}, 403, "forbidden"},
		{"taken", n1, s.alice, map[string]string{"command": "/deploy", "url": s.rcv.srv.URL}, 409, "conflict"},
		{"no slash", n1, s.alice, map[string]string{"command": "deploy", "url": s.rcv.srv.URL}, 400, "validation_failed"},
		{"upper case", n1, s.alice, map[string]string{"command": "/Deploy", "url": s.rcv.srv.URL}, 400, "validation_failed"},
		{"too long", n1, s.alice, map[string]string{"command": "/" + strings.Repeat("a", 33), "url": s.rcv.srv.URL}, 400, "validation_failed"},
		{"not http", n1, s.alice, map[string]string{"command": "/other", "url": "ftp://example.com/x"}, 400, "validation_failed"},
		{"loopback without allow-private", n2, s.alice, map[string]string{"command": "/other", "url": s.rcv.srv.URL}, 400, "validation_failed"},
		{"private without allow-private", n2, s.alice, map[string]string{"command": "/other", "url": "http://10.1.2.3/x"}, 400, "validation_failed"},
	} {
		status, raw := restStatus(t, tc.n.url+s.commands(), http.MethodPost, tc.as, tc.body)
		if status != tc.status || problemCode(raw) != tc.code {
			t.Errorf("%s: %d %s, want %d %s", tc.name, status, raw, tc.status, tc.code)
		}
		if tc.n == n2 && !strings.Contains(string(raw), `"url"`) {
			t.Errorf("%s: the refusal does not name the field url: %s", tc.name, raw)
		}
	}
	var list struct {
		Items []map[string]any `json:"items"`
	}
	call(t, n2, http.MethodGet, s.commands(), s.alice, nil, &list)
	if len(list.Items) != 1 || list.Items[0]["command"] != "/deploy" || list.Items[0]["secret"] != nil {
		t.Fatalf("list: %+v", list.Items)
	}
	if status, _ := restStatus(t, n1.url+s.commands(), http.MethodGet, s.bob, nil); status != http.StatusForbidden {
		t.Errorf("a member lists commands: %d, want 403", status)
	}
	if status, _ := restStatus(t, n1.url+s.commands()+"/"+s.deploy.ID, http.MethodDelete, s.bob, nil); status != http.StatusForbidden {
		t.Errorf("a member deletes a command: %d, want 403", status)
	}
	// A command call needs the right to post where it is sent: bob is not in a private
	// channel of alice's, and the receiver hears nothing of it.
	var private struct {
		ID int64 `json:"id,string"`
	}
	call(t, n1, http.MethodPost, fmt.Sprintf("/api/workspaces/%d/channels", s.wid), s.alice, map[string]string{"name": "secret", "type": "private"}, &private)
	status, raw := restStatus(t, fmt.Sprintf("%s/api/channels/%d/messages", n1.url, private.ID), http.MethodPost, s.bob, map[string]string{"content": "/deploy now"})
	if status != http.StatusNotFound && status != http.StatusForbidden {
		t.Errorf("a command call where the caller may not post: %d %s, want 404 or 403", status, raw)
	}
	b := dial(t, n1, s.bob)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := b.SendWithReceipt(ctx, actors.DestMessageSend, sendBody(private.ID, "/deploy now")); err == nil {
		t.Errorf("a STOMP command call where the caller may not post was answered with a RECEIPT")
	}
	call(t, n1, http.MethodDelete, s.commands()+"/"+s.deploy.ID, s.alice, nil, nil)
	status, raw = restStatus(t, fmt.Sprintf("%s/api/channels/%d/messages", n1.url, s.cid), http.MethodPost, s.alice, map[string]string{"content": "/deploy now"})
	if status != http.StatusBadRequest || problemCode(raw) != "unknown_command" {
		t.Errorf("a deleted command: %d %s, want 400 unknown_command", status, raw)
	}
	if s.rcv.count() != 0 {
		t.Errorf("the receiver was called %d times", s.rcv.count())
	}
}

// The STOMP path, across two nodes: the call is signed; an ephemeral response reaches every
// session of the caller (node 1 and node 2) and nobody else; a channel response is posted
// as the command's bot with a seq; unknown commands, failing and slow receivers are errors
// to the caller only; "//" escapes; nothing of the calls is posted.
func TestSlashCommandsOverSTOMP(t *testing.T) {
	t.Parallel()
	s := newSlashSetup(t)
	n1, n2 := s.nodes[0], s.nodes[1]
	a1, a2, b := dial(t, n1, s.alice), dial(t, n2, s.alice), dial(t, n2, s.bob)
	a1eph, a2eph, beph := collect(t, a1, actorsEphemeral), collect(t, a2, actorsEphemeral), collect(t, b, actorsEphemeral)
	bch := collect(t, b, actors.ChannelDestination(s.cid))
	waitTopic(t, n2, "u:"+strconv.FormatInt(s.alice.id, 10), 2)
	waitTopic(t, n1, "c:"+strconv.FormatInt(s.cid, 10), 1)

	send := func(c *stompclient.Client, content string) (*stomp.Frame, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return c.SendWithReceipt(ctx, actors.DestMessageSend, sendBody(s.cid, content))
	}

	// Ephemeral.
	s.rcv.answer(func(c cmdCall) (int, string, time.Duration) {
		return 200, `{"content":"deploying ` + c.Text + `","visibility":"ephemeral"}`, 0
	})
	f, err := send(a1, "/deploy prod now")
	if err != nil {
		t.Fatalf("ephemeral: %v", err)
	}
	if f.Value("command") != "/deploy" || f.Value("visibility") != "ephemeral" || f.Value("seq") != "" {
		t.Errorf("ephemeral RECEIPT headers %v", f.Headers)
	}
	c := s.rcv.last(t)
	if !c.signed {
		t.Errorf("the call's signature does not verify with the secret")
	}
	if c.Command != "/deploy" || c.Text != "prod now" || c.UserID != strconv.FormatInt(s.alice.id, 10) ||
		c.ChannelID != strconv.FormatInt(s.cid, 10) || c.WorkspaceID != strconv.FormatInt(s.wid, 10) ||
		!strings.HasPrefix(c.ResponseURL, n1.url+slash.ResponsePath) || c.delivery == "" {
		t.Errorf("call %+v", c)
	}
	for name, fs := range map[string]*frames{"alice on node 1": a1eph, "alice on node 2": a2eph} {
		waitFor(t, "the ephemeral response on "+name, 10*time.Second, func() bool { return len(fs.snapshot()) == 1 })
		if e := fs.bodies()[0]; e["type"] != "ephemeral" || e["content"] != "deploying prod now" ||
			e["command"] != "/deploy" || e["channelId"] != strconv.FormatInt(s.cid, 10) {
			t.Errorf("%s: ephemeral event %v", name, e)
		}
	}

	// Channel: posted as the bot, with a seq, to subscribers on the other node.
	s.rcv.answer(func(cmdCall) (int, string, time.Duration) {
		return 200, `{"content":"deployed","visibility":"channel"}`, 0
	})
	f, err = send(a1, "/DEPLOY prod")
	if err != nil {
		t.Fatalf("channel: %v", err)
	}
	if f.Value("visibility") != "channel" || f.Value("seq") == "" || f.Value(stomp.HdrMessageID) == "" {
		t.Errorf("channel RECEIPT headers %v", f.Headers)
	}
	waitFor(t, "the channel response at bob's", 10*time.Second, func() bool { return slices.Contains(bch.contents(), "deployed") })
	for i, fr := range bch.snapshot() {
		if m, _ := bch.bodies()[i]["message"].(map[string]any); m != nil && m["content"] == "deployed" {
			if fr.Value("seq") != f.Value("seq") || m["userId"] != s.deploy.BotUserID {
				t.Errorf("channel response seq %s by %v, want seq %s by the bot %s", fr.Value("seq"), m["userId"], f.Value("seq"), s.deploy.BotUserID)
			}
		}
	}

	// Errors to the caller only.
	expectError := func(what, content, code string) {
		t.Helper()
		_, err := send(a1, content)
		var se *stompclient.ServerError
		if !errors.As(err, &se) || se.Frame.Value("code") != code {
			t.Errorf("%s: %v, want ERROR %s", what, err, code)
		}
	}
	expectError("unknown", "/nope x", "unknown_command")
	s.rcv.answer(func(cmdCall) (int, string, time.Duration) { return 500, `{"content":"boom","visibility":"channel"}`, 0 })
	expectError("receiver 500", "/deploy a", "command_failed")
	s.rcv.answer(func(cmdCall) (int, string, time.Duration) { return 200, `not json`, 0 })
	expectError("receiver nonsense", "/deploy b", "command_failed")
	s.rcv.answer(func(cmdCall) (int, string, time.Duration) {
		return 200, `{"content":"too late","visibility":"channel"}`, 5 * time.Second
	})
	expectError("receiver timeout", "/deploy c", "command_failed")
	calls := s.rcv.count()
	// Node 2 keeps the SSRF guard: its call to loopback is refused at dial time.
	_, err = send(a2, "/deploy from node 2")
	if se := (*stompclient.ServerError)(nil); !errors.As(err, &se) || se.Frame.Value("code") != "command_failed" {
		t.Errorf("a call from a node refusing private addresses: %v, want ERROR command_failed", err)
	}
	if s.rcv.count() != calls {
		t.Errorf("a node refusing private addresses reached the receiver")
	}

	// Text that is not a command call is posted; "//" escapes a command word.
	for _, content := range []string{"//deploy is how you deploy", "/usr/bin is a directory", "// a comment"} {
		if _, err := send(a1, content); err != nil {
			t.Errorf("%q: %v", content, err)
		}
	}
	if _, err := send(a1, "marker"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the marker at bob's", 10*time.Second, func() bool { return slices.Contains(bch.contents(), "marker") })
	want := []string{"deployed", "/deploy is how you deploy", "/usr/bin is a directory", "// a comment", "marker"}
	if got := bch.contents(); !slices.Equal(got, want) {
		t.Errorf("bob's channel received %q, want %q (nothing of the command calls, errors or ephemeral responses)", got, want)
	}
	if n := len(beph.snapshot()); n != 0 {
		t.Errorf("bob received %d ephemeral events of alice's", n)
	}
	if n := len(a1eph.snapshot()) + len(a2eph.snapshot()); n != 2 {
		t.Errorf("alice's sessions received %d ephemeral events, want 2 (the failures are ERRORs)", n)
	}
	select {
	case e := <-b.Errors():
		t.Errorf("bob got an ERROR: %v %s", e.Headers, e.Body)
	default:
	}
}

// actorsEphemeral is the caller's ephemeral queue (SPEC).
const actorsEphemeral = "/user/queue/ephemeral"

// The REST path, and response URLs: a receiver answers later (channel or ephemeral), a
// few times, not after the URL expires, never with an unknown token.
func TestSlashCommandsOverRESTAndResponseURLs(t *testing.T) {
	t.Parallel()
	s := newSlashSetup(t)
	n1 := s.nodes[0]
	a1, b := dial(t, n1, s.alice), dial(t, s.nodes[1], s.bob)
	a1eph := collect(t, a1, actorsEphemeral)
	bch := collect(t, b, actors.ChannelDestination(s.cid))
	waitTopic(t, s.nodes[0], "c:"+strconv.FormatInt(s.cid, 10), 1)
	post := func(content string) (int, []byte) {
		return restStatus(t, fmt.Sprintf("%s/api/channels/%d/messages", n1.url, s.cid), http.MethodPost, s.alice, map[string]string{"content": content})
	}

	s.rcv.answer(func(c cmdCall) (int, string, time.Duration) { return 200, `{"text":"ok ` + c.Text + `"}`, 0 })
	status, raw := post("/deploy rest")
	if status != http.StatusOK || !strings.Contains(string(raw), `"visibility":"ephemeral"`) || !strings.Contains(string(raw), `"content":"ok rest"`) {
		t.Errorf("REST ephemeral: %d %s", status, raw)
	}
	if !s.rcv.last(t).signed {
		t.Errorf("the REST call's signature does not verify")
	}
	waitFor(t, "the REST call's ephemeral response on alice's session", 10*time.Second, func() bool { return len(a1eph.snapshot()) == 1 })
	respURL := s.rcv.last(t).ResponseURL

	s.rcv.answer(func(cmdCall) (int, string, time.Duration) {
		return 200, `{"content":"rest deployed","visibility":"channel"}`, 0
	})
	if status, raw := post("/deploy again"); status != http.StatusOK || !strings.Contains(string(raw), `"seq":`) {
		t.Errorf("REST channel: %d %s", status, raw)
	}
	// In a thread: the channel response is a reply in it.
	var root struct {
		ID string `json:"id"`
	}
	call(t, n1, http.MethodPost, fmt.Sprintf("/api/channels/%d/messages", s.cid), s.alice, map[string]string{"content": "release thread"}, &root)
	status, raw = restStatus(t, fmt.Sprintf("%s/api/channels/%d/messages", n1.url, s.cid), http.MethodPost, s.alice,
		map[string]string{"content": "/deploy in thread", "parentId": root.ID})
	if status != http.StatusOK || !strings.Contains(string(raw), `"parentId":"`+root.ID+`"`) {
		t.Errorf("REST channel response in a thread: %d %s", status, raw)
	}
	if c := s.rcv.last(t); c.Text != "in thread" {
		t.Errorf("thread call %+v", c)
	}
	if status, raw := post("/nope"); status != http.StatusBadRequest || problemCode(raw) != "unknown_command" {
		t.Errorf("REST unknown: %d %s", status, raw)
	}
	s.rcv.answer(func(cmdCall) (int, string, time.Duration) { return 503, "", 0 })
	if status, raw := post("/deploy broken"); status != http.StatusBadGateway || problemCode(raw) != "command_failed" {
		t.Errorf("REST failing receiver: %d %s", status, raw)
	}
	if status, raw := post("//deploy as text"); status != http.StatusCreated || !strings.Contains(string(raw), `"content":"/deploy as text"`) {
		t.Errorf("REST escaped: %d %s", status, raw)
	}

	// The response URL of the first call: no Authorization, five uses.
	respond := func(url, content, vis string) (int, []byte) {
		return restStatus(t, url, http.MethodPost, nil, map[string]string{"content": content, "visibility": vis})
	}
	if status, raw := respond(respURL, "later in channel", "channel"); status != http.StatusOK {
		t.Fatalf("response URL, channel: %d %s", status, raw)
	}
	if status, raw := respond(respURL, "later for you", "ephemeral"); status != http.StatusOK {
		t.Fatalf("response URL, ephemeral: %d %s", status, raw)
	}
	waitFor(t, "the later ephemeral response", 10*time.Second, func() bool { return len(a1eph.snapshot()) == 2 })
	if e := a1eph.bodies()[1]; e["content"] != "later for you" || e["command"] != "/deploy" {
		t.Errorf("later ephemeral event %v", e)
	}
	if status, raw := respond(respURL, "x", "sideways"); status != http.StatusBadRequest {
		t.Errorf("a bad visibility: %d %s", status, raw)
	}
	for i := 0; i < 3; i++ {
		if status, raw := respond(respURL, "use "+strconv.Itoa(i+3), "ephemeral"); status != http.StatusOK {
			t.Fatalf("use %d: %d %s", i+3, status, raw)
		}
	}
	if status, raw := respond(respURL, "sixth", "channel"); status != http.StatusGone {
		t.Errorf("a sixth use: %d %s, want 410", status, raw)
	}
	if status, _ := respond(n1.url+slash.ResponsePath+strings.Repeat("ab", 32), "x", "channel"); status != http.StatusNotFound {
		t.Errorf("an unknown token: %d, want 404", status)
	}
	// Expiry: the URL of the second call, expired in the database.
	s.rcv.answer(func(cmdCall) (int, string, time.Duration) { return 200, "", 0 })
	if status, raw := post("/deploy silent"); status != http.StatusOK {
		t.Fatalf("a silent command: %d %s", status, raw)
	}
	expiring := s.rcv.last(t).ResponseURL
	conn, err := pgx.Connect(context.Background(), n1.db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), `UPDATE slash_responses SET expires_at = now() - interval '1 second'`); err != nil {
		t.Fatal(err)
	}
	if status, raw := respond(expiring, "expired", "channel"); status != http.StatusGone {
		t.Errorf("an expired response URL: %d %s, want 410", status, raw)
	}

	if _, err := b.SendWithReceipt(context.Background(), actors.DestMessageSend, sendBody(s.cid, "marker")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the marker", 10*time.Second, func() bool { return slices.Contains(bch.contents(), "marker") })
	want := []string{"rest deployed", "release thread", "rest deployed", "/deploy as text", "later in channel", "marker"}
	if got := bch.contents(); !slices.Equal(got, want) {
		t.Errorf("the channel received %q, want %q", got, want)
	}
}
