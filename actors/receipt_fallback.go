package actors

import (
	"context"
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/parley-chat/parley/persistence"
)

// Messages of the fallback.
type (
	// fallbackAdd hands over a batch Kafka did not take.
	fallbackAdd struct{ batch []persistence.ReadMarker }
	// fallbackRetryTick comes every RetryInterval.
	fallbackRetryTick struct{}
	// fallbackDrain asks for everything held to be parked; replyTo gets fallbackDrained.
	fallbackDrain   struct{ replyTo *actor.PID }
	fallbackDrained struct{ err error }
	// fallbackParked and fallbackResent report operations that ran off the actor; gen
	// tells which incarnation started them.
	fallbackParked struct {
		gen    uint64
		batch  []persistence.ReadMarker
		parked int64
		err    error
	}
	fallbackResent struct {
		gen        uint64
		fromMemory []persistence.ReadMarker
		fromRedis  int
		// young counts the parked markers a complete scan left for being younger than
		// ResendAfter: most are on their way to Kafka from some node's aggregator.
		young     int
		unparkErr error
		err       error
	}
)

// fallbackState is the fallback's data. The aggregator owns it and hands it to every
// incarnation of the fallback, so a supervisor restart (or a respawn after too many)
// finds it as it was.
type fallbackState struct {
	// held is retried from memory; at most FallbackMaxKeys distinct keys.
	held map[receiptKey]receiptEntry
	// toPark is what Redis has not confirmed yet. Every entry the fallback takes is parked
	// at once, so a crash of the node loses nothing the fallback had; toPark outgrows the
	// bound only while Redis fails too.
	toPark map[receiptKey]receiptEntry
	// inRedis: Redis holds markers that are not in held (past the bound, or left after a
	// failed unpark), to re-send from there once held is empty.
	inRedis bool
	gen     uint64 // incarnation; results of another incarnation's operations are ignored
	busy    bool   // one Redis or Kafka operation at a time keeps park/unpark ordered
	drain   *actor.PID
}

func newFallbackState() *fallbackState {
	return &fallbackState{held: make(map[receiptKey]receiptEntry), toPark: make(map[receiptKey]receiptEntry)}
}

// receiptFallback is the aggregator's supervised child: it holds the coalesced markers
// Kafka refused, parks them in Redis, and retries Kafka every RetryInterval, first from
// memory and then from Redis — which also re-sends, at start-up and on every tick,
// whatever a stopped or crashed node left parked.
type receiptFallback struct {
	r        *Receipts
	st       *fallbackState
	stopTick func()
}

func (f *receiptFallback) Receive(ctx actor.Context) {
	st := f.st
	if h := f.r.fallbackHook; h != nil {
		h(ctx.Message()) // tests only: nil in production (receipt_fallback_hook_test.go)
	}
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		st.gen++
		st.busy = false
		f.r.met.fallbackQueue.Set(float64(len(st.held))) // what a restarted incarnation took over
		f.stopTick = f.r.tick(ctx.Self(), f.r.cfg.RetryInterval, fallbackRetryTick{})
		ctx.Send(ctx.Self(), fallbackRetryTick{}) // re-send what is parked now, not in 5 s
	case *actor.Restarting, *actor.Stopping:
		f.stopTick()
	case *fallbackAdd:
		for _, m := range msg.batch {
			k, e := receiptKey{m.UserID, m.ChannelID, m.ThreadID}, receiptEntry{seq: m.Seq, at: m.ReadAt}
			if _, ok := st.held[k]; ok || len(st.held) < f.r.cfg.FallbackMaxKeys {
				mergeReceipt(st.held, k, e)
			} else {
				st.inRedis = true
			}
			mergeReceipt(st.toPark, k, e)
		}
		f.r.met.fallbackQueue.Set(float64(len(st.held)))
		f.next(ctx, false)
	case fallbackRetryTick:
		f.next(ctx, true)
	case *fallbackDrain:
		st.drain = msg.replyTo
		f.next(ctx, false)
	case *fallbackParked:
		if msg.gen != st.gen {
			return
		}
		st.busy = false
		if msg.err != nil {
			f.r.log.Warn("read receipts: parking in Redis failed, retrying", "err", msg.err, "markers", len(msg.batch))
			if st.drain != nil {
				ctx.Send(st.drain, &fallbackDrained{err: fmt.Errorf("park %d read markers: %w", len(st.toPark), msg.err)})
				st.drain = nil
			}
			return // the next tick retries
		}
		for _, m := range msg.batch {
			k := receiptKey{m.UserID, m.ChannelID, m.ThreadID}
			if e, ok := st.toPark[k]; ok && e.seq <= m.Seq {
				delete(st.toPark, k)
			}
		}
		f.r.met.parked.Set(float64(msg.parked))
		f.next(ctx, false)
	case *fallbackResent:
		if msg.gen != st.gen {
			return
		}
		st.busy = false
		f.r.met.fallbackOK.Add(float64(len(msg.fromMemory) + msg.fromRedis))
		for _, m := range msg.fromMemory {
			k := receiptKey{m.UserID, m.ChannelID, m.ThreadID}
			if e, ok := st.held[k]; ok && e.seq <= m.Seq {
				delete(st.held, k)
			}
		}
		f.r.met.fallbackQueue.Set(float64(len(st.held)))
		if msg.unparkErr != nil {
			f.r.log.Warn("read receipts: unparking failed; the parked copies will be re-sent", "err", msg.unparkErr)
			st.inRedis = true
		}
		if msg.err != nil {
			// Debug: every RetryInterval while Kafka is down; its tracker logs the outage.
			f.r.log.Debug("read receipts: fallback retry failed", "err", msg.err, "held", len(st.held))
			f.next(ctx, false) // parking and a drain go on; Kafka waits for the next tick
			return
		}
		if len(msg.fromMemory) > 0 {
			f.next(ctx, true) // Kafka is back: go on with what is only in Redis
			return
		}
		st.inRedis = false
		f.r.met.parked.Set(float64(msg.young)) // this scan unparked everything else it found
		f.next(ctx, false)
	}
}

