package outgoing_test

import (
	"bytes"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-chat/parley/integrations/outgoing"
	"github.com/parley-chat/parley/persistence"
)

// Every message posted in the channel, from several writers at once, reaches the receiver
// once, signed (checked with an HMAC computed here), in seq order, with one delivery id per
// message; the delivery log records each one.
func TestDeliveriesSignedAndInSeqOrder(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	h := e.hook(e.recv.srv.URL)
	e.service(true, nil)
	const writers, each = 4, 15
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				e.post(e.user.ID, fmt.Sprintf("w%d m%d", w, i))
			}
		}()
	}
	wg.Wait()
	waitFor(t, 30*time.Second, "every message delivered", func() bool { return len(e.recv.delivered()) >= writers*each })
	got := e.recv.delivered()
	if len(got) != writers*each {
		t.Fatalf("%d deliveries, want %d", len(got), writers*each)
	}
	ids := map[string]bool{}
	for i, hit := range got {
		verify(t, h.Secret, hit)
		ev := decodeEvent(t, hit.body)
		if ev.Type != "message" || ev.ChannelID != strconv.FormatInt(e.ch, 10) || ev.Message.ChannelID != e.ch {
			t.Fatalf("event %s", hit.body)
		}
		if ev.Message.Seq != int64(i+1) {
			t.Fatalf("delivery %d carries seq %d: order lost", i, ev.Message.Seq)
		}
		if ids[hit.delivery] || hit.delivery == "" {
			t.Fatalf("delivery id %q repeated or empty", hit.delivery)
		}
		ids[hit.delivery] = true
	}
	waitFor(t, 10*time.Second, "the log to show every delivery", func() bool {
		ds, err := e.store.OutgoingDeliveries(e.ctx, h.ID, 100)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, d := range ds {
			if d.Status == persistence.DeliveryDelivered && d.Attempts == 1 && d.LatencyMS != nil && d.DeliveredAt != nil {
				n++
			}
		}
		return n == writers*each
	})
}

// A receiver that fails the first attempts gets the event later exactly as signed: the same
// delivery id and the same body bytes, a signature that verifies; the log says how many
// attempts it took and what went wrong before.
func TestRetriesCarryTheSameDeliveryAndBody(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	h := e.hook(e.recv.srv.URL)
	e.recv.setRespond(func(_ hit, nth int) (int, string) {
		if nth <= 2 {
			return http.StatusServiceUnavailable, ""
		}
		return http.StatusOK, ""
	})
	e.service(true, nil)
	m1 := e.post(e.user.ID, "first")
	m2 := e.post(e.user.ID, "second")
	waitFor(t, 30*time.Second, "both delivered", func() bool { return len(e.recv.delivered()) == 2 })
	hits := e.recv.snapshot()
	if len(hits) != 6 {
		t.Fatalf("%d requests, want 3 per message", len(hits))
	}
	for i, want := range []persistence.Message{m1, m2} {
		tries := hits[3*i : 3*i+3]
		for _, try := range tries {
			verify(t, h.Secret, try)
			if try.delivery != tries[0].delivery || !bytes.Equal(try.body, tries[0].body) {
				t.Fatalf("retry differs: %q %s vs %q %s", try.delivery, try.body, tries[0].delivery, tries[0].body)
			}
		}
		if ev := decodeEvent(t, tries[0].body); ev.Message.ID != want.ID {
			t.Fatalf("message %d delivered out of order: %s", i, tries[0].body)
		}
	}
	waitFor(t, 10*time.Second, "the log", func() bool {
		ds, err := e.store.OutgoingDeliveries(e.ctx, h.ID, 10)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range ds {
			if d.Attempts != 3 || d.Status != persistence.DeliveryDelivered || d.LastError != "HTTP 503" {
				return false
			}
		}
		return len(ds) == 2
	})
}

// Out of attempts, a delivery is marked failed and the hook's queue moves on to the next
// message; a 4xx other than 408/429 is not retried.
func TestGivesUpAfterMaxAttemptsAndMovesOn(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	h := e.hook(e.recv.srv.URL)
	e.recv.setRespond(func(hi hit, _ int) (int, string) {
		switch {
		case bytes.Contains(hi.body, []byte("doomed")):
			return http.StatusInternalServerError, ""
		case bytes.Contains(hi.body, []byte("rejected")):
			return http.StatusBadRequest, ""
		}
		return http.StatusOK, ""
	})
	e.service(true, func(c *outgoing.Config) { c.MaxAttempts = 3 })
	e.post(e.user.ID, "doomed")
	e.post(e.user.ID, "rejected")
	e.post(e.user.ID, "fine")
	waitFor(t, 30*time.Second, "the third message", func() bool { return len(e.recv.delivered()) == 1 })
	count := map[string]int{}
	for _, hi := range e.recv.snapshot() {
		count[string(decodeEvent(t, hi.body).Message.Content)]++
	}
	if count["doomed"] != 3 || count["rejected"] != 1 || count["fine"] != 1 {
		t.Fatalf("attempts per message %v, want doomed 3, rejected 1, fine 1", count)
	}
	waitFor(t, 10*time.Second, "the log", func() bool {
		ds, _ := e.store.OutgoingDeliveries(e.ctx, h.ID, 10)
		st := map[int64]string{}
		for _, d := range ds {
			st[d.Seq] = fmt.Sprintf("%s/%d/%s", d.Status, d.Attempts, d.LastError)
		}
		return st[1] == "failed/3/HTTP 500" && st[2] == "failed/1/HTTP 400" && st[3] == "delivered/1/"
	})
}

