package attacks_test

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/parley-chat/parley/actors"
	"github.com/parley-chat/parley/stomp"
	"github.com/parley-chat/parley/stomp/stompclient"
	"github.com/parley-chat/parley/transport"
)

// replayBudget is the small budget of the replay tests: 3,000 messages would be replayed
// to every since-seq:0 SUBSCRIBE and every resend without one.
const replayBudget, channelMessages = 500, 3000

func smallReplayBudget(c *transport.Config) { c.Realtime.ReplayBudget = replayBudget }

// fill writes count messages by u into channel cid straight into PostgreSQL (before any
// subscriber makes its channel actor read the last seq), with ids far below generated ones;
// once per node.
func (n *node) fill(u *user, cid int64, count int) {
	n.t.Helper()
	ctx := context.Background()
	if _, err := n.db.Exec(ctx, `INSERT INTO messages (id, channel_id, seq, user_id, content)
		SELECT 1000000 + g, $1, g, $2, 'history ' || g FROM generate_series(1, $3::int) g`, cid, u.id, count); err != nil {
		n.t.Fatal(err)
	}
	if _, err := n.db.Exec(ctx, `UPDATE channels SET last_seq = $2 WHERE id = $1`, cid, count); err != nil {
		n.t.Fatal(err)
	}
}

// bystander checks that another user still sends and receives on the node.
func bystander(t *testing.T, n *node, c *stompclient.Client, sub *stompclient.Subscription, cid int64, what string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.SendWithReceipt(ctx, actors.DestMessageSend, sendBody(cid, what)); err != nil {
		t.Fatalf("bystander's send %q: %v", what, err)
	}
	for {
		f := nextOn(t, sub)
		if messageContent(t, f) == what {
			return
		}
	}
}

