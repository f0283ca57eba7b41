package ws_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	gobwas "github.com/gobwas/ws"

	"github.com/parley-chat/parley/actors"
	"github.com/parley-chat/parley/persistence"
	"github.com/parley-chat/parley/stomp"
	"github.com/parley-chat/parley/stomp/stompclient"
	"github.com/parley-chat/parley/transport/ws"
)

func TestLimits(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{actors: actors.Config{SendRate: 1, SendBurst: 5, MaxSubscriptions: 3}})
	tok, uid := e.user("alice")
	cid := e.channel(uid, "limits", persistence.ChannelPublic)
	c := e.dial(tok)
	typing := []byte(`{"channelId":"` + strconv.FormatInt(cid, 10) + `"}`)
	limited := 0
	for range 8 {
		_, err := c.SendWithReceipt(ctxT(t, 5*time.Second), actors.DestTyping, typing)
		if err != nil {
			if f := serverError(t, err); f.Value("code") != "rate_limited" {
				t.Fatalf("ERROR %v", f)
			}
			limited++
		}
	}
	if limited < 2 {
		t.Errorf("%d of 8 sends refused at burst 5, want at least 2", limited)
	}
	// Rate limiting does not close the session.
	for i := range 3 {
		q := []string{persistence.QueueMentions, persistence.QueueErrors, persistence.QueueNotifications}[i]
		if _, err := c.Subscribe(q); err != nil {
			t.Fatal(err)
		}
	}
	_, err := c.Subscribe(dest(cid))
	if f := serverError(t, err); f.Value("code") != "too_many_subscriptions" {
		t.Fatalf("ERROR %v", f)
	}
}

