package main

import (
	"context"
	"fmt"
	"net"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parley-chat/parley/actors"
	"github.com/parley-chat/parley/stomp"
	"github.com/parley-chat/parley/stomp/stompclient"
)

// errorTally counts the ERROR frames and failed requests of one attacker connection (or
// several) by code, and when the first rate_limited came.
type errorTally struct {
	mu            sync.Mutex
	start         time.Time
	codes         map[string]int
	firstLimited  time.Duration // 0: none
	framesAtFirst int64
	frames        *atomic.Int64
}

func newTally(frames *atomic.Int64) *errorTally {
	return &errorTally{start: time.Now(), codes: map[string]int{}, frames: frames}
}

func (t *errorTally) add(code string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.codes[code]++
	if code == "rate_limited" && t.firstLimited == 0 {
		t.firstLimited = time.Since(t.start)
		t.framesAtFirst = t.frames.Load()
	}
}

func (t *errorTally) onError(f *stomp.Frame) {
	c := f.Value("code")
	if c == "" {
		c = "error"
	}
	t.add(c)
}

// figures appends "ERROR <code>" counts, sorted, and a note on the first rate_limited.
func (t *errorTally) figures(figs []figure, what string) ([]figure, []string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	keys := make([]string, 0, len(t.codes))
	for k := range t.codes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		figs = append(figs, figure{what + " " + k, float64(t.codes[k])})
	}
	var notes []string
	if t.firstLimited > 0 {
		notes = append(notes, fmt.Sprintf("first rate_limited after %.1f s", t.firstLimited.Seconds()))
	} else {
		notes = append(notes, "no rate_limited")
	}
	return figs, notes
}

// attackerClient dials a STOMP session as the attacker from the attacker's address.
func attackerClient(ctx context.Context, e *env, tally *errorTally) (*stompclient.Client, error) {
	var local net.Addr
	if e.dialer.LocalAddr != nil {
		local = e.dialer.LocalAddr
	}
	return stompclient.Dial(ctx, e.t.ws, stompclient.ClientOptions{Token: e.w.attacker, LocalAddr: local,
		RequestTimeout: 30 * time.Second, CloseTimeout: 100 * time.Millisecond, OnError: tally.onError})
}

// replayLoop is one connection on which o.replaySubs loops each subscribe to the seeded
// channel with since-seq:0, take the whole replay, unsubscribe, and again, for the round
// (finding 4). A connection the node closes is opened again.
func replayLoop(ctx context.Context, e *env, round time.Duration) ([]figure, []string) {
	ctx, cancel := context.WithTimeout(ctx, round)
	defer cancel()
	var frames, replays atomic.Int64
	tally := newTally(&frames)
	dest := actors.ChannelDestination(e.w.seeded)
	var reconnects int
	start := time.Now()
	for ctx.Err() == nil {
		c, err := attackerClient(ctx, e, tally)
		if err != nil {
			if ctx.Err() == nil {
				tally.add("dial: " + errCode(err))
				sleepCtx(ctx, 100*time.Millisecond)
			}
			continue
		}
		var wg sync.WaitGroup
		for range e.o.replaySubs {
			wg.Go(func() { subscribeLoop(ctx, e, c, dest, &frames, &replays, tally) })
		}
		wg.Wait()
		if ctx.Err() == nil {
			reconnects++
			tally.add("closed: " + errCode(c.Err()))
		}
		_ = c.Close()
	}
	elapsed := time.Since(start)
	figs := []figure{
		{"frames/s", float64(frames.Load()) / elapsed.Seconds()},
		{"whole replays", float64(replays.Load())},
	}
	if reconnects > 0 {
		figs = append(figs, figure{"reconnects", float64(reconnects)})
	}
	return tally.figures(figs, "ERROR")
}