// Trigger words select messages (word-bounded); a 2xx {content} is posted in the channel
// by the hook's bot, once per delivery, and a bot's message is never delivered (no loop).
func TestTriggerWordsAndReplies(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	h := e.hook(e.recv.srv.URL, "deploy", "!ship")
	e.recv.setRespond(func(hi hit, _ int) (int, string) {
		ev := decodeEvent(t, hi.body)
		// A reply that itself starts with a trigger word: only the bot filter stops a loop.
		return http.StatusOK, fmt.Sprintf(`{"content":"deploy ack %s"}`, ev.Message.Content)
	})
	e.service(true, nil)
	for _, c := range []string{"deployment failed", "deploy prod", "hello", "!ship it", "deploy", "say deploy", "!shipped"} {
		e.post(e.user.ID, c)
	}
	waitFor(t, 30*time.Second, "replies", func() bool {
		ms, err := e.store.MessagesAfter(e.ctx, e.ch, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, m := range ms {
			if m.UserID == h.BotUserID {
				n++
			}
		}
		return n == 3
	})
	var got []string
	for _, hi := range e.recv.snapshot() {
		got = append(got, decodeEvent(t, hi.body).Message.Content)
	}
	if strings.Join(got, "|") != "deploy prod|!ship it|deploy" {
		t.Fatalf("delivered %q", got)
	}
	ms, _ := e.store.MessagesAfter(e.ctx, e.ch, 0, 100)
	var replies []string
	for _, m := range ms {
		if m.UserID == h.BotUserID {
			replies = append(replies, m.Content)
		}
	}
	if strings.Join(replies, "|") != "deploy ack deploy prod|deploy ack !ship it|deploy ack deploy" {
		t.Fatalf("replies %q", replies)
	}
	// The bot's replies are past the relay's cursor too, and must not come back: once the
	// cursor has passed the last reply, the receiver has had four requests.
	e.post(e.user.ID, "deploy again")
	waitFor(t, 30*time.Second, "the cursor past every reply", func() bool {
		var cursor, last int64
		err := e.store.Pool().QueryRow(e.ctx, `SELECT h.cursor_seq, c.last_seq FROM outgoing_webhooks h
			JOIN channels c ON c.id = h.channel_id WHERE h.id = $1`, h.ID).Scan(&cursor, &last)
		if err != nil {
			t.Fatal(err)
		}
		return last == 12 && cursor == last // 8 messages and 4 replies
	})
	if hits := e.recv.snapshot(); len(hits) != 4 {
		t.Fatalf("%d requests, want 4 (a bot reply delivered?)", len(hits))
	}
}

// Without the operator's allow-private setting the client refuses a loopback receiver at
// delivery (a hook stored before the setting changed, or a name resolving to loopback):
// nothing reaches it and the delivery fails at once.
func TestPrivateReceiverRefusedAtDelivery(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	h := e.hook(e.recv.srv.URL)
	e.service(false, nil)
	e.post(e.user.ID, "secret stuff")
	waitFor(t, 30*time.Second, "the failed delivery", func() bool {
		ds, _ := e.store.OutgoingDeliveries(e.ctx, h.ID, 10)
		return len(ds) == 1 && ds[0].Status == persistence.DeliveryFailed && ds[0].Attempts == 1 &&
			strings.Contains(ds[0].LastError, "private")
	})
	if n := len(e.recv.snapshot()); n != 0 {
		t.Fatalf("the loopback receiver got %d requests", n)
	}
}

// Two nodes (two services on one database and one Kafka): the relay's SKIP LOCKED claim and
// the consumer group share the work; every message reaches each hook, the first delivery of
// each in seq order per hook, a repeat (allowed while the group rebalances) with the same
// delivery id and body.
func TestTwoNodesShareTheWork(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	other := e.channel("other")
	h1, h2 := e.hook(e.recv.srv.URL+"/a"), e.hookIn(other, e.recv.srv.URL+"/b")
	e.service(true, nil)
	e.service(true, nil)
	const each = 20
	var wg sync.WaitGroup
	for _, ch := range []int64{e.ch, other} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				res, err := e.store.AppendMessages(e.ctx, ch, []persistence.NewMessage{{ID: e.ids.Next(), UserID: e.user.ID, Content: fmt.Sprint(i)}})
				if err != nil || res[0].Err != nil {
					t.Errorf("post: %v %v", err, res[0].Err)
				}
			}
		}()
	}
	wg.Wait()
	first := func() map[int64][]int64 { // channel → seqs of first deliveries, in arrival order
		out := map[int64][]int64{}
		seen := map[string]hit{}
		for _, hi := range e.recv.delivered() {
			if prev, ok := seen[hi.delivery]; ok {
				if !bytes.Equal(prev.body, hi.body) {
					t.Fatalf("delivery %s repeated with another body", hi.delivery)
				}
				continue
			}
			seen[hi.delivery] = hi
			ev := decodeEvent(t, hi.body)
			out[ev.Message.ChannelID] = append(out[ev.Message.ChannelID], ev.Message.Seq)
		}
		return out
	}
	waitFor(t, 60*time.Second, "every message at both hooks", func() bool {
		f := first()
		return len(f[e.ch]) == each && len(f[other]) == each
	})
	for ch, seqs := range first() {
		for i, s := range seqs {
			if s != int64(i+1) {
				t.Fatalf("channel %d: first deliveries in order %v", ch, seqs)
			}
		}
	}
	for _, h := range []persistence.OutgoingWebhook{h1, h2} {
		for _, hi := range e.recv.delivered() {
			if strings.Contains(hi.delivery, strconv.FormatInt(h.ID, 10)) {
				verify(t, h.Secret, hi)
			}
		}
	}
	t.Logf("%d requests for %d messages", len(e.recv.snapshot()), 2*each)
}
