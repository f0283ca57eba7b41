package ws_test

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-chat/parley/actors"
	"github.com/parley-chat/parley/persistence"
	"github.com/parley-chat/parley/stomp"
	"github.com/parley-chat/parley/stomp/stompclient"
)

// TestSinceSeqResume: a client that reconnects with since-seq while messages keep coming
// misses nothing and gets nothing twice, whether the channel's actor stayed up (the replay
// stops at its last seq) or was stopped for idleness meanwhile (the replay reads to the end).
func TestSinceSeqResume(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{actors: actors.Config{ChannelIdle: 100 * time.Millisecond, ReplayPageSize: 7, SendRate: 1000, SendBurst: 1000}})
	sendTok, sender := e.user("sender")
	readTok, _ := e.user("reader")
	cid := e.channel(sender, "resume", persistence.ChannelPublic)
	s := e.dial(sendTok)
	send := func(i int) {
		if _, err := s.SendWithReceipt(context.Background(), "/app/message.send", sendBody(cid, fmt.Sprint("m", i))); err != nil {
			t.Error(err)
		}
	}

	r1 := e.dial(readTok)
	sub, err := r1.Subscribe(dest(cid))
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 10; i++ {
		send(i)
	}
	last := int64(0)
	for range 10 {
		last = decodeMessage(t, next(t, sub, 5*time.Second)).Seq
	}
	_ = r1.Close()

	// Messages keep coming while the reader is away and while it resubscribes.
	var sent atomic.Int64
	sent.Store(10)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 11; i <= 70; i++ {
			send(i)
			sent.Store(int64(i))
		}
	}()
	waitFor(t, "20 more messages", 10*time.Second, func() bool { return sent.Load() >= 30 })
	r2 := e.dial(readTok)
	sub2, err := r2.Subscribe(dest(cid), stomp.Header{Key: "since-seq", Value: strconv.FormatInt(last, 10)})
	if err != nil {
		t.Fatal(err)
	}
	<-done
	expectSeqs(t, sub2, last+1, 70)

	// The channel's actor retires once nobody listens; a resume then replays to the end.
	_ = r2.Close()
	waitFor(t, "the idle channel actor to stop", 5*time.Second, func() bool { return e.sys.ChannelActors() == 0 })
	r3 := e.dial(readTok)
	sub3, err := r3.Subscribe(dest(cid), stomp.Header{Key: "since-seq", Value: "60"})
	if err != nil {
		t.Fatal(err)
	}
	send(71)
	expectSeqs(t, sub3, 61, 71)
}

// expectSeqs reads messages from..to in order and then nothing more.
func expectSeqs(t *testing.T, s *stompclient.Subscription, from, to int64) {
	t.Helper()
	for want := from; want <= to; want++ {
		m := decodeMessage(t, next(t, s, 5*time.Second))
		if m.Seq != want {
			t.Fatalf("seq %d, want %d", m.Seq, want)
		}
		if m.Content != fmt.Sprint("m", want) {
			t.Fatalf("seq %d has content %q", m.Seq, m.Content)
		}
	}
	select {
	case f := <-s.C:
		t.Fatalf("extra message after seq %d: %s", to, f.Body)
	case <-time.After(50 * time.Millisecond):
	}
}

// TestResend: /app/message.resend replays to the session's /user/queue/resend.
func TestResend(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{actors: actors.Config{ReplayPageSize: 3}})
	tok, uid := e.user("alice")
	cid := e.channel(uid, "resend", persistence.ChannelPublic)
	c := e.dial(tok)
	for i := 1; i <= 8; i++ {
		if _, err := c.SendWithReceipt(ctxT(t, 5*time.Second), "/app/message.send", sendBody(cid, fmt.Sprint("m", i))); err != nil {
			t.Fatal(err)
		}
	}
	body := []byte(`{"channelId":"` + strconv.FormatInt(cid, 10) + `","sinceSeq":5}`)
	_, err := c.SendWithReceipt(ctxT(t, 5*time.Second), actors.DestMessageResend, body)
	if f := serverError(t, err); f.Value("code") != "protocol_error" {
		t.Errorf("resend without the queue: %v", f)
	}
	q, err := c.Subscribe(actors.QueueResend)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.SendWithReceipt(ctxT(t, 5*time.Second), actors.DestMessageResend, body); err != nil {
		t.Fatal(err)
	}
	expectSeqs(t, q, 6, 8)
}
