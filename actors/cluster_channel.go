package actors

import (
	"context"
	"time"
)

// The channel actor's cross-node side (ADR 0005). While the channel has a local subscriber
// the actor holds the channel's bus topic and a reorder buffer whose baseline is the
// channel's last seq read from PostgreSQL when the first subscriber came (its RECEIPT waits
// for it). Every new message — committed here, posted by another node, or read back from
// PostgreSQL — goes through the buffer and reaches subscribers in seq order, once. A gap
// that does not close within Config.GapWait, and everything after a bus resync, is read
// from PostgreSQL. Each committed batch is posted once; when posting fails the actor keeps
// announcing the channel's latest seq until an announcement gets through, so that a quiet
// channel still reveals its gap to the other nodes.

// Messages of the cross-node side.
type (
	busDelivery struct {
		gen     int
		payload []byte
	}
	busResync  struct{ gen int }
	baseLoaded struct {
		gen  int
		last int64
		err  error
	}
	fillDone struct {
		gen    int
		events []*event
		more   bool // stopped at maxFillPages: read on
		err    error
	}
	gapTick     struct{ gen int }
	publishDone struct {
		head int64
		err  error
	}
	announceTick struct{}
)

const (
	// maxFillPages bounds one gap fill (× ReplayPageSize messages); a longer gap is read
	// in several rounds, delivering between them.
	maxFillPages = 5
	// maxHeld: a gap holding back more messages than this is filled at once.
	maxHeld = 10_000
	// fillRetry is the wait before a failed gap fill is tried again.
	fillRetry = time.Second
)

// clusterState is the channel actor's cross-node state.
type clusterState struct {
	ord      reorder
	interest BusSubscription // held while there are subscribers (or some wait)
	gen      int             // moves on with every interest taken or dropped
	waiting  []*subscribeReq // subscribers waiting for the baseline

	baseLoading bool
	filling     bool
	refill      bool // a resync asked for a fill while one was running (or before the baseline)

	gapTimer *time.Timer
	gapGen   int

	committed     int64 // highest seq committed by this actor
	announceTimer *time.Timer

	// A commit started while the baseline loads follows a waiting SUBSCRIBE in its session's
	// order, and may land before the baseline read: its messages must still reach the
	// waiting subscribers. baseCommit marks such a commit in flight, localFloor is the
	// lowest seq they wrote (0: none), and a baseline that comes while one is in flight is
	// parked until it is done.
	baseCommit bool
	localFloor int64
	parked     *baseLoaded

	fresh []heldMsg // added since the last release, to count those held back
}

type heldMsg struct {
	seq    int64
	remote bool
}

func sourceLabel(remote bool) string {
	if remote {
		return "remote"
	}
	return "local"
}

// takeInterest subscribes the channel's bus topic and starts loading the baseline.
func (a *channelActor) takeInterest() {
	if a.cl.interest != nil {
		return
	}
	a.cl.gen++
	a.cl.interest = a.sys.bus.SubscribeChannel(a.id, channelHandler{root: a.sys.root, pid: a.self, gen: a.cl.gen})
	a.cl.baseLoading = true
	sys, id, self, gen := a.sys, a.id, a.self, a.cl.gen
	sys.goWork(func() {
		ctx, cancel := context.WithTimeout(context.Background(), sys.cfg.CommitTimeout)
		acc, err := sys.store.ChannelAccess(ctx, 0, id) // user 0: only the channel's row matters
		cancel()
		sys.root.Send(self, &baseLoaded{gen: gen, last: acc.LastSeq, err: err})
	})
}

// dropInterest leaves the topic once nobody here subscribes: what the node knew of the
// channel's seq is stale from then on.
func (a *channelActor) dropInterest() {
	if a.cl.interest == nil {
		return
	}
	a.cl.interest.Close()
	a.cl.interest = nil
	a.cl.gen++
	a.sys.met.cl.held.Sub(float64(a.cl.ord.held()))
	a.cl.ord.reset()
	a.cl.fresh = a.cl.fresh[:0]
	a.cl.baseLoading, a.cl.filling, a.cl.refill = false, false, false
	a.cl.baseCommit, a.cl.localFloor, a.cl.parked = false, 0, nil
	a.disarmGap()
}

