package actors

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/asynkron/protoactor-go/actor"
	"golang.org/x/time/rate"

	"github.com/parley-chat/parley/persistence"
	"github.com/parley-chat/parley/stomp"
)

// QueueResend is where /app/message.resend replays a channel's messages.
const QueueResend = "/user/queue/resend"

// userQueues are the destinations a session may subscribe for its own user. There is no
// user id in them: a session can only ever name its own queues.
var userQueues = map[string]bool{
	persistence.QueueMentions:      true,
	persistence.QueueErrors:        true,
	persistence.QueueNotifications: true,
	QueueResend:                    true,
	QueuePresence:                  true,
	persistence.QueueEphemeral:     true,
}

// Messages a connection actor handles.
type (
	clientFrame   struct{ f *stomp.Frame }
	sessionClosed struct{}
	// flushDisconnect: the SEND answered last on a channel actor left none pending
	// after DISCONNECT.
	flushDisconnect struct{}
	// accessDone is a channel access check finished off the actor.
	accessDone struct {
		channelID int64
		acc       persistence.Access
		err       error
	}
	// opDone is a background operation of a SEND (read marker, resend) finished; a
	// message's commit answers with postDone (channel.go).
	opDone struct {
		receipt, dest string
		err           error
	}
)

// connActor is one session: subscriptions, limits, and the order of its frames.
type connActor struct {
	sys     *System
	sess    *Session
	out     Sink
	info    SessionInfo
	limiter *rate.Limiter // nil until the first SEND
	subs    connSubs
	access  accessCache
	ctx     context.Context // of background operations; nil until the first (opCtx)
	cancel  context.CancelFunc

	disconnecting     bool // mirrored in sess.disconnecting for Session.answer
	disconnectReceipt string
	closing           bool   // CloseAfter called: finishDisconnect runs once
	watchGen          uint64 // of the last /app/presence.watch; an older check is stale
}

// newConnActor makes a session's actor. What only a sending session needs (rate limiter,
// access cache, a context for background operations) is made on first use: most sessions
// only listen, and every byte here is paid once per connection.
func newConnActor(sys *System, sess *Session, info SessionInfo) *connActor {
	return &connActor{
		sys: sys, sess: sess, out: sess.out, info: info,
	}
}

// allowSend applies the SEND rate limit. The limiter is made by the first SEND, with a full
// bucket, as it would have been at CONNECT.
func (c *connActor) allowSend() bool {
	if c.limiter == nil {
		c.limiter = rate.NewLimiter(rate.Limit(c.sys.cfg.SendRate), c.sys.cfg.SendBurst)
	}
	return c.limiter.Allow()
}

// opCtx is the context of the session's background operations, cancelled when it stops.
func (c *connActor) opCtx() context.Context {
	if c.ctx == nil {
		c.ctx, c.cancel = context.WithCancel(context.Background())
	}
	return c.ctx
}

func (c *connActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *clientFrame:
		c.frame(m.f)
		<-c.sess.inflight
	case *userEvent:
		switch m.dest {
		case accessDest:
			c.recheckAccess(m.ev.body)
			return
		case tokenDest:
			c.tokenRevoked(m.ev.body)
			return
		}
		if id, ok := c.subs.queue(m.dest); ok {
			if c.out.Deliver(m.ev.tpl, id, m.ev.msgID, false) {
				c.sys.met.deliveries.Inc()
			}
		}
	case *accessDone:
		c.accessLoaded(m)
	case *watchChecked:
		c.watchChecked(m)
	case *opDone:
		if m.err != nil {
			c.fail(m.err, m.receipt, m.dest)
		} else {
			c.receipt(m.receipt)
		}
		c.end()
	case *postDone:
		c.sent(m)
	case *commandDone:
		c.commandDone(m)
	case flushDisconnect:
		c.finishDisconnect()
	case *sessionClosed:
		c.stop(ctx)
	case *actor.Restarting: // a panic: this instance is dropped for a fresh one (supervision.go)
		c.crashed()
	}
}