// next starts the most urgent operation unless one runs: parking first (it is what makes
// a crash lose nothing), then answering a drain, then — on a tick or after a success —
// re-sending to Kafka from memory, then from Redis.
func (f *receiptFallback) next(ctx actor.Context, resend bool) {
	st := f.st
	switch {
	case st.busy:
	case len(st.toPark) > 0:
		f.park(ctx)
	case st.drain != nil:
		ctx.Send(st.drain, &fallbackDrained{})
		st.drain = nil
	case !resend:
	case len(st.held) > 0:
		f.resendMemory(ctx)
	default:
		f.resendRedis(ctx)
	}
}

func (f *receiptFallback) park(ctx actor.Context) {
	st := f.st
	st.busy = true
	batch, gen, self, r := toMarkers(st.toPark), st.gen, ctx.Self(), f.r
	r.goWork(func(bctx context.Context) {
		pctx, cancel := context.WithTimeout(bctx, r.cfg.RedisTimeout)
		n, err := r.deps.Parking.ParkReceipts(pctx, batch)
		cancel()
		r.as.Root.Send(self, &fallbackParked{gen: gen, batch: batch, parked: n, err: err})
	})
}

// resendMemory writes what the fallback holds to Kafka, then removes the parked copies.
func (f *receiptFallback) resendMemory(ctx actor.Context) {
	st := f.st
	st.busy = true
	batch, gen, self, r := toMarkers(st.held), st.gen, ctx.Self(), f.r
	r.goWork(func(bctx context.Context) {
		res := &fallbackResent{gen: gen}
		sctx, cancel := context.WithTimeout(bctx, r.cfg.SendTimeout)
		res.err = r.deps.Kafka.SendReceipts(sctx, batch)
		cancel()
		if res.err == nil {
			res.fromMemory = batch
			uctx, cancel := context.WithTimeout(bctx, r.cfg.RedisTimeout)
			res.unparkErr = r.deps.Parking.UnparkReceipts(uctx, batch)
			cancel()
		}
		r.as.Root.Send(self, res)
	})
}

// resendRedis pages through the parked markers (any node's), writing each page's markers
// older than ResendAfter to Kafka and then unparking them.
func (f *receiptFallback) resendRedis(ctx actor.Context) {
	st := f.st
	st.busy = true
	gen, self, r := st.gen, ctx.Self(), f.r
	r.goWork(func(bctx context.Context) {
		res := &fallbackResent{gen: gen}
		res.err = f.resendParked(bctx, &res.fromRedis, &res.young)
		r.as.Root.Send(self, res)
	})
}

func (f *receiptFallback) resendParked(ctx context.Context, sent, young *int) error {
	r := f.r
	cutoff := time.Now().Add(-r.cfg.ResendAfter)
	var cursor uint64
	for {
		pctx, cancel := context.WithTimeout(ctx, r.cfg.RedisTimeout)
		page, next, err := r.deps.Parking.ParkedReceipts(pctx, cursor, r.cfg.ParkedPage)
		cancel()
		if err != nil {
			return err
		}
		old := page[:0]
		for _, m := range page {
			if m.ReadAt.After(cutoff) {
				*young++
			} else {
				old = append(old, m)
			}
		}
		if page = old; len(page) > 0 {
			sctx, cancel := context.WithTimeout(ctx, r.cfg.SendTimeout)
			err := r.deps.Kafka.SendReceipts(sctx, page)
			cancel()
			if err != nil {
				return err
			}
			*sent += len(page)
			uctx, cancel := context.WithTimeout(ctx, r.cfg.RedisTimeout)
			err = r.deps.Parking.UnparkReceipts(uctx, page)
			cancel()
			if err != nil {
				return err
			}
		}
		if cursor = next; cursor == 0 {
			return nil
		}
	}
}