func (a *channelActor) baseLoaded(m *baseLoaded) {
	if m.gen != a.cl.gen {
		return
	}
	if a.inFlight && a.cl.baseCommit {
		a.cl.parked = m // committed() hands it back
		return
	}
	a.cl.baseLoading = false
	waiting := a.cl.waiting
	a.cl.waiting = nil
	if m.err != nil {
		a.sys.log.Warn("channel baseline failed", "channel", a.id, "err", m.err)
		for _, r := range waiting {
			r.out.CloseAfter(ErrorFrame(m.err, r.receipt, a.dest))
		}
		if len(a.subs) == 0 {
			a.dropInterest()
		}
		a.armIdle()
		return
	}
	base := m.last
	if a.cl.localFloor > 0 { // messages sent after the SUBSCRIBE are delivered, not covered
		base = min(base, a.cl.localFloor-1)
		a.cl.localFloor = 0
	}
	before := a.cl.ord.held()
	a.cl.ord.setBase(base)
	a.cl.ord.announce(m.last) // whatever lies between is filled from PostgreSQL
	a.sys.met.cl.held.Sub(float64(before - a.cl.ord.held()))
	for _, r := range waiting {
		a.subscribeNow(r)
	}
	a.release()
	if a.cl.refill {
		a.startFill()
	}
}

// busDelivered takes a batch from another node.
func (a *channelActor) busDelivered(m *busDelivery) {
	if m.gen != a.cl.gen || a.cl.interest == nil {
		return
	}
	b, err := decodeChannelBatch(m.payload)
	if err != nil || b.channel != a.id {
		a.sys.met.cl.malformed.Inc()
		return
	}
	for _, ev := range b.events {
		if ev.seq == 0 { // not a new message: as it comes
			a.sys.met.cl.received.WithLabelValues("event").Inc()
			a.deliver(ev)
			continue
		}
		a.sys.met.cl.received.WithLabelValues("message").Inc()
		a.hold(ev, true)
	}
	a.cl.ord.announce(b.head)
	a.release()
}

// hold puts a new message in the reorder buffer; remote says it came over the bus, where
// a duplicate is worth counting.
func (a *channelActor) hold(ev *event, remote bool) {
	if !a.cl.ord.add(ev) {
		if remote {
			a.sys.met.cl.duplicates.Inc()
		}
		return
	}
	a.sys.met.cl.held.Inc()
	a.cl.fresh = append(a.cl.fresh, heldMsg{seq: ev.seq, remote: remote})
}

// release delivers what the buffer lets go, in seq order, and watches what it holds back.
func (a *channelActor) release() {
	for ev := a.cl.ord.pop(); ev != nil; ev = a.cl.ord.pop() {
		a.sys.met.cl.held.Dec()
		a.deliver(ev)
	}
	if a.cl.ord.known {
		for _, h := range a.cl.fresh { // still held: an earlier seq is missing
			if h.seq > a.cl.ord.last {
				a.sys.met.cl.heldBack.WithLabelValues(sourceLabel(h.remote)).Inc()
			}
		}
	}
	a.cl.fresh = a.cl.fresh[:0]
	switch {
	case !a.cl.ord.gap():
		a.disarmGap()
	case a.cl.ord.held() > maxHeld && !a.cl.filling:
		a.startFill()
	default:
		a.armGap(a.sys.cfg.GapWait)
	}
}

func (a *channelActor) busResynced(m *busResync) {
	if m.gen != a.cl.gen || a.cl.interest == nil {
		return
	}
	a.sys.met.cl.resyncs.Inc()
	a.cl.refill = true
	if a.cl.ord.known && !a.cl.filling {
		a.startFill()
	}
}

// startFill reads every message after the last delivered one from PostgreSQL, off the
// actor, up to maxFillPages pages.
func (a *channelActor) startFill() {
	a.disarmGap()
	a.cl.refill = false
	a.cl.filling = true
	a.sys.met.cl.fills.Inc()
	sys, id, dest, self, gen, from := a.sys, a.id, a.dest, a.self, a.cl.gen, a.cl.ord.last
	sys.goWork(func() {
		ctx, cancel := context.WithTimeout(context.Background(), sys.cfg.ReplayTimeout)
		defer cancel()
		d := &fillDone{gen: gen}
		page := sys.cfg.ReplayPageSize
		for n := 0; ; n++ {
			ms, err := sys.store.MessagesAfter(ctx, id, from, page)
			if err != nil {
				d.err = err
				break
			}
			for i := range ms {
				ev, err := messageEvent(dest, &ms[i])
				if err != nil {
					d.err = err
					break
				}
				d.events = append(d.events, ev)
				from = ms[i].Seq
			}
			if d.err != nil || len(ms) < page {
				break
			}
			if n+1 >= maxFillPages {
				d.more = true
				break
			}
		}
		sys.root.Send(self, d)
	})
}

