package actors

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/parley-chat/parley/persistence"
	"github.com/parley-chat/parley/stomp"
)

// Messages a channel actor handles. The first four come through the registry.
type (
	// postReq appends one message. Its answer, committed or not, is one *postDone handed
	// back: to the SEND's session (from, Session.answer), or to a REST Post waiting on done.
	postReq struct {
		msg     persistence.NewMessage
		from    *Session       // the sending session; nil for REST
		done    chan *postDone // capacity 1, for REST's Post; nil when from is set
		receipt string         // the SEND's receipt header, handed back in postDone
	}
	// subscribeReq registers a session's subscription to the channel's topic.
	subscribeReq struct {
		out     Sink
		subID   string
		receipt string // RECEIPT once registered; "" for none
		since   int64  // replay seq > since first; -1 for none
		userID  int64  // whose replay budget the replay spends
	}
	unsubscribeReq struct {
		out   Sink
		subID string
	}
	// eventReq is an event that is not a new message (edit, typing, read…), encoded once.
	eventReq struct{ ev *event }

	commitDone struct {
		batch   []*postReq
		results []postResult
		err     error
		took    time.Duration
	}
	replayDone struct {
		rep  *replayState
		last int64 // the highest seq replayed (since when none)
		err  error
	}
	idleTick struct{ gen int }
)

// postDone answers a postReq once its commit is done or has failed (or the node drains).
type postDone struct {
	receipt string
	res     *postResult
}

// answer sends r its result. It never blocks: a mailbox send, or the one value of a
// channel with room for it.
func (r *postReq) answer(root *actor.RootContext, res *postResult) {
	d := &postDone{receipt: r.receipt, res: res}
	if r.from != nil {
		r.from.answer(root, d)
		return
	}
	r.done <- d
}

// postResult is a committed (or refused) message with its header strings made once.
type postResult struct {
	res      persistence.AppendResult
	err      error  // the whole batch failed, or res.Err
	id, seq  string // message-id and seq headers
	ev       *event // nil unless a new message was written
	mentions []*userEvent
}

// event is one MESSAGE to a channel's subscribers: encoded once, copied per subscriber.
type event struct {
	tpl   *stomp.MessageTemplate
	msgID string
	seq   int64 // > 0 for a new message; 0 for events about something else
	body  []byte
	lazy  bool // a read event: may wait for the session's next write (Sink.Deliver)
}

// chanSub is a subscriber. The actor keeps them by value: one object per subscriber was
// 200,000 more for the collector to mark at 10,000 users (ADR 0013).
type chanSub struct {
	out Sink
	id  string
	// since is the subscriber's since-seq (0 without): a client resuming on this node may
	// already have seen, through another node, messages this node has not delivered yet.
	since int64
	rep   *replayState // non-nil while a since-seq replay runs
}

// replayState holds the live events that wait while PostgreSQL replays a subscriber's gap.
type replayState struct{ pending []*event }

// channelActor orders one channel on this node: group commit, fan-out, replays.
type channelActor struct {
	sys   *System
	id    int64
	entry *channelEntry
	dest  string
	self  *actor.PID

	subs     []chanSub
	queue    []*postReq
	inFlight bool
	replays  int
	// cl is the cross-node side: bus interest, the reorder buffer (whose last is the
	// highest seq delivered here), gap fills and announcements (cluster_channel.go).
	cl clusterState
	// unannounced is the highest committed seq whose publish failed and that no later
	// publish has covered yet (0: none); read by the bus's completion callbacks.
	unannounced atomic.Int64

	idleGen   int
	idleTimer *time.Timer
}

func newChannelActor(sys *System, id int64, e *channelEntry) *channelActor {
	return &channelActor{sys: sys, id: id, entry: e, dest: ChannelDestination(id)}
}

// ChannelDestination is the STOMP destination of a channel's events.
func ChannelDestination(channelID int64) string {
	return "/topic/channel." + strconv.FormatInt(channelID, 10)
}

