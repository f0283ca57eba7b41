package ws_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/parley-chat/parley/stomp"
)

// TestDMOverSTOMP: a direct message is a channel on the wire: its members subscribe, send,
// reply in threads and resume with since-seq; anyone else, the workspace owner included,
// is refused as if it did not exist, and nothing they send is stored.
func TestDMOverSTOMP(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	aTok, a := e.user("ann")
	bTok, b := e.user("ben")
	cTok, _ := e.user("cat")
	ownerTok, _, err := e.verifier.Issue("owner", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	dm, created, err := e.store.OpenDM(context.Background(), e.ws, a, []int64{b})
	if err != nil || !created {
		t.Fatalf("open: %v %v", created, err)
	}

	for who, tok := range map[string]string{"owner": ownerTok, "non-member": cTok} {
		c := e.dial(tok)
		_, err := c.Subscribe(dest(dm.ID))
		if f := serverError(t, err); f.Value("code") != "not_found" {
			t.Errorf("%s subscribes: %v, want not_found", who, f)
		}
		_, err = c.SendWithReceipt(ctxT(t, 5*time.Second), "/app/message.send", sendBody(dm.ID, "let me in"))
		if f := serverError(t, err); f.Value("code") != "not_found" {
			t.Errorf("%s sends: %v, want not_found", who, f)
		}
	}

	ann, ben := e.dial(aTok), e.dial(bTok)
	subA, err := ann.Subscribe(dest(dm.ID))
	if err != nil {
		t.Fatal(err)
	}
	subB, err := ben.Subscribe(dest(dm.ID))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ann.SendWithReceipt(ctxT(t, 5*time.Second), "/app/message.send", sendBody(dm.ID, "hi ben")); err != nil {
		t.Fatal(err)
	}
	root := decodeMessage(t, next(t, subB, 5*time.Second))
	if root.Seq != 1 || root.UserID != a || root.Content != "hi ben" || root.ChannelID != dm.ID {
		t.Fatalf("ben got %+v", root)
	}
	if got := decodeMessage(t, next(t, subA, 5*time.Second)); got.ID != root.ID {
		t.Fatalf("ann got %+v", got)
	}
	reply := []byte(`{"channelId":"` + strconv.FormatInt(dm.ID, 10) + `","content":"hi ann","parentId":"` + strconv.FormatInt(root.ID, 10) + `"}`)
	if _, err := ben.SendWithReceipt(ctxT(t, 5*time.Second), "/app/message.send", reply); err != nil {
		t.Fatal(err)
	}
	r := decodeMessage(t, next(t, subA, 5*time.Second))
	if r.Seq != 2 || r.UserID != b || r.ParentID == nil || *r.ParentID != root.ID {
		t.Fatalf("ann got reply %+v", r)
	}
	_ = ben.Close()
	if _, err := ann.SendWithReceipt(ctxT(t, 5*time.Second), "/app/message.send", sendBody(dm.ID, "still there?")); err != nil {
		t.Fatal(err)
	}
	// Ben comes back and resumes after what he saw.
	sub2, err := e.dial(bTok).Subscribe(dest(dm.ID), stomp.Header{Key: "since-seq", Value: "1"})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"hi ann", "still there?"} {
		if m := decodeMessage(t, next(t, sub2, 5*time.Second)); m.Seq != int64(i+2) || m.Content != want {
			t.Fatalf("resumed %+v, want seq %d %q", m, i+2, want)
		}
	}

	var n int
	if err := e.store.Pool().QueryRow(context.Background(), `SELECT count(*) FROM messages WHERE channel_id = $1`, dm.ID).Scan(&n); err != nil || n != 3 {
		t.Fatalf("%d messages in the DM (%v), want 3", n, err)
	}
	var others int
	if err := e.store.Pool().QueryRow(context.Background(), `SELECT count(*) FROM messages WHERE channel_id <> $1`, dm.ID).Scan(&others); err != nil || others != 0 {
		t.Fatalf("%d messages elsewhere (%v)", others, err)
	}
}