func (a *channelActor) filled(m *fillDone) {
	if m.gen != a.cl.gen {
		return
	}
	a.cl.filling = false
	for _, ev := range m.events {
		if a.cl.ord.add(ev) {
			a.sys.met.cl.held.Inc()
			a.sys.met.cl.filled.Inc()
		}
	}
	a.release()
	switch {
	case m.err != nil:
		a.sys.log.Warn("gap fill failed; retrying", "channel", a.id, "err", m.err, "in", fillRetry)
		a.cl.refill = true
		a.disarmGap()
		a.armGap(fillRetry)
	case m.more || a.cl.refill:
		a.startFill()
	default:
		a.armIdle()
	}
}

func (a *channelActor) armGap(d time.Duration) {
	if a.cl.gapTimer != nil || a.cl.filling {
		return
	}
	a.cl.gapGen++
	gen, root, self := a.cl.gapGen, a.sys.root, a.self
	a.cl.gapTimer = time.AfterFunc(d, func() { root.Send(self, &gapTick{gen: gen}) })
}

func (a *channelActor) disarmGap() {
	if a.cl.gapTimer != nil {
		a.cl.gapTimer.Stop()
		a.cl.gapTimer = nil
	}
	a.cl.gapGen++
}

func (a *channelActor) gapTicked(m *gapTick) {
	if m.gen != a.cl.gapGen {
		return
	}
	a.cl.gapTimer = nil
	if a.cl.interest == nil || a.cl.filling || !a.cl.ord.known {
		return
	}
	if a.cl.ord.gap() || a.cl.refill {
		a.sys.met.cl.gaps.Inc()
		a.startFill()
	}
}

// publish posts a committed batch (new messages in seq order) for the other nodes.
func (a *channelActor) publish(evs []*event) {
	head := evs[len(evs)-1].seq
	for _, p := range encodeChannelBatches(a.sys.cfg.NodeID, a.id, 0, evs) {
		if err := a.sys.bus.Post(a.id, p, a.publishDoneFunc(head)); err != nil {
			a.publishFailed(head)
		}
	}
}

// publishDoneFunc reports a Post's outcome to the actor: always a failure, a success only
// while an announcement is owed (it may settle it).
func (a *channelActor) publishDoneFunc(head int64) func(error) {
	root, self, owed := a.sys.root, a.self, &a.unannounced
	return func(err error) {
		if err != nil || owed.Load() > 0 {
			root.Send(self, &publishDone{head: head, err: err})
		}
	}
}

func (a *channelActor) published(m *publishDone) {
	if m.err != nil {
		a.publishFailed(m.head)
		return
	}
	if owed := a.unannounced.Load(); owed > 0 && m.head >= owed {
		a.unannounced.Store(0)
		if a.cl.announceTimer != nil {
			a.cl.announceTimer.Stop()
			a.cl.announceTimer = nil
		}
		a.armIdle()
	}
}

// publishFailed: the other nodes may not learn of seq head through the bus. Until a later
// post reaches Redis, the latest seq is announced every AnnounceInterval.
func (a *channelActor) publishFailed(head int64) {
	a.sys.met.cl.publishFailures.WithLabelValues("message").Inc()
	if head > a.unannounced.Load() {
		a.unannounced.Store(head)
	}
	if a.unannounced.Load() > 0 && a.cl.announceTimer == nil {
		root, self := a.sys.root, a.self
		a.cl.announceTimer = time.AfterFunc(a.sys.cfg.AnnounceInterval, func() { root.Send(self, &announceTick{}) })
	}
}

func (a *channelActor) announce() {
	a.cl.announceTimer = nil
	owed := a.unannounced.Load()
	if owed == 0 {
		return
	}
	head := max(a.cl.committed, owed)
	a.sys.met.cl.announcements.Inc()
	p := encodeChannelBatches(a.sys.cfg.NodeID, a.id, head, nil)[0]
	if err := a.sys.bus.Post(a.id, p, a.publishDoneFunc(head)); err != nil {
		a.publishFailed(head)
	}
}

// stopCluster releases the cross-node side when the actor stops.
func (a *channelActor) stopCluster() {
	a.dropInterest()
	if a.cl.announceTimer != nil {
		a.cl.announceTimer.Stop()
		a.cl.announceTimer = nil
	}
	if n := len(a.cl.waiting); n > 0 {
		a.cl.waiting = nil
	}
}