func (a *channelActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		a.self = ctx.Self()
		a.armIdle()
	case *postReq:
		a.received()
		a.queue = append(a.queue, m)
		a.sys.met.queuedSends.Inc()
		a.disarmIdle()
		if !a.inFlight {
			a.startCommit()
		}
	case *commitDone:
		a.committed(m)
	case *subscribeReq:
		a.received()
		a.subscribe(m)
	case *unsubscribeReq:
		a.received()
		a.unsubscribe(m.out, m.subID)
	case *eventReq:
		a.received()
		a.deliver(m.ev)
		a.sys.publishEvents(a.id, m.ev)
	case *replayDone:
		a.replayed(m)
	case *busDelivery:
		a.busDelivered(m)
	case *busResync:
		a.busResynced(m)
	case *baseLoaded:
		a.baseLoaded(m)
	case *fillDone:
		a.filled(m)
	case *gapTick:
		a.gapTicked(m)
	case *publishDone:
		a.published(m)
	case *announceTick:
		a.announce()
	case *idleTick:
		if m.gen != a.idleGen {
			return // disarmed since
		}
		a.idleTimer = nil
		if a.idle() && a.sys.retire(a.id, a.entry) {
			ctx.Stop(a.self)
			return
		}
		a.armIdle() // something was on its way: look again later
	case *actor.Stopping:
		a.disarmIdle()
		a.stopCluster()
	case *actor.Restarting: // a panic: this instance is dropped for a fresh one (supervision.go)
		a.crashed()
	}
}

// received accounts for a message that came through the registry.
func (a *channelActor) received() {
	a.entry.inbox.Add(-1)
	a.sys.met.channelInbox.Dec()
}

// startCommit sends the queued messages (up to MaxBatch) in one transaction, off the actor:
// through the node's coalescer, which may share the transaction with other channels'
// batches (ADR 0046), or on its own.
func (a *channelActor) startCommit() {
	n := min(len(a.queue), a.sys.cfg.MaxBatch)
	batch := slices.Clone(a.queue[:n])
	clear(a.queue[:n])
	a.queue = a.queue[n:]
	if len(a.queue) == 0 {
		a.queue = nil // let the drained backing array go
	}
	a.sys.met.queuedSends.Sub(float64(n))
	a.inFlight = true
	a.cl.baseCommit = a.cl.baseLoading
	msgs := make([]persistence.NewMessage, n)
	for i, r := range batch {
		msgs[i] = r.msg
	}
	sys, id, dest, self := a.sys, a.id, a.dest, a.self
	done := func(res []persistence.AppendResult, err error, took time.Duration) {
		done := &commitDone{batch: batch, err: err, took: took}
		if err == nil && len(res) != len(batch) {
			done.err = errShortResult
		}
		if done.err == nil {
			done.results = prepareResults(sys, dest, res)
		}
		sys.root.Send(self, done)
	}
	// A batch needing lookups (replies, @-names, files) commits on its own, as it did
	// before ADR 0046: in a shared transaction it would hold the other channels up.
	if co := sys.coalescer; co != nil && persistence.OneStatement(msgs) {
		co.submit(&commitReq{channel: id, msgs: msgs, done: done})
		return
	}
	sys.goWork(func() {
		ctx, cancel := context.WithTimeout(context.Background(), sys.cfg.CommitTimeout)
		start := time.Now()
		res, err := sys.store.AppendMessages(ctx, id, msgs)
		took := time.Since(start)
		cancel()
		sys.met.observeCommit(commitOwn, 1, len(msgs))
		done(res, err, took)
	})
}