func (c *connActor) frame(f *stomp.Frame) {
	if c.disconnecting {
		return // nothing may follow DISCONNECT
	}
	receipt := f.Value(stomp.HdrReceipt)
	c.userActivity(f)
	switch f.Command {
	case stomp.CmdSend:
		c.send(f, receipt)
	case stomp.CmdSubscribe:
		c.subscribe(f, receipt)
	case stomp.CmdUnsubscribe:
		c.unsubscribe(f, receipt)
	case stomp.CmdAck, stomp.CmdNack:
		c.receipt(receipt) // every subscription is ack:auto
	case stomp.CmdDisconnect:
		c.disconnecting, c.disconnectReceipt = true, receipt
		c.sess.disconnecting.Store(true)
		c.finishDisconnect() // unless a SEND is pending: its answer flushes it

	case stomp.CmdBegin, stomp.CmdCommit, stomp.CmdAbort:
		c.fail(fmt.Errorf("%w: transactions are not supported", ErrProtocol), receipt, "")
	case stomp.CmdConnect, stomp.CmdStomp:
		c.fail(fmt.Errorf("%w: already connected", ErrProtocol), receipt, "")
	default:
		c.fail(fmt.Errorf("%w: %s is a server frame", ErrProtocol, f.Command), receipt, "")
	}
}

// begin and end bracket work whose answer DISCONNECT's receipt must follow.
// The count is the Session's: a committed SEND is answered on its channel actor.
func (c *connActor) begin() { c.sess.pending.Add(1) }

func (c *connActor) end() {
	if c.sess.pending.Add(-1) == 0 && c.disconnecting {
		c.finishDisconnect()
	}
}

// finishDisconnect closes the session after DISCONNECT's receipt once no SEND is pending.
// Both the actor (end, the frame) and a channel actor (flushDisconnect) may see zero: the
// first call closes, the others find closing set.
func (c *connActor) finishDisconnect() {
	if c.closing || c.sess.pending.Load() != 0 {
		return
	}
	c.closing = true
	var final []byte
	if c.disconnectReceipt != "" {
		final = stomp.AppendReceipt(nil, c.disconnectReceipt)
	}
	c.out.CloseAfter(final)
}

func (c *connActor) receipt(id string) {
	if id != "" {
		c.out.Receipt(id, "", "")
	}
}

// fail answers a frame with ERROR (and a copy on /user/queue/errors when subscribed); the
// session stays open.
func (c *connActor) fail(err error, receipt, dest string) {
	c.out.Frame(ErrorFrame(err, receipt, dest))
	if id, ok := c.subs.queue(persistence.QueueErrors); ok {
		body, _ := json.Marshal(errorEvent{Type: "error", Code: errorCode(err), Message: errorDetail(err),
			Destination: dest, ReceiptID: receipt})
		tpl := stomp.NewMessageTemplate(persistence.QueueErrors, contentJSON, nil, body)
		c.out.Deliver(tpl, id, c.sys.nextEventID(), false)
	}
}

type errorEvent struct {
	Type        string `json:"type"`
	Code        string `json:"code"`
	Message     string `json:"message"`
	Destination string `json:"destination,omitempty"`
	ReceiptID   string `json:"receiptId,omitempty"`
}

