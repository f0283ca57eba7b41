package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// ResumePolicy is what a client whose connection ended unasked does (issue 27, ADR 0048):
// it reconnects to another node with since-seq at the last seq it was delivered, so the
// checker can hold it to "nothing lost, nothing twice" across the node's death.
type ResumePolicy struct {
	// Enabled: resume; otherwise a dropped client stays gone and the run fails (--no-resume).
	Enabled bool
	// Base is the first backoff (default 100 ms); each failed attempt doubles it, up to Max
	// (default 5 s). The wait is drawn uniformly from [0, backoff] ("full jitter"), so the
	// clients of a dead node do not all come back in the same millisecond.
	Base, Max time.Duration
	// GiveUp: a client not resumed this long after its drop stays dropped (default 60 s).
	GiveUp time.Duration
	// ProbeSplit, when set, is when after the load's start the harness signals a node: the
	// probe's deliveries are split there rather than at the worker's first drop, which a
	// worker holding the probe alone never sees (--procs > 1).
	ProbeSplit time.Duration
}

func (p ResumePolicy) withDefaults() ResumePolicy {
	if p.Base <= 0 {
		p.Base = 100 * time.Millisecond
	}
	if p.Max < p.Base {
		p.Max = max(5*time.Second, p.Base)
	}
	if p.GiveUp <= 0 {
		p.GiveUp = time.Minute
	}
	return p
}

// backoff is the wait before attempt k (0-based): full jitter over base·2^k capped at max.
func (p ResumePolicy) backoff(k int, rng *rand.Rand) time.Duration {
	b := p.Base
	for i := 0; i < k && b < p.Max; i++ {
		b *= 2
	}
	b = min(b, p.Max)
	return time.Duration(rng.Int64N(int64(b) + 1))
}

// resumeNode is the node of attempt k of a client that dropped from node from: round robin
// over the other nodes, starting at an offset of the client's own so that the clients of
// one dead node spread over the survivors; every nodes-th attempt tries its own node again
// (a client dropped by a live node, a heart-beat timeout on an overloaded survivor, must not
// only try the dead one).
func resumeNode(from, k, index, nodes int) int {
	if nodes <= 1 {
		return 0
	}
	if k%nodes == nodes-1 {
		return from
	}
	j := (index + k - k/nodes) % (nodes - 1)
	if j >= from {
		j++
	}
	return j
}

// resumeStats is a worker's resume counters.
type resumeStats struct {
	drops, resumed, unresumed, attempts, failedAttempts atomic.Int64
	pending                                             atomic.Int64 // clients resuming now
	// skipped: sends not made while the client had no connection; unacked: sends whose
	// connection ended before their RECEIPT (committed or not: the checker's gap count holds
	// the committed ones to delivery, and they are not losses).
	skipped, unacked, crossNode, sameNode atomic.Int64
	firstDrop, lastResumed                atomic.Int64 // unix nanos
	splitAt                               atomic.Int64 // unix nanos: ResumePolicy.ProbeSplit after the start, or 0
	errs                                  errorTally
	// probe times the probe client's deliveries; probeBefore and probeAfter split them at
	// this worker's first drop (in the storm, the fault): the same run's reference.
	lat, probe, probeBefore, probeAfter *recorder
	active                              sync.WaitGroup
	stop                                chan struct{}
}

func newResumeStats(shards int) *resumeStats {
	return &resumeStats{lat: newRecorder(shards), probe: newRecorder(shards), probeBefore: newRecorder(shards),
		probeAfter: newRecorder(shards), stop: make(chan struct{})}
}

// recordProbe times one of the probe's deliveries, sent at sent.
func (rs *resumeStats) recordProbe(key int, sent time.Time, d time.Duration) {
	rs.probe.record(key, d, true)
	first := rs.splitAt.Load()
	if first == 0 {
		first = rs.firstDrop.Load()
	}
	if first != 0 && sent.UnixNano() >= first {
		rs.probeAfter.record(key, d, true)
	} else {
		rs.probeBefore.record(key, d, true)
	}
}

// onDrop starts the client's resume after its connection ended unasked.
func (c *client) onDrop(at time.Time) {
	w := c.w
	rs := w.resume
	rs.drops.Add(1)
	rs.firstDrop.CompareAndSwap(0, at.UnixNano())
	if !w.plan.Resume.Enabled || w.closing.Load() {
		c.tracker.Drop()
		return
	}
	rs.active.Add(1)
	rs.pending.Add(1)
	go c.resumeLoop(at)
}