// prepareResults encodes, off the actor, everything the fan-out will copy.
func prepareResults(sys *System, dest string, res []persistence.AppendResult) []postResult {
	out := make([]postResult, len(res))
	for i := range res {
		r := &out[i]
		r.res = res[i]
		if r.res.Err != nil {
			r.err = r.res.Err
			continue
		}
		m := &r.res.Message
		r.id = strconv.FormatInt(m.ID, 10)
		r.seq = strconv.FormatInt(m.Seq, 10)
		if r.res.Duplicate {
			continue
		}
		body, err := json.Marshal(persistence.NewMessageEvent(*m))
		if err != nil { // cannot happen for these types; the message is committed anyway
			sys.log.Error("encode message event", "err", err)
			continue
		}
		r.ev = &event{
			tpl:   stomp.NewMessageTemplate(dest, contentJSON, []stomp.Header{{Key: hdrSeq, Value: r.seq}}, body),
			msgID: r.id, seq: m.Seq, body: body,
		}
		for _, mn := range r.res.Mentions {
			if ue := newUserEvent(sys, mn.UserID, persistence.QueueMentions,
				persistence.MentionEvent{Type: persistence.EventMention, Mention: mn, Message: *m}); ue != nil {
				r.mentions = append(r.mentions, ue)
			}
			if mn.Notify {
				if ue := newUserEvent(sys, mn.UserID, persistence.QueueNotifications,
					persistence.NewMentionNotification(mn, *m)); ue != nil {
					r.mentions = append(r.mentions, ue)
				}
			}
		}
		for _, tu := range r.res.ThreadUpdates { // thread.updated to the followers (ADR 0040)
			if ue := newUserEvent(sys, tu.UserID, persistence.QueueNotifications, persistence.NewThreadUpdatedEvent(tu)); ue != nil {
				r.mentions = append(r.mentions, ue)
			}
		}
	}
	return out
}

func (a *channelActor) committed(d *commitDone) {
	a.inFlight = false
	met := a.sys.met
	met.commitBatch.Observe(float64(len(d.batch)))
	met.commitLatency.Observe(d.took.Seconds())
	if d.err != nil {
		a.sys.log.Warn("group commit failed", "channel", a.id, "messages", len(d.batch), "err", d.err)
		met.sends.WithLabelValues("failed").Add(float64(len(d.batch)))
		for _, r := range d.batch {
			r.answer(a.sys.root, &postResult{err: d.err})
		}
	} else {
		var fresh []*event
		for i, r := range d.batch {
			pr := &d.results[i]
			r.answer(a.sys.root, pr)
			switch {
			case pr.err != nil:
				met.sends.WithLabelValues("rejected").Inc()
				continue
			case pr.ev == nil:
				met.sends.WithLabelValues("duplicate").Inc()
				continue
			}
			met.sends.WithLabelValues("ok").Inc()
			a.cl.committed = max(a.cl.committed, pr.ev.seq)
			if a.cl.baseCommit && (a.cl.localFloor == 0 || pr.ev.seq < a.cl.localFloor) {
				a.cl.localFloor = pr.ev.seq
			}
			if a.cl.interest != nil { // local subscribers: in seq order with the other nodes' messages
				a.hold(pr.ev, false)
			}
			fresh = append(fresh, pr.ev)
			for _, ue := range pr.mentions {
				a.sys.publishUser(ue)
			}
		}
		if len(fresh) > 0 {
			if a.cl.interest != nil {
				a.release()
			}
			a.publish(fresh)
		}
	}
	a.cl.baseCommit = false
	if m := a.cl.parked; m != nil {
		a.cl.parked = nil
		a.baseLoaded(m)
	}
	a.sys.pendingPosts.Add(-int64(len(d.batch)))
	if len(a.queue) > 0 {
		a.startCommit()
	} else {
		a.armIdle()
	}
}

// deliver queues ev to every subscriber; a subscriber whose queue is full is dropped by its
// Sink, never waited for.
func (a *channelActor) deliver(ev *event) {
	if ev.seq > a.entry.delivered.Load() {
		a.entry.delivered.Store(ev.seq) // only this actor writes it
	}
	n := 0
	for i := range a.subs {
		s := &a.subs[i]
		if s.rep != nil {
			s.rep.pending = append(s.rep.pending, ev)
			continue
		}
		if ev.seq > 0 && ev.seq <= s.since {
			continue
		}
		if s.out.Deliver(ev.tpl, s.id, ev.msgID, ev.lazy) {
			n++
		}
	}
	a.sys.met.deliveries.Add(float64(n))
}

// subscribe registers a subscriber once the actor knows where the channel stands on this
// node: the first subscriber makes it take bus interest and read the channel's last seq,
// and subscribers wait (without RECEIPT) until then.
func (a *channelActor) subscribe(r *subscribeReq) {
	a.removeSub(r.out, r.subID) // a re-SUBSCRIBE with the same id replaces the old one
	a.disarmIdle()
	if !a.cl.ord.known {
		a.cl.waiting = append(a.cl.waiting, r)
		a.takeInterest()
		return
	}
	a.subscribeNow(r)
}

