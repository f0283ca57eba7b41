package ws_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/parley-chat/parley/persistence"
	"github.com/parley-chat/parley/stomp"
	"github.com/parley-chat/parley/stomp/stompclient"
)

type messageEvent struct {
	Type    string              `json:"type"`
	Message persistence.Message `json:"message"`
}

func decodeMessage(t *testing.T, f *stomp.Frame) persistence.Message {
	t.Helper()
	var ev messageEvent
	if err := json.Unmarshal(f.Body, &ev); err != nil {
		t.Fatalf("MESSAGE body %q: %v", f.Body, err)
	}
	if ev.Type != persistence.EventMessage {
		t.Fatalf("event type %q, want message", ev.Type)
	}
	return ev.Message
}

func TestSendReceive(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	aliceTok, alice := e.user("alice")
	bobTok, _ := e.user("bob")
	cid := e.channel(alice, "general-chat", persistence.ChannelPublic)

	a, b := e.dial(aliceTok), e.dial(bobTok)
	if got := a.Connected().Value(stomp.HdrUserName); got != "alice" {
		t.Errorf("user-name %q, want alice", got)
	}
	if got := a.Connected().Value(stomp.HdrServer); got != "parley/node-1" {
		t.Errorf("server %q", got)
	}
	if a.Connected().Value(stomp.HdrSession) == "" || a.Connected().Value(stomp.HdrVersion) != "1.2" {
		t.Errorf("CONNECTED %v", a.Connected())
	}
	sa, err := a.Subscribe(dest(cid))
	if err != nil {
		t.Fatal(err)
	}
	sb, err := b.Subscribe(dest(cid))
	if err != nil {
		t.Fatal(err)
	}
	r, err := a.SendWithReceipt(ctxT(t, 5*time.Second), "/app/message.send", sendBody(cid, "hello @bob"))
	if err != nil {
		t.Fatal(err)
	}
	if r.Value("seq") != "1" || r.Value(stomp.HdrMessageID) == "" {
		t.Fatalf("RECEIPT %v: want seq 1 and a message-id", r)
	}
	for _, s := range []*stompclient.Subscription{sa, sb} {
		f := next(t, s, 5*time.Second)
		m := decodeMessage(t, f)
		if m.Content != "hello @bob" || m.Seq != 1 || m.UserID != alice || m.ChannelID != cid {
			t.Errorf("message %+v", m)
		}
		if f.Value(stomp.HdrMessageID) != r.Value(stomp.HdrMessageID) || f.Value("seq") != "1" ||
			f.Value(stomp.HdrDestination) != dest(cid) || f.Value(stomp.HdrSubscription) != s.ID {
			t.Errorf("MESSAGE headers %v", f.Headers)
		}
	}
}

// TestReceiptAfterCommit: when a RECEIPT arrives, its message is in PostgreSQL.
func TestReceiptAfterCommit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	tok, uid := e.user("alice")
	cid := e.channel(uid, "commits", persistence.ChannelPublic)
	c := e.dial(tok)
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := c.SendWithReceipt(context.Background(), "/app/message.send", sendBody(cid, fmt.Sprint("m", i)))
			if err != nil {
				errs <- err
				return
			}
			id, _ := strconv.ParseInt(r.Value(stomp.HdrMessageID), 10, 64)
			var seq int64
			// A fresh connection, outside any transaction of the server's.
			err = e.store.Pool().QueryRow(context.Background(), `SELECT seq FROM messages WHERE id = $1`, id).Scan(&seq)
			if err != nil {
				errs <- fmt.Errorf("message %d of receipt %v not in PostgreSQL: %w", id, r, err)
				return
			}
			if strconv.FormatInt(seq, 10) != r.Value("seq") {
				errs <- fmt.Errorf("seq %d in PostgreSQL, %s in RECEIPT", seq, r.Value("seq"))
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestOrderingConcurrentSenders: every receiver gets every message once, seq strictly +1.
func TestOrderingConcurrentSenders(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	const senders, perSender, receivers = 5, 40, 3
	_, creator := e.user("creator")
	cid := e.channel(creator, "busy", persistence.ChannelPublic)

	subs := make([]*stompclient.Subscription, receivers)
	for i := range subs {
		tok, _ := e.user(fmt.Sprint("reader", i))
		s, err := e.dial(tok).Subscribe(dest(cid))
		if err != nil {
			t.Fatal(err)
		}
		subs[i] = s
	}
	var wg sync.WaitGroup
	for i := range senders {
		tok, _ := e.user(fmt.Sprint("writer", i))
		c := e.dial(tok)
		wg.Add(1)
		go func() {
			defer wg.Done()
			var inner sync.WaitGroup
			for j := range perSender {
				inner.Add(1)
				go func() {
					defer inner.Done()
					if _, err := c.SendWithReceipt(context.Background(), "/app/message.send",
						sendBody(cid, fmt.Sprintf("w%d-%d", i, j))); err != nil {
						t.Error(err)
					}
				}()
			}
			inner.Wait()
		}()
	}
	wg.Wait()
	for ri, s := range subs {
		seen := map[string]bool{}
		for want := int64(1); want <= senders*perSender; want++ {
			m := decodeMessage(t, next(t, s, 10*time.Second))
			if m.Seq != want {
				t.Fatalf("receiver %d: seq %d, want %d", ri, m.Seq, want)
			}
			if seen[m.Content] {
				t.Fatalf("receiver %d: %q twice", ri, m.Content)
			}
			seen[m.Content] = true
		}
		select {
		case f := <-s.C:
			t.Fatalf("receiver %d: extra message %v", ri, f)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