// subscribeLoop is one of replayLoop's loops, until ctx ends or c closes.
func subscribeLoop(ctx context.Context, e *env, c *stompclient.Client, dest string, frames, replays *atomic.Int64, tally *errorTally) {
	var got, lastSeq atomic.Int64
	onMessage := func(f *stomp.Frame, _ time.Time) {
		frames.Add(1)
		got.Add(1)
		if s, err := strconv.ParseInt(f.Value("seq"), 10, 64); err == nil {
			lastSeq.Store(s)
		}
	}
	for ctx.Err() == nil && !closed(c) {
		lastSeq.Store(0)
		sub, err := c.SubscribeFunc(dest, onMessage, stomp.Header{Key: "since-seq", Value: "0"})
		if err != nil {
			if ctx.Err() == nil && !closed(c) {
				tally.add(errCode(err))
				// A refused SUBSCRIBE comes back at once; without a pause this process
				// would spin a core of the two the node shares.
				sleepCtx(ctx, 10*time.Millisecond)
			}
			continue
		}
		// The replay comes before the RECEIPT; this only waits out a node that sends it
		// after, or stops it half-way (then no frame comes for a second).
		seen, quiet := got.Load(), time.Now()
		for lastSeq.Load() < e.w.seededCount && ctx.Err() == nil && !closed(c) && time.Since(quiet) < time.Second {
			sleepCtx(ctx, time.Millisecond)
			if n := got.Load(); n != seen {
				seen, quiet = n, time.Now()
			}
		}
		if lastSeq.Load() >= e.w.seededCount {
			replays.Add(1)
		}
		_ = sub.Unsubscribe()
	}
}

// resendLoop subscribes to /user/queue/resend and sends /app/message.resend with
// sinceSeq 0 for the seeded channel at o.resendRate for the round (finding 4).
func resendLoop(ctx context.Context, e *env, round time.Duration) ([]figure, []string) {
	ctx, cancel := context.WithTimeout(ctx, round)
	defer cancel()
	var frames, acked, sent, unanswered atomic.Int64
	tally := newTally(&frames)
	onMessage := func(*stomp.Frame, time.Time) { frames.Add(1) }
	body := fmt.Appendf(nil, `{"channelId":"%d","sinceSeq":0}`, e.w.seeded)
	var c *stompclient.Client
	var reconnects int
	var clients []*stompclient.Client
	tick := time.NewTicker(time.Duration(float64(time.Second) / e.o.resendRate))
	defer tick.Stop()
	start := time.Now()
	for ctx.Err() == nil {
		if closed(c) {
			if c != nil {
				reconnects++
				tally.add("closed: " + errCode(c.Err()))
			}
			var err error
			if c, err = attackerClient(ctx, e, tally); err != nil {
				tally.add("dial: " + errCode(err))
				sleepCtx(ctx, 100*time.Millisecond)
				continue
			}
			clients = append(clients, c)
			if _, err := c.SubscribeFunc(actors.QueueResend, onMessage); err != nil {
				tally.add("subscribe: " + errCode(err))
				continue
			}
		}
		select {
		case <-ctx.Done():
		case <-tick.C:
			sent.Add(1)
			err := c.SendAsync(actors.DestMessageResend, body, func(_ *stomp.Frame, err error) {
				switch {
				case err == nil:
					acked.Add(1)
				case ctx.Err() != nil: // the attacker hung up first
					unanswered.Add(1)
				default:
					tally.add(errCode(err))
				}
			})
			if err != nil {
				tally.add(errCode(err))
			}
		}
	}
	elapsed := time.Since(start)
	for _, c := range slices.Backward(clients) {
		_ = c.Close()
	}
	figs := []figure{
		{"frames/s", float64(frames.Load()) / elapsed.Seconds()},
		{"resends sent", float64(sent.Load())},
		{"acknowledged", float64(acked.Load())},
		{"unanswered at the round's end", float64(unanswered.Load())},
	}
	if reconnects > 0 {
		figs = append(figs, figure{"reconnects", float64(reconnects)})
	}
	return tally.figures(figs, "ERROR")
}