func (a *channelActor) subscribeNow(r *subscribeReq) {
	a.subs = append(a.subs, chanSub{out: r.out, id: r.subID, since: max(r.since, 0)})
	if r.receipt != "" {
		r.out.Receipt(r.receipt, "", "")
	}
	last := a.cl.ord.last
	if r.since < 0 || r.since >= last {
		return // nothing to replay: live from here
	}
	// Live events wait in pending while PostgreSQL replays since < seq ≤ last; everything
	// after last reaches pending through the reorder buffer, in order.
	rep := &replayState{}
	a.subs[len(a.subs)-1].rep = rep
	a.replays++
	upTo := last
	sys, id, dest, self, out, subID := a.sys, a.id, a.dest, a.self, r.out, r.subID
	sys.goWork(func() {
		last, err := replay(sys, r.userID, id, dest, out, subID, r.since, upTo)
		if _, spent := errors.AsType[*replayBudgetError](err); spent {
			// Closed here, not in replayed: a looping SUBSCRIBE since-seq / UNSUBSCRIBE
			// has unsubscribed by then, and must get the ERROR all the same.
			out.CloseAfter(ErrorFrame(err, "", dest))
		}
		sys.root.Send(self, &replayDone{rep: rep, last: last, err: err})
	})
}

func (a *channelActor) replayed(d *replayDone) {
	a.replays--
	i := slices.IndexFunc(a.subs, func(s chanSub) bool { return s.rep == d.rep })
	if i < 0 {
		a.armIdle()
		return // unsubscribed meanwhile
	}
	s := &a.subs[i]
	s.rep = nil
	pending := d.rep.pending
	if d.err != nil {
		// The subscription cannot go on with a hole in it: ERROR, and the session closes
		// (past the replay budget it is closed already: ADR 0026).
		if d.err != errSessionClosed {
			if _, spent := errors.AsType[*replayBudgetError](d.err); !spent {
				a.sys.log.Warn("since-seq replay failed", "channel", a.id, "err", d.err)
			}
			s.out.CloseAfter(ErrorFrame(d.err, "", a.dest))
		}
		return
	}
	n := 0
	for _, ev := range pending {
		if ev.seq > 0 && ev.seq <= d.last {
			continue // already replayed: the seam
		}
		if s.out.Deliver(ev.tpl, s.id, ev.msgID, ev.lazy) {
			n++
		}
	}
	a.sys.met.deliveries.Add(float64(n))
}

func (a *channelActor) unsubscribe(out Sink, subID string) {
	a.removeSub(out, subID)
	if len(a.subs) == 0 && len(a.cl.waiting) == 0 {
		a.dropInterest()
	}
	a.armIdle()
}

func (a *channelActor) removeSub(out Sink, subID string) {
	a.subs = slices.DeleteFunc(a.subs, func(s chanSub) bool { return s.out == out && s.id == subID })
	a.cl.waiting = slices.DeleteFunc(a.cl.waiting, func(r *subscribeReq) bool {
		return r.out == out && r.subID == subID
	})
}

func (a *channelActor) idle() bool {
	return len(a.subs) == 0 && len(a.cl.waiting) == 0 && len(a.queue) == 0 && !a.inFlight &&
		a.replays == 0 && a.unannounced.Load() == 0
}

// armIdle starts the idle timer when there is nothing to do; a stale tick (older gen) is
// ignored, so disarming is just moving the generation on.
func (a *channelActor) armIdle() {
	if !a.idle() || a.idleTimer != nil {
		return
	}
	a.idleGen++
	gen, root, self := a.idleGen, a.sys.root, a.self
	a.idleTimer = time.AfterFunc(a.sys.cfg.ChannelIdle, func() { root.Send(self, &idleTick{gen: gen}) })
}

func (a *channelActor) disarmIdle() {
	if a.idleTimer != nil {
		a.idleTimer.Stop()
		a.idleTimer = nil
	}
	a.idleGen++
}
