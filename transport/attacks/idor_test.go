package attacks_test

import (
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/parley-chat/parley/actors"
	"github.com/parley-chat/parley/stomp"
	"github.com/parley-chat/parley/transport/api"
)

// victims is a workspace with something of every kind, and the ids an attacker from
// another workspace aims at.
type victims struct {
	alice, amy *user // owner and member of workspace A
	a          space
	secret     int64 // a private channel of A
	msg, reply message
	mention    int64 // amy's mention in msg
	invite     string
}

func newVictims(n *node) *victims {
	n.t.Helper()
	v := &victims{alice: n.user("alice"), amy: n.user("amy")}
	v.a = n.workspace(v.alice, "victim", v.amy)
	v.secret = n.channel(v.alice, v.a.id, "secret", "private")
	v.msg = n.post(v.alice, v.a.general, "quarterly numbers for @amy: zanzibar")
	n.must(http.MethodPost, fmt.Sprintf("/api/channels/%d/messages", v.a.general), v.alice,
		map[string]any{"content": "a reply", "parentId": strconv.FormatInt(v.msg.ID, 10)}, &v.reply)
	n.must(http.MethodPut, fmt.Sprintf("/api/messages/%d/reactions/%s", v.msg.ID, url.PathEscape("👍")), v.alice, nil, nil)
	n.post(v.alice, v.secret, "private plans")
	var ms struct {
		Items []struct {
			ID int64 `json:"id,string"`
		} `json:"items"`
	}
	n.must(http.MethodGet, "/api/mentions", v.amy, nil, &ms)
	if len(ms.Items) != 1 {
		n.t.Fatalf("amy has %d mentions, want 1", len(ms.Items))
	}
	v.mention = ms.Items[0].ID
	var inv struct {
		Token string `json:"token"`
	}
	n.must(http.MethodPost, fmt.Sprintf("/api/workspaces/%d/invitations", v.a.id), v.alice,
		map[string]string{"username": "carol"}, &inv)
	v.invite = inv.Token
	return v
}

// bodies are valid request bodies by type, so that an answer is about the ids, not the body.
func bodies(v *victims, self int64) map[string]any {
	return map[string]any{
		"createWorkspaceRequest":       map[string]string{"name": "stolen"},
		"patchMemberRequest":           map[string]string{"role": "admin"},
		"createInvitationRequest":      map[string]string{"username": "mallory"},
		"acceptInvitationRequest":      map[string]string{"token": v.invite},
		"createChannelRequest":         map[string]string{"name": "stolen", "type": "public"},
		"patchChannelRequest":          map[string]any{"name": "stolen", "topic": "pwned", "archived": true},
		"addChannelMemberRequest":      map[string]string{"userId": strconv.FormatInt(self, 10)},
		"postMessageRequest":           map[string]string{"content": "hello from outside"},
		"patchMessageRequest":          map[string]string{"content": "edited from outside"},
		"markReadRequest":              map[string]int64{"seq": 1 << 40},
		"devLoginRequest":              map[string]string{"username": "mallory"},
		"putPrefsRequest":              map[string]any{"notify": "all", "muted": true, "hidden": true},
		"openDMRequest":                map[string]any{"userIds": []string{strconv.FormatInt(v.amy.id, 10)}},
		"createBotRequest":             map[string]string{"username": "stolen-bot", "displayName": "Stolen"},
		"createTokenRequest":           map[string]string{"name": "stolen"},
		"createIncomingWebhookRequest": map[string]string{"name": "stolen"},
		"createCommandRequest":         map[string]string{"command": "/stolen", "url": "https://example.com/hook"},
		"createOutgoingRequest":        map[string]any{"url": "https://example.com/hook", "events": []string{"message"}},
	}
}