func (c *connActor) subscribe(f *stomp.Frame, receipt string) {
	id, dest := f.Value(stomp.HdrID), f.Value(stomp.HdrDestination)
	switch {
	case id == "" || dest == "":
		c.fail(fmt.Errorf("%w: SUBSCRIBE needs id and destination headers", ErrProtocol), receipt, dest)
		return
	case c.subs.get(id) != nil:
		c.fail(fmt.Errorf("%w: subscription id %q is in use", ErrProtocol, id), receipt, dest)
		return
	case c.subs.len() >= c.sys.cfg.MaxSubscriptions:
		c.fail(fmt.Errorf("%w: at most %d", ErrTooManySubscriptions, c.sys.cfg.MaxSubscriptions), receipt, dest)
		return
	}
	if rest, ok := strings.CutPrefix(dest, "/topic/channel."); ok {
		cid, err := parseID(rest)
		if err != nil {
			c.fail(fmt.Errorf("%w: %s", ErrUnknownDestination, dest), receipt, dest)
			return
		}
		since := int64(-1)
		if v, ok := f.Get("since-seq"); ok {
			if since, err = strconv.ParseInt(v, 10, 64); err != nil || since < 0 {
				c.fail(&persistence.ValidationError{Field: "since-seq", Reason: "must be a non-negative integer"}, receipt, dest)
				return
			}
		}
		gen := c.subs.addChannel(id, cid)
		c.withAccess(cid, func(acc persistence.Access, err error) {
			sub := c.subs.get(id)
			if sub == nil || sub.gen != gen {
				return // unsubscribed while the check ran
			}
			if err == nil {
				err = acc.CanRead()
			}
			if err != nil {
				c.subs.remove(id)
				c.fail(refusal(dest, err), receipt, dest)
				return
			}
			sub.sent = true
			c.sys.toChannel(cid, &subscribeReq{out: c.out, subID: sub.id, receipt: receipt, since: since, userID: c.info.UserID})
		})
		return
	}
	if userQueues[dest] {
		if _, dup := c.subs.queue(dest); dup {
			c.fail(fmt.Errorf("%w: already subscribed to %s", ErrProtocol, dest), receipt, dest)
			return
		}
		c.subs.addQueue(id, dest)
		c.receipt(receipt)
		return
	}
	if strings.HasPrefix(dest, "/user/") {
		c.fail(refusal(dest, fmt.Errorf("%w: a session may subscribe only to its own /user/queue/{mentions,errors,notifications,resend,presence,ephemeral}",
			persistence.ErrForbidden)), receipt, dest)
		return
	}
	c.fail(fmt.Errorf("%w: %s", ErrUnknownDestination, dest), receipt, dest)
}

// refusal is a refused SUBSCRIBE's error: its text names the destination (SPEC), its code
// stays err's.
func refusal(dest string, err error) error {
	return fmt.Errorf("cannot subscribe to %s: %w", sanitize(dest), err)
}

func (c *connActor) unsubscribe(f *stomp.Frame, receipt string) {
	id := f.Value(stomp.HdrID)
	sub, ok := c.subs.remove(id)
	if !ok {
		c.fail(fmt.Errorf("%w: no subscription %q", ErrProtocol, id), receipt, "")
		return
	}
	if sub.channelID != 0 && sub.sent {
		c.sys.toLiveChannel(sub.channelID, &unsubscribeReq{out: c.out, subID: sub.id})
	}
	c.receipt(receipt)
}

// withAccess runs fn with the session's access to channelID, from the cache or after one
// check off the actor; ops on one channel run in arrival order either way.
func (c *connActor) withAccess(channelID int64, fn func(persistence.Access, error)) {
	if e, ok, refresh := c.access.fresh(channelID, c.sys.cfg.AccessTTL); ok {
		if refresh {
			c.access.refresh(channelID)
			c.checkAccess(channelID)
		}
		fn(e.unpack(c.info.UserID, channelID))
		return
	}
	if c.access.wait(channelID, fn) {
		c.checkAccess(channelID)
	}
}

// checkAccess asks PostgreSQL for the session's access to channelID, off the actor; the
// answer comes back as an accessDone.
func (c *connActor) checkAccess(channelID int64) {
	sys, self, ctx, uid := c.sys, c.sess.pid, c.opCtx(), c.info.UserID
	sys.goWork(func() {
		acc, err := sys.store.ChannelAccess(ctx, uid, channelID)
		sys.root.Send(self, &accessDone{channelID: channelID, acc: acc, err: err})
	})
}

func (c *connActor) accessLoaded(m *accessDone) {
	if !c.access.isLoading(m.channelID) {
		return
	}
	run := c.access.loaded(m.channelID, m.acc, m.err, c.sys.cfg.AccessTTL)
	if c.access.waiting(m.channelID) {
		c.checkAccess(m.channelID) // for the operations that came after an access change
	}
	for _, fn := range run {
		fn(m.acc, m.err)
	}
}

// stop ends the session: every channel forgets it, the registries too, then the actor stops.
func (c *connActor) stop(ctx actor.Context) {
	if c.cancel != nil {
		c.cancel()
	}
	c.out.CloseNow()
	for _, sub := range c.subs.list {
		if sub.channelID != 0 && sub.sent {
			c.sys.toLiveChannel(sub.channelID, &unsubscribeReq{out: c.out, subID: sub.id})
		}
	}
	c.subs = connSubs{}
	c.sys.forget(c.sess)
	ctx.Stop(ctx.Self())
}

// parseID parses a positive decimal id.
func parseID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("bad id %q", s)
	}
	return id, nil
}
