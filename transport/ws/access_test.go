package ws_test

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parley-chat/parley/persistence"
	"github.com/parley-chat/parley/stomp"
	"github.com/parley-chat/parley/stomp/stompclient"
)

func TestConnectAuth(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	tok, _ := e.user("alice")
	for _, tc := range []struct {
		name string
		opts stompclient.ClientOptions
		ok   bool
	}{
		{"bearer", stompclient.ClientOptions{Token: tok}, true},
		{"passcode", stompclient.ClientOptions{Token: tok, Auth: stompclient.AuthPasscode}, true},
		{"query", stompclient.ClientOptions{Token: tok, Auth: stompclient.AuthQuery}, true},
		{"none", stompclient.ClientOptions{}, false},
		{"forged", stompclient.ClientOptions{Token: tok[:len(tok)-2] + "xx"}, false},
		{"garbage", stompclient.ClientOptions{Token: "not-a-jwt", Auth: stompclient.AuthPasscode}, false},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		c, err := stompclient.Dial(ctx, e.url, tc.opts)
		cancel()
		if tc.ok {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
				continue
			}
			_ = c.Close()
			continue
		}
		if err == nil {
			_ = c.Close()
			t.Errorf("%s: connected without a valid token", tc.name)
			continue
		}
		if f := serverError(t, err); f.Value("code") != "unauthorized" {
			t.Errorf("%s: ERROR %v, want code unauthorized", tc.name, f)
		}
	}
	waitFor(t, "refused sessions to leave nothing", 5*time.Second, func() bool { return e.sys.Sessions() == 0 })
}