// TestForeignIdsOnEveryRoute walks the API's route table: every route with ids in its
// path, called by a user of another workspace with the ids of workspace A, answers 404
// (never 200, 403 or 500) and changes nothing. The same holds for A's member on another
// member's mention.
func TestForeignIdsOnEveryRoute(t *testing.T) {
	t.Parallel()
	n := startNode(t, nil)
	v := newVictims(n)
	bob := n.user("bob")
	n.workspace(bob, "attacker")
	before := n.snapshot()

	params := map[string]string{
		"wid": strconv.FormatInt(v.a.id, 10), "uid": strconv.FormatInt(v.amy.id, 10),
		"mid": strconv.FormatInt(v.msg.ID, 10), "id": strconv.FormatInt(v.mention, 10), "emoji": url.PathEscape("👍"),
	}
	channels := []int64{v.a.general, v.secret}
	tried := 0
	for _, r := range api.Routes() {
		if r.External || r.Public || !strings.Contains(r.Pattern, "{") {
			continue
		}
		var body any
		if r.Request != nil {
			name := reflect.TypeOf(r.Request).Name()
			var ok bool
			if body, ok = bodies(v, bob.id)[name]; !ok {
				t.Errorf("%s %s: no valid body for %s; add one to bodies()", r.Method, r.Pattern, name)
				continue
			}
		}
		for _, cid := range channels {
			path := r.Pattern
			for _, seg := range strings.Split(r.Pattern, "/") {
				if !strings.HasPrefix(seg, "{") {
					continue
				}
				name := strings.Trim(seg, "{}")
				val, ok := params[name]
				if name == "cid" {
					val, ok = strconv.FormatInt(cid, 10), true
				}
				if !ok {
					t.Fatalf("%s %s: no foreign id for {%s}", r.Method, r.Pattern, name)
				}
				path = strings.Replace(path, seg, val, 1)
			}
			status, raw := n.do(r.Method, path, bob, body)
			tried++
			if status != http.StatusNotFound || !strings.Contains(string(raw), `"code":"not_found"`) {
				t.Errorf("%s %s as an outsider: %d %s, want 404 not_found", r.Method, path, status, raw)
			}
			if !strings.Contains(r.Pattern, "{cid}") {
				break
			}
		}
	}
	t.Logf("%d calls with foreign ids", tried)
	if tried < 25 {
		t.Fatalf("only %d calls: the route table walk is broken", tried)
	}

	// Another member's mention, in the same workspace.
	if status, raw := n.do(http.MethodPut, fmt.Sprintf("/api/mentions/%d/read", v.mention), v.alice, nil); status != http.StatusNotFound {
		t.Errorf("marking amy's mention read as alice: %d %s, want 404", status, raw)
	}
	n.unchanged(before, "foreign ids in paths")
}

// TestForeignIdsInBodiesAndQueries: ids of workspace A inside the bodies of requests on
// the attacker's own resources are refused (4xx, never 2xx or 500), and lists and search
// never show A's data.
func TestForeignIdsInBodiesAndQueries(t *testing.T) {
	t.Parallel()
	n := startNode(t, nil)
	v := newVictims(n)
	bob := n.user("bob")
	b := n.workspace(bob, "attacker")
	before := n.snapshot()
	for _, c := range []struct {
		method, path string
		body         any
	}{
		{http.MethodPost, fmt.Sprintf("/api/channels/%d/messages", b.general), map[string]string{"content": "reply across", "parentId": strconv.FormatInt(v.msg.ID, 10)}},
		{http.MethodPost, fmt.Sprintf("/api/channels/%d/members", b.general), map[string]string{"userId": strconv.FormatInt(v.amy.id, 10)}},
		{http.MethodPatch, fmt.Sprintf("/api/workspaces/%d/members/%d", b.id, v.amy.id), map[string]string{"role": "admin"}},
		{http.MethodDelete, fmt.Sprintf("/api/workspaces/%d/members/%d", b.id, v.alice.id), nil},
		{http.MethodDelete, fmt.Sprintf("/api/channels/%d/members/%d", b.general, v.amy.id), nil},
		{http.MethodPost, "/api/invitations/accept", map[string]string{"token": v.invite}},
	} {
		status, raw := n.do(c.method, c.path, bob, c.body)
		t.Logf("%s %s: %d", c.method, c.path, status)
		if status < 400 || status >= 500 {
			t.Errorf("%s %s %v: %d %s, want a 4xx", c.method, c.path, c.body, status, raw)
		}
	}
	n.unchanged(before, "foreign ids in bodies")

	for _, path := range []string{
		fmt.Sprintf("/api/workspaces/%d/search?q=zanzibar", b.id), "/api/mentions", "/api/unreads", "/api/workspaces",
		fmt.Sprintf("/api/workspaces/%d/channels", b.id), fmt.Sprintf("/api/workspaces/%d/members", b.id),
	} {
		status, raw := n.do(http.MethodGet, path, bob, nil)
		if status != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, status, raw)
		}
		for _, leak := range []string{"zanzibar", "victim", "secret", strconv.FormatInt(v.a.id, 10), strconv.FormatInt(v.amy.id, 10)} {
			if strings.Contains(string(raw), leak) {
				t.Errorf("GET %s shows %q of another workspace: %s", path, leak, raw)
			}
		}
	}
}