// TestSinceSeqReplayLoopIsBudgeted: a resume within the replay budget is served whole;
// then a connection looping SUBSCRIBE since-seq:0 / UNSUBSCRIBE on a 3,000-message channel
// gets no more than the rest of the budget, then ERROR rate_limited and the close, while
// another user keeps sending and receiving. Without the budget it pulled 3,000 messages
// per SUBSCRIBE (issue 21, finding 4).
func TestSinceSeqReplayLoopIsBudgeted(t *testing.T) {
	t.Parallel()
	n := startNode(t, smallReplayBudget)
	alice, bob := n.user("alice"), n.user("bob")
	s := n.workspace(alice, "acme", bob)
	n.fill(alice, s.general, channelMessages)

	watcher := n.dial(bob)
	wsub, err := watcher.Subscribe(destOf(s.general))
	if err != nil {
		t.Fatal(err)
	}
	bystander(t, n, watcher, wsub, s.general, "before the loop")

	// A normal resume of 300 messages, within the budget of 500: every one, in order.
	const resume = 300
	c := n.raw(alice)
	c.write(frame(stomp.CmdSubscribe, nil, stomp.HdrID, "resume", stomp.HdrDestination, destOf(s.general),
		"since-seq", strconv.Itoa(channelMessages-resume), stomp.HdrReceipt, "r"))
	for want := int64(channelMessages - resume + 1); want <= channelMessages; {
		f := c.next()
		if f.Command == stomp.CmdReceipt {
			continue
		}
		if f.Command != stomp.CmdMessage || f.Value("seq") != strconv.FormatInt(want, 10) {
			t.Fatalf("resume, waiting for seq %d: %s %v %q", want, f.Command, f.Headers, f.Body)
		}
		want++
	}
	c.write(frame(stomp.CmdUnsubscribe, nil, stomp.HdrID, "resume"))

	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for i := 0; ; i++ {
			id := "s" + strconv.Itoa(i)
			b := frame(stomp.CmdSubscribe, nil, stomp.HdrID, id, stomp.HdrDestination, destOf(s.general), "since-seq", "0")
			b = append(b, frame(stomp.CmdUnsubscribe, nil, stomp.HdrID, id)...)
			select {
			case <-stop:
				return
			default:
			}
			if c.tryWrite(b) != nil {
				return // closed by the server
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	messages := 0
	for {
		f := c.next()
		if f.Command == stomp.CmdMessage {
			messages++
			if messages > replayBudget-resume {
				t.Fatalf("%d messages replayed by the loop, %d left in the budget", messages, replayBudget-resume)
			}
			continue
		}
		if f.Command != stomp.CmdError || f.Value("code") != "rate_limited" || f.Value(stomp.HdrDestination) != destOf(s.general) {
			t.Fatalf("after %d messages: %s %v %q", messages, f.Command, f.Headers, f.Body)
		}
		t.Logf("ERROR rate_limited after %d replayed messages: %s", messages, f.Body)
		break
	}
	c.expectClosed(10 * time.Second)
	if v := n.metric("parley_rate_limited_total"); v < 1 {
		t.Fatalf("parley_rate_limited_total = %v", v)
	}
	bystander(t, n, watcher, wsub, s.general, "after the loop")
	n.healthy()
}

// TestResendLoopIsBudgeted: /app/message.resend with sinceSeq 0, again and again, gets
// about the budget's worth of messages, then ERROR rate_limited for the resend; the
// session stays open and sends, and another user is unaffected.
func TestResendLoopIsBudgeted(t *testing.T) {
	t.Parallel()
	n := startNode(t, smallReplayBudget)
	alice, bob := n.user("alice"), n.user("bob")
	s := n.workspace(alice, "acme", bob)
	n.fill(alice, s.general, channelMessages)
	watcher := n.dial(bob)
	wsub, err := watcher.Subscribe(destOf(s.general))
	if err != nil {
		t.Fatal(err)
	}

	c := n.raw(alice)
	c.write(frame(stomp.CmdSubscribe, nil, stomp.HdrID, "resend", stomp.HdrDestination, actors.QueueResend, stomp.HdrReceipt, "sub"))
	if f := c.next(); f.Command != stomp.CmdReceipt {
		t.Fatalf("SUBSCRIBE resend: %s %v", f.Command, f.Headers)
	}
	body := []byte(`{"channelId":"` + strconv.FormatInt(s.general, 10) + `","sinceSeq":0}`)
	const resends = 5
	var b []byte
	for i := range resends {
		b = append(b, frame(stomp.CmdSend, body, stomp.HdrDestination, actors.DestMessageResend, stomp.HdrReceipt, "r"+strconv.Itoa(i))...)
	}
	c.write(b)
	messages, limited, done := 0, 0, 0
	for limited+done < resends {
		f := c.next()
		switch {
		case f.Command == stomp.CmdMessage:
			messages++
			if messages > 2*replayBudget {
				t.Fatalf("%d messages resent on one connection, budget %d", messages, replayBudget)
			}
		case f.Command == stomp.CmdError && f.Value("code") == "rate_limited" && f.Value(stomp.HdrReceiptID) != "":
			limited++
		case f.Command == stomp.CmdReceipt:
			done++ // a resend that found nothing left to charge cannot happen here; counted to fail below
		default:
			t.Fatalf("after %d messages: %s %v %q", messages, f.Command, f.Headers, f.Body)
		}
	}
	t.Logf("%d resends: %d messages, %d rate_limited", resends, messages, limited)
	if limited != resends || messages < replayBudget/2 {
		t.Fatalf("%d of %d resends rate_limited after %d messages, budget %d", limited, resends, messages, replayBudget)
	}
	// The session is still open: a message goes through.
	c.write(frame(stomp.CmdSend, sendBody(s.general, "still here"), stomp.HdrDestination, actors.DestMessageSend, stomp.HdrReceipt, "send"))
	for {
		f := c.next()
		if f.Command == stomp.CmdReceipt && f.Value(stomp.HdrReceiptID) == "send" {
			break
		}
		if f.Command == stomp.CmdError {
			t.Fatalf("send after the resends: %v %q", f.Headers, f.Body)
		}
	}
	bystander(t, n, watcher, wsub, s.general, "after the resends")
	if status, _ := n.do(http.MethodGet, "/readyz", nil, nil); status != http.StatusOK {
		t.Fatalf("/readyz %d", status)
	}
}