// TestEventsThroughChannelActor: REST's Poster and Events (the System) reach STOMP
// subscribers, and typing and read events from STOMP too.
func TestEventsThroughChannelActor(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	aliceTok, alice := e.user("alice")
	bobTok, bob := e.user("bob")
	cid := e.channel(alice, "events", persistence.ChannelPublic)
	sub, err := e.dial(bobTok).Subscribe(dest(cid))
	if err != nil {
		t.Fatal(err)
	}
	bq, err := e.dial(bobTok).Subscribe(persistence.QueueNotifications)
	if err != nil {
		t.Fatal(err)
	}

	res, err := e.sys.Post(ctxT(t, 5*time.Second), alice, cid, persistence.NewMessage{Content: "via REST", ClientMsgID: "c1"})
	if err != nil || res.Message.Seq != 1 {
		t.Fatalf("Post: %+v %v", res, err)
	}
	if m := decodeMessage(t, next(t, sub, 5*time.Second)); m.Content != "via REST" {
		t.Fatalf("got %+v", m)
	}
	// A retry is a duplicate: same message, nothing delivered twice.
	dup, err := e.sys.Post(ctxT(t, 5*time.Second), alice, cid, persistence.NewMessage{Content: "via REST", ClientMsgID: "c1"})
	if err != nil || !dup.Duplicate || dup.Message.ID != res.Message.ID {
		t.Fatalf("retry: %+v %v", dup, err)
	}
	e.sys.ChannelEvent(cid, persistence.MessageEditedEvent{Type: persistence.EventMessageEdited, ChannelID: cid,
		ID: res.Message.ID, Seq: 1, Content: "edited"})
	e.sys.UserEvent(bob, persistence.QueueNotifications, map[string]string{"type": "hello"})

	a := e.dial(aliceTok)
	sid := strconv.FormatInt(cid, 10)
	if _, err := a.SendWithReceipt(ctxT(t, 5*time.Second), actors.DestTyping, []byte(`{"channelId":"`+sid+`"}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := a.SendWithReceipt(ctxT(t, 5*time.Second), actors.DestMessageRead, []byte(`{"channelId":`+sid+`,"seq":99}`)); err != nil {
		t.Fatal(err)
	}
	var types []string
	for range 3 {
		var ev struct {
			Type   string
			UserID string
			Seq    int64
		}
		if err := json.Unmarshal(next(t, sub, 5*time.Second).Body, &ev); err != nil {
			t.Fatal(err)
		}
		types = append(types, ev.Type)
		if ev.Type == persistence.EventRead && (ev.Seq != 1 || ev.UserID != strconv.FormatInt(alice, 10)) {
			t.Errorf("read event %+v: want alice's marker clamped to 1", ev)
		}
	}
	if strings.Join(types, ",") != "message.edited,typing,read" {
		t.Errorf("events %v", types)
	}
	if f := next(t, bq, 5*time.Second); !strings.Contains(string(f.Body), "hello") {
		t.Errorf("notification %s", f.Body)
	}
	var marker int64
	if err := e.store.Pool().QueryRow(context.Background(),
		`SELECT last_read_seq FROM read_receipts WHERE user_id = $1 AND channel_id = $2`, alice, cid).Scan(&marker); err != nil || marker != 1 {
		t.Errorf("read marker %d (%v), want 1", marker, err)
	}
}

// TestDisconnectWaitsForSends: DISCONNECT's receipt follows the receipts of every SEND
// before it.
func TestDisconnectWaitsForSends(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	tok, uid := e.user("alice")
	cid := e.channel(uid, "bye", persistence.ChannelPublic)
	c := e.dial(tok)
	for range 30 {
		if err := c.Send("/app/message.send", sendBody(cid, "last words")); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	var n int
	if err := e.store.Pool().QueryRow(context.Background(), `SELECT count(*) FROM messages`).Scan(&n); err != nil || n != 30 {
		t.Fatalf("%d messages committed at DISCONNECT's receipt (%v), want 30", n, err)
	}
	waitFor(t, "the session to go", 5*time.Second, func() bool { return e.sys.Sessions() == 0 })

	// Without a receipt and with nothing queued, DISCONNECT closes at once.
	raw := e.raw(tok, nil)
	raw.write([]byte("DISCONNECT\n\n\x00"))
	_ = raw.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.Copy(io.Discard, raw.r); err != nil {
		t.Fatalf("connection not closed after DISCONNECT: %v", err)
	}
}

// TestHeartbeats: the server beats as negotiated and drops a client silent for 2× its interval.
func TestHeartbeats(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{actors: actors.Config{HeartBeat: stomp.HeartBeat{Send: 250 * time.Millisecond, Recv: 250 * time.Millisecond}}})
	tok, _ := e.user("alice")
	// A client that beats every 250 ms stays (generous against a loaded CI machine, where
	// a 50 ms beat was sometimes late by more than the 2x tolerance); one that promised to and does not is dropped.
	c := e.dial(tok, func(o *stompclient.ClientOptions) {
		o.HeartBeat = stomp.HeartBeat{Send: 250 * time.Millisecond, Recv: 250 * time.Millisecond}
	})
	silent := e.raw("", nil)
	silent.write(stomp.AppendFrame(nil, &stomp.Frame{Command: stomp.CmdConnect, Headers: []stomp.Header{
		{Key: stomp.HdrAuthorization, Value: "Bearer " + tok}, {Key: stomp.HdrHeartBeat, Value: "250,0"}}}))
	if f := silent.read(); f.Command != stomp.CmdConnected {
		t.Fatal(f)
	}
	waitFor(t, "the silent client to be dropped", 5*time.Second, func() bool { return e.sys.Sessions() == 1 })
	time.Sleep(1500 * time.Millisecond) // several intervals: the beating client is still there
	if c.Err() != nil || e.sys.Sessions() != 1 {
		t.Fatalf("beating client dropped: %v", c.Err())
	}
}

func TestUpgrade(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{ws: ws.Config{AllowedOrigins: []string{"https://chat.example.com"}}})
	for _, tc := range []struct {
		offer  []string
		origin string
		want   string
		status int
	}{
		{[]string{"v10.stomp"}, "", "v10.stomp", 101},
		{[]string{"v11.stomp", "v12.stomp"}, "", "v11.stomp", 101},
		{[]string{"v12.stomp", "v11.stomp", "v10.stomp"}, "https://chat.example.com", "v12.stomp", 101},
		{nil, "", "", 101},
		{[]string{"mqtt"}, "", "", 101},
		{[]string{"v12.stomp"}, "https://evil.example.net", "", http.StatusForbidden},
	} {
		h := http.Header{}
		if tc.origin != "" {
			h.Set("Origin", tc.origin)
		}
		d := gobwas.Dialer{Protocols: tc.offer, Header: gobwas.HandshakeHeaderHTTP(h)}
		conn, _, hs, err := d.Dial(ctxT(t, 5*time.Second), e.url)
		if tc.status != 101 {
			var se gobwas.StatusError
			if err == nil || !asStatus(err, &se) || int(se) != tc.status {
				t.Errorf("%v from %q: %v, want HTTP %d", tc.offer, tc.origin, err, tc.status)
			}
			continue
		}
		if err != nil {
			t.Errorf("%v: %v", tc.offer, err)
			continue
		}
		if hs.Protocol != tc.want {
			t.Errorf("offer %v: subprotocol %q, want %q", tc.offer, hs.Protocol, tc.want)
		}
		_ = conn.Close()
	}
}

func asStatus(err error, se *gobwas.StatusError) bool {
	v, ok := err.(gobwas.StatusError)
	*se = v
	return ok
}

// TestShutdownDrains: sends in flight are acknowledged, then clients are told to go.
func TestShutdownDrains(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{actors: actors.Config{SendRate: 1000, SendBurst: 1000}})
	tok, uid := e.user("alice")
	cid := e.channel(uid, "drain", persistence.ChannelPublic)
	c := e.dial(tok)
	var errs = make(chan error, 50)
	for range 50 {
		go func() {
			_, err := c.SendWithReceipt(context.Background(), "/app/message.send", sendBody(cid, "before shutdown"))
			errs <- err
		}()
	}
	time.Sleep(10 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.sys.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	acked := 0
	for range 50 {
		err := <-errs
		if err == nil {
			acked++
			continue
		}
		// Refused (not yet handed over when draining began) or cut by the close: never lost
		// after an acknowledgement.
	}
	var n int
	if err := e.store.Pool().QueryRow(context.Background(), `SELECT count(*) FROM messages`).Scan(&n); err != nil || n < acked {
		t.Fatalf("%d acknowledged, %d committed (%v)", acked, n, err)
	}
	<-c.Closed()
	// Clients are told why: the ERROR arrives before the close (the client may report its
	// own failed write as the cause, if one of its sends raced the close).
	told := false
	for len(c.Errors()) > 0 {
		if f := <-c.Errors(); f.Value("code") == "shutting_down" {
			told = true
		}
	}
	var se *stompclient.ServerError
	if errors.As(c.Err(), &se) && se.Frame.Value("code") == "shutting_down" {
		told = true
	}
	if !told {
		t.Errorf("no ERROR shutting_down; closed with %v", c.Err())
	}
}