// TestForeignIdsOnEveryDestination: SUBSCRIBE to another workspace's channels and to
// another user's queues, and every SEND destination with another workspace's channel,
// each get ERROR (with the frame's receipt-id) and write nothing; the victims' channel sees
// none of it.
func TestForeignIdsOnEveryDestination(t *testing.T) {
	t.Parallel()
	n := startNode(t, nil)
	v := newVictims(n)
	bob := n.user("bob")
	b := n.workspace(bob, "attacker")
	watch := n.dial(v.alice)
	wsub, err := watch.Subscribe(destOf(v.a.general))
	if err != nil {
		t.Fatal(err)
	}
	before := n.snapshot()

	c := n.raw(bob)
	c.write(frame(stomp.CmdSubscribe, nil, stomp.HdrID, "resend", stomp.HdrDestination, actors.QueueResend, stomp.HdrReceipt, "resend"))
	if f := c.next(); f.Command != stomp.CmdReceipt {
		t.Fatalf("subscribe to the resend queue: %s %v", f.Command, f.Headers)
	}
	ga, gs, amy := strconv.FormatInt(v.a.general, 10), strconv.FormatInt(v.secret, 10), strconv.FormatInt(v.amy.id, 10)
	type attempt struct {
		frame []byte
		codes []string
	}
	sub := func(id, dest string) attempt {
		return attempt{frame(stomp.CmdSubscribe, nil, stomp.HdrID, id, stomp.HdrDestination, dest, stomp.HdrReceipt, id), []string{"not_found"}}
	}
	send := func(id, dest, body string, codes ...string) attempt {
		return attempt{frame(stomp.CmdSend, []byte(body), stomp.HdrDestination, dest, stomp.HdrReceipt, id), codes}
	}
	attempts := []attempt{
		sub("s1", "/topic/channel."+ga),
		sub("s2", "/topic/channel."+gs),
		{frame(stomp.CmdSubscribe, nil, stomp.HdrID, "s3", stomp.HdrDestination, "/user/"+amy+"/queue/mentions", stomp.HdrReceipt, "s3"), []string{"forbidden"}},
		{frame(stomp.CmdSubscribe, nil, stomp.HdrID, "s4", stomp.HdrDestination, "/user/amy/queue/notifications", stomp.HdrReceipt, "s4"), []string{"forbidden"}},
		{frame(stomp.CmdSubscribe, nil, stomp.HdrID, "s5", stomp.HdrDestination, "/topic/channel."+ga+"/../channel."+ga, stomp.HdrReceipt, "s5"), []string{"unknown_destination"}},
		send("m1", actors.DestMessageSend, `{"channelId":"`+ga+`","content":"hello from outside"}`, "not_found"),
		send("m2", actors.DestMessageSend, `{"channelId":"`+gs+`","content":"hello from outside"}`, "not_found"),
		send("m3", actors.DestMessageSend, fmt.Sprintf(`{"channelId":"%d","content":"reply across","parentId":"%d"}`, b.general, v.msg.ID), "validation_failed", "not_found"),
		send("r1", actors.DestMessageRead, `{"channelId":"`+ga+`","seq":1}`, "not_found"),
		send("t1", actors.DestTyping, `{"channelId":"`+ga+`"}`, "not_found"),
		send("x1", actors.DestMessageResend, `{"channelId":"`+ga+`","sinceSeq":0}`, "not_found"),
		send("x2", actors.DestMessageResend, `{"channelId":"`+gs+`","sinceSeq":0}`, "not_found"),
	}
	for _, a := range attempts {
		c.write(a.frame)
	}
	for range attempts {
		f := c.next()
		if f.Command != stomp.CmdError {
			t.Fatalf("got %s %v %q, want an ERROR", f.Command, f.Headers, f.Body)
		}
		id := f.Value(stomp.HdrReceiptID)
		var want []string
		for _, a := range attempts {
			if strings.Contains(string(a.frame), "\nreceipt:"+id+"\n") {
				want = a.codes
			}
		}
		ok := false
		for _, code := range want {
			ok = ok || f.Value("code") == code
		}
		if !ok {
			t.Errorf("%s: ERROR code %q (%s), want one of %v", id, f.Value("code"), f.Body, want)
		}
	}
	n.unchanged(before, "foreign ids in STOMP frames")

	// The victims' subscriber saw nothing of it: its next event is alice's own message.
	n.post(v.alice, v.a.general, "all quiet")
	if got := messageContent(t, nextOn(t, wsub)); got != "all quiet" {
		t.Fatalf("the victims' channel got %q first", got)
	}
	// And the attacker's session is still there, with nothing replayed to it.
	c.write(frame(stomp.CmdSend, sendBody(b.general, "own channel"), stomp.HdrDestination, actors.DestMessageSend, stomp.HdrReceipt, "own"))
	if f := c.next(); f.Command != stomp.CmdReceipt || f.Value(stomp.HdrReceiptID) != "own" {
		t.Fatalf("got %s %v %q, want the RECEIPT of a send to the attacker's own channel", f.Command, f.Headers, f.Body)
	}
}