// TestUnauthorisedSubscribeAndSend: a channel the user cannot read is refused with an ERROR
// naming the destination, and so is a send to it; the session stays usable.
func TestUnauthorisedSubscribeAndSend(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	_, alice := e.user("alice")
	bobTok, _ := e.user("bob")
	strangerTok, _ := e.outsider("stranger")
	private := e.channel(alice, "secret", persistence.ChannelPrivate)
	public := e.channel(alice, "open", persistence.ChannelPublic)

	for _, tc := range []struct {
		tok, who string
		cid      int64
		code     string
	}{
		{bobTok, "workspace member, private channel", private, "not_found"},
		{strangerTok, "other workspace, public channel", public, "not_found"},
		{bobTok, "no such channel", 999999, "not_found"},
	} {
		c := e.dial(tc.tok)
		_, err := c.Subscribe(dest(tc.cid))
		f := serverError(t, err)
		if f.Value("code") != tc.code || f.Value(stomp.HdrDestination) != dest(tc.cid) {
			t.Errorf("%s: subscribe ERROR %v, want code %s naming the destination", tc.who, f, tc.code)
		}
		// SPEC: the refusal names the destination, for a human reading it too.
		if !strings.Contains(f.Value("message"), dest(tc.cid)) || !strings.Contains(string(f.Body), dest(tc.cid)) {
			t.Errorf("%s: subscribe ERROR message %q body %q do not name %s", tc.who, f.Value("message"), f.Body, dest(tc.cid))
		}
		_, err = c.SendWithReceipt(ctxT(t, 5*time.Second), "/app/message.send", sendBody(tc.cid, "let me in"))
		if f := serverError(t, err); f.Value("code") != tc.code {
			t.Errorf("%s: send ERROR %v, want code %s", tc.who, f, tc.code)
		}
	}
	var n int
	if err := e.store.Pool().QueryRow(context.Background(), `SELECT count(*) FROM messages`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d messages written (%v), want none", n, err)
	}
	// The refused session still works where it may.
	c := e.dial(bobTok)
	if _, err := c.Subscribe(dest(public)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SendWithReceipt(ctxT(t, 5*time.Second), "/app/message.send", sendBody(public, "hi")); err != nil {
		t.Fatal(err)
	}
}

// TestUserQueues: /user/queue/* reaches only the session's own user; naming another user's
// queue is refused.
func TestUserQueues(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	aliceTok, alice := e.user("alice")
	bobTok, bob := e.user("bob")
	carolTok, _ := e.user("carol")
	cid := e.channel(alice, "mentions", persistence.ChannelPublic)

	c := e.dial(carolTok)
	for _, d := range []string{
		"/user/" + strconv.FormatInt(bob, 10) + "/queue/mentions",
		"/user/bob/queue/mentions",
		"/user/queue/../../" + strconv.FormatInt(bob, 10) + "/queue/mentions",
		"/user/queue/secrets",
	} {
		_, err := c.Subscribe(d)
		if f := serverError(t, err); f.Value("code") != "forbidden" || !strings.Contains(f.Value("message"), d) {
			t.Errorf("subscribe %s: %v, want forbidden naming the destination", d, f)
		}
	}
	carolQ, err := c.Subscribe(persistence.QueueMentions)
	if err != nil {
		t.Fatal(err)
	}
	bobQ, err := e.dial(bobTok).Subscribe(persistence.QueueMentions)
	if err != nil {
		t.Fatal(err)
	}
	a := e.dial(aliceTok)
	if _, err := a.SendWithReceipt(ctxT(t, 5*time.Second), "/app/message.send", sendBody(cid, "@bob look")); err != nil {
		t.Fatal(err)
	}
	var ev persistence.MentionEvent
	if err := json.Unmarshal(next(t, bobQ, 5*time.Second).Body, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Type != persistence.EventMention || ev.Mention.UserID != bob || ev.Message.UserID != alice {
		t.Errorf("mention event %+v", ev)
	}
	select {
	case f := <-carolQ.C:
		t.Fatalf("carol got bob's mention: %s", f.Body)
	case <-time.After(100 * time.Millisecond):
	}
}

// TestErrorsQueue: a session subscribed to /user/queue/errors gets its errors there too.
func TestErrorsQueue(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	tok, _ := e.user("alice")
	c := e.dial(tok)
	q, err := c.Subscribe(persistence.QueueErrors)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Send("/app/message.send", []byte(`{"channelId":"1","content":""}`)); err != nil {
		t.Fatal(err)
	}
	var ev struct{ Type, Code, Destination string }
	if err := json.Unmarshal(next(t, q, 5*time.Second).Body, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Type != "error" || ev.Code != "validation_failed" || ev.Destination != "/app/message.send" {
		t.Errorf("error event %+v", ev)
	}
	select {
	case f := <-c.Errors():
		if f.Value("code") != "validation_failed" {
			t.Errorf("ERROR %v", f)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no ERROR frame")
	}
}

func TestBadSendBodies(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	tok, uid := e.user("alice")
	cid := e.channel(uid, "bodies", persistence.ChannelPublic)
	c := e.dial(tok)
	sid := strconv.FormatInt(cid, 10)
	long := make([]byte, persistence.MaxContentRunes+1)
	for i := range long {
		long[i] = 'x'
	}
	for _, tc := range []struct {
		dest, body, code string
	}{
		{"/app/message.send", `{not json`, "validation_failed"},
		{"/app/message.send", ``, "validation_failed"},
		{"/app/message.send", `[1,2]`, "validation_failed"},
		{"/app/message.send", `{"content":"no channel"}`, "validation_failed"},
		{"/app/message.send", `{"channelId":"abc","content":"x"}`, "validation_failed"},
		{"/app/message.send", `{"channelId":"` + sid + `","content":"   "}`, "validation_failed"},
		{"/app/message.send", `{"channelId":"` + sid + `","content":"` + string(long) + `"}`, "validation_failed"},
		{"/app/message.send", `{"channelId":"` + sid + `","content":"x","parentId":"12345"}`, "validation_failed"},
		{"/app/message.read", `{"channelId":"` + sid + `"}`, "validation_failed"},
		{"/app/message.read", `{"channelId":"` + sid + `","seq":-1}`, "validation_failed"},
		{"/app/typing", `{}`, "validation_failed"},
		{"/app/nope", `{}`, "unknown_destination"},
		{"/topic/channel." + sid, `{}`, "unknown_destination"},
	} {
		_, err := c.SendWithReceipt(ctxT(t, 5*time.Second), tc.dest, []byte(tc.body))
		var se *stompclient.ServerError
		if !errors.As(err, &se) || se.Frame.Value("code") != tc.code {
			t.Errorf("SEND %s %.40q: %v, want ERROR %s", tc.dest, tc.body, err, tc.code)
		}
	}
	// Nothing was written, and the session still works.
	var n int
	if err := e.store.Pool().QueryRow(context.Background(), `SELECT count(*) FROM messages`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d messages written (%v)", n, err)
	}
	r, err := c.SendWithReceipt(ctxT(t, 5*time.Second), "/app/message.send", sendBody(cid, "fine"))
	if err != nil || r.Value("seq") != "1" {
		t.Fatalf("good send after bad ones: %v %v", r, err)
	}
}