// resumeLoop reconnects with backoff until it succeeds, the worker stops resuming (end of
// the drain) or GiveUp passes; a client that never comes back is a dropped receiver.
func (c *client) resumeLoop(dropped time.Time) {
	w := c.w
	rs := w.resume
	defer rs.active.Done()
	defer rs.pending.Add(-1)
	p := w.plan.Resume
	from := int(c.node.Load())
	rng := rand.New(rand.NewPCG(uint64(c.spec.Index), uint64(dropped.UnixNano())))
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for k := 0; ; k++ {
		timer.Reset(p.backoff(k, rng))
		select {
		case <-rs.stop:
			c.giveUp()
			return
		case <-timer.C:
		}
		if time.Since(dropped) > p.GiveUp || w.closing.Load() {
			c.giveUp()
			return
		}
		c.node.Store(int32(resumeNode(from, k, c.spec.Index, len(w.plan.URLs))))
		rs.attempts.Add(1)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := c.connect(ctx, true)
		cancel()
		if err != nil {
			rs.failedAttempts.Add(1)
			rs.errs.add(fmt.Errorf("resume: %w", err))
			continue
		}
		now := time.Now()
		rs.resumed.Add(1)
		rs.lat.record(c.key, now.Sub(dropped), true)
		for {
			last := rs.lastResumed.Load()
			if now.UnixNano() <= last || rs.lastResumed.CompareAndSwap(last, now.UnixNano()) {
				break
			}
		}
		if w.closing.Load() { // the worker closed everything meanwhile: this one too
			if conn := c.conn.Swap(nil); conn != nil {
				_ = conn.Close()
			}
		}
		return
	}
}

func (c *client) giveUp() {
	c.w.resume.unresumed.Add(1)
	c.tracker.Drop()
}

// url is the base URL of the client's current node.
func (c *client) url() string {
	if urls := c.w.plan.URLs; len(urls) > 0 {
		return urls[int(c.node.Load())%len(urls)]
	}
	return c.spec.URL
}

// stopResuming ends every resume still waiting (their clients count as dropped) and waits.
func (w *worker) stopResuming() {
	close(w.resume.stop)
	w.resume.active.Wait()
}

// ResumeStats is a worker's resume figures, for the coordinator (see ResumeReport).
type ResumeStats struct {
	Drops               int64            `json:"drops"`
	Resumed             int64            `json:"resumed"`
	Unresumed           int64            `json:"unresumed"`
	Attempts            int64            `json:"attempts"`
	FailedAttempts      int64            `json:"failedAttempts"`
	SkippedDisconnected int64            `json:"skippedDisconnected"`
	Unacked             int64            `json:"unacked"`
	CrossNode           int64            `json:"crossNode"`
	SameNode            int64            `json:"sameNode"`
	FirstDrop           time.Time        `json:"firstDrop,omitzero"`
	LastResumed         time.Time        `json:"lastResumed,omitzero"`
	Errors              map[string]int64 `json:"errors,omitempty"`
	Time                string           `json:"time,omitempty"`
	Probe               string           `json:"probe,omitempty"`
	ProbeBefore         string           `json:"probeBefore,omitempty"`
	ProbeAfter          string           `json:"probeAfter,omitempty"`
}

func (rs *resumeStats) snapshot() ResumeStats {
	s := ResumeStats{
		Drops: rs.drops.Load(), Resumed: rs.resumed.Load(), Unresumed: rs.unresumed.Load(),
		Attempts: rs.attempts.Load(), FailedAttempts: rs.failedAttempts.Load(),
		SkippedDisconnected: rs.skipped.Load(), Unacked: rs.unacked.Load(),
		CrossNode: rs.crossNode.Load(), SameNode: rs.sameNode.Load(),
		Errors: rs.errs.snapshot(), Time: encodeHist(rs.lat.totals()), Probe: encodeHist(rs.probe.totals()),
		ProbeBefore: encodeHist(rs.probeBefore.totals()), ProbeAfter: encodeHist(rs.probeAfter.totals()),
	}
	if t := rs.firstDrop.Load(); t != 0 {
		s.FirstDrop = time.Unix(0, t)
	}
	if t := rs.lastResumed.Load(); t != 0 {
		s.LastResumed = time.Unix(0, t)
	}
	return s
}
