package actors

import (
	"context"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/parley-chat/parley/persistence"
)

// receiptKey is a marker's identity: a user's marker in a channel (thread 0) or in the
// thread of root id thread (ADR 0040).
type receiptKey struct{ user, channel, thread int64 }

type receiptEntry struct {
	seq int64
	at  time.Time // when the marker was recorded: the lag metric starts here
}

// mergeReceipt keeps the higher seq of key; it reports whether e replaced what was there.
func mergeReceipt(m map[receiptKey]receiptEntry, k receiptKey, e receiptEntry) bool {
	if cur, ok := m[k]; ok && cur.seq >= e.seq {
		return false
	}
	m[k] = e
	return true
}

func toMarkers(m map[receiptKey]receiptEntry) []persistence.ReadMarker {
	out := make([]persistence.ReadMarker, 0, len(m))
	for k, e := range m {
		out = append(out, persistence.ReadMarker{UserID: k.user, ChannelID: k.channel, ThreadID: k.thread, Seq: e.seq, ReadAt: e.at})
	}
	return out
}

// Messages of the aggregator.
type (
	receiptRecord struct {
		key   receiptKey
		entry receiptEntry
	}
	receiptFlushTick struct{}
	// receiptFlushed reports a Kafka write that ran off the actor.
	receiptFlushed struct {
		batch []persistence.ReadMarker
		err   error
	}
	// receiptDrain asks for everything pending to reach Kafka or Redis; done gets the
	// outcome. deadline (zero: none) shortens the last Kafka attempt.
	receiptDrain struct {
		deadline time.Time
		done     chan error
	}
)

// aggregatorState outlives aggregator incarnations: a supervisor restart gets it back, so
// a panic loses at most the message being handled.
type aggregatorState struct {
	pending  map[receiptKey]receiptEntry
	inflight bool // one Kafka write at a time; pending coalesces meanwhile
	drain    *receiptDrain
	drainAsk bool // the fallback was asked to finish parking
	fallback *fallbackState
}

func newAggregatorState() *aggregatorState {
	return &aggregatorState{pending: make(map[receiptKey]receiptEntry), fallback: newFallbackState()}
}

// receiptAggregator is the node's receipt aggregator actor (one per node): it coalesces
// markers to the newest per (user, channel) and flushes them every FlushInterval or at
// FlushSize entries. The write runs on its own goroutine and reports back by message, so
// the actor never blocks on Kafka; a failed batch goes to the fallback child.
type receiptAggregator struct {
	r        *Receipts
	st       *aggregatorState
	child    *actor.PID
	stopTick func()
	stopping bool
}

func (a *receiptAggregator) Receive(ctx actor.Context) {
	st := a.st
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		a.spawnFallback(ctx)
		a.stopTick = a.r.tick(ctx.Self(), a.r.cfg.FlushInterval, receiptFlushTick{})
		a.checkDrain(ctx) // after a restart, a drain in progress goes on
	case *actor.Restarting:
		a.stopTick()
	case *actor.Stopping:
		a.stopping = true
		a.stopTick()
	case *actor.Terminated:
		// The fallback stopped (too many restarts in a row): its state is ours, so a new
		// one takes over where it left off.
		if !a.stopping && a.child != nil && msg.Who.Equal(a.child) {
			a.r.log.Error("receipt fallback stopped, starting a new one")
			a.spawnFallback(ctx)
			a.checkDrain(ctx)
		}
	case *receiptRecord:
		mergeReceipt(st.pending, msg.key, msg.entry)
		if len(st.pending) >= a.r.cfg.FlushSize {
			a.flush(ctx)
		}
	case receiptFlushTick:
		a.flush(ctx)
	case *receiptFlushed:
		st.inflight = false
		if msg.err != nil {
			a.r.met.fallback.Add(float64(len(msg.batch)))
			// Debug: Kafka's dependency tracker logs the outage once (ADR 0028); this
			// repeats with every flush while the broker is down.
			a.r.log.Debug("read receipts: Kafka write failed, handing the batch to the fallback", "err", msg.err, "markers", len(msg.batch))
			ctx.Send(a.child, &fallbackAdd{batch: msg.batch})
		} else {
			a.r.met.sent.Add(float64(len(msg.batch)))
		}
		if len(st.pending) >= a.r.cfg.FlushSize || st.drain != nil {
			a.flush(ctx)
		}
		a.checkDrain(ctx)
	case *receiptDrain:
		st.drain = msg
		a.flush(ctx)
		a.checkDrain(ctx)
	case *fallbackDrained:
		if st.drain != nil {
			st.drain.done <- msg.err
			st.drain, st.drainAsk = nil, false
		}
	}
}

// spawnFallback starts the fallback child; a drain it was asked to finish is asked again.
func (a *receiptAggregator) spawnFallback(ctx actor.Context) {
	a.st.drainAsk = false
	props := actor.PropsFromProducer(func() actor.Actor {
		return &receiptFallback{r: a.r, st: a.st.fallback}
	})
	pid, err := ctx.SpawnNamed(props, receiptFallbackName)
	if err != nil {
		// Only if the old child were still registered; any name will do then.
		pid = ctx.Spawn(props)
	}
	a.child = pid
}

// receiptFallbackName names the fallback under the aggregator (".../fallback").
const receiptFallbackName = "fallback"

// flush starts a Kafka write of everything pending unless one is in flight.
func (a *receiptAggregator) flush(ctx actor.Context) {
	st := a.st
	if st.inflight || len(st.pending) == 0 {
		return
	}
	batch := toMarkers(st.pending)
	st.pending = make(map[receiptKey]receiptEntry, len(batch))
	st.inflight = true
	timeout := a.r.cfg.SendTimeout
	if st.drain != nil && !st.drain.deadline.IsZero() {
		// Leave half of what remains for parking whatever this write fails to deliver.
		timeout = max(min(timeout, time.Until(st.drain.deadline)/2), 50*time.Millisecond)
	}
	self, r := ctx.Self(), a.r
	r.goWork(func(bctx context.Context) {
		sctx, cancel := context.WithTimeout(bctx, timeout)
		err := r.deps.Kafka.SendReceipts(sctx, batch)
		cancel()
		if err == nil {
			// MarkRead parked these; Kafka has them now. The compare-and-delete keeps a
			// newer value parked meanwhile, which is in pending and unparked after its own
			// flush. A failure only leaves copies that a re-send will duplicate.
			uctx, cancel := context.WithTimeout(bctx, r.cfg.RedisTimeout)
			if uerr := r.deps.Parking.UnparkReceipts(uctx, batch); uerr != nil {
				r.log.Warn("read receipts: unparking a flushed batch failed; its parked copies will be re-sent", "err", uerr, "markers", len(batch))
			}
			cancel()
		}
		r.as.Root.Send(self, &receiptFlushed{batch: batch, err: err})
	})
}

// checkDrain asks the fallback to finish parking once nothing is pending or in flight;
// the fallback's answer completes the drain.
func (a *receiptAggregator) checkDrain(ctx actor.Context) {
	st := a.st
	if st.drain == nil || st.drainAsk || st.inflight || len(st.pending) > 0 {
		return
	}
	st.drainAsk = true
	ctx.Send(a.child, &fallbackDrain{replyTo: ctx.Self()})
}
