package actors

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/parley-chat/parley/persistence"
)

// CoalesceConfig configures the node-wide commit coalescer (ADR 0046): the batches of many
// channel actors that are ready while earlier commits are in flight share one PostgreSQL
// transaction instead of one each.
type CoalesceConfig struct {
	// On turns the coalescer on (serve's --commit-coalesce, on in transport.DefaultConfig
	// since the quiet-machine A/B of ADR 0046). Off, the zero value: every channel commits
	// its batch in its own transaction.
	On bool
	// Writers is how many coalesced commits may be in flight at once; a batch that comes
	// while they all are waits for the next one free, with the others queued by then.
	// Default 2.
	Writers int
	// MaxChannels caps the channels one coalesced commit writes. Default 256.
	MaxChannels int
	// MaxMessages caps the messages one coalesced commit writes; a channel's batch (at most
	// Config.MaxBatch) is never split, and the first batch is always taken. Default 2,000.
	MaxMessages int
}

// Defaults of CoalesceConfig.
const (
	DefaultCoalesceWriters     = 2
	DefaultCoalesceMaxChannels = 256
	DefaultCoalesceMaxMessages = 2000
)

func (c CoalesceConfig) withDefaults() CoalesceConfig {
	setDefault(&c.Writers, DefaultCoalesceWriters)
	setDefault(&c.MaxChannels, DefaultCoalesceMaxChannels)
	setDefault(&c.MaxMessages, DefaultCoalesceMaxMessages)
	return c
}

func (c CoalesceConfig) validate() error {
	if c.Writers <= 0 || c.MaxChannels <= 0 || c.MaxMessages <= 0 {
		return fmt.Errorf("actors: Coalesce.Writers, MaxChannels and MaxMessages must be positive (%d, %d, %d)",
			c.Writers, c.MaxChannels, c.MaxMessages)
	}
	return nil
}

// batchAppender is what the coalescer needs beyond Store (persistence.Store has it). A
// Store without it commits every channel on its own.
type batchAppender interface {
	AppendBatches(ctx context.Context, batches []persistence.ChannelBatch) ([][]persistence.AppendResult, []error)
}

// commitReq is one channel actor's batch handed to the coalescer; done runs off the
// writer, once the batch is committed or has failed.
type commitReq struct {
	channel int64
	msgs    []persistence.NewMessage
	done    func(res []persistence.AppendResult, err error, took time.Duration)
}

// coalescer is group commit across channels. There is no timer: a batch that comes while
// fewer than Writers commits are in flight is written at once (alone, it takes the
// one-channel fast path, so a lone hot channel pays nothing for it); the others queue,
// and the next writer free takes every batch queued, up to the caps, into one
// AppendBatches. A channel actor has one commit in flight, so its order and its seqs are
// its own as before; the coalescer only decides who shares a transaction. submit never
// waits (a channel actor calls it in Receive): mu is a leaf held for a few appends.
type coalescer struct {
	sys   *System
	store batchAppender
	cfg   CoalesceConfig

	mu      sync.Mutex
	queue   []*commitReq
	writers int // running writer goroutines, at most cfg.Writers
}

func newCoalescer(sys *System, store batchAppender, cfg CoalesceConfig) *coalescer {
	return &coalescer{sys: sys, store: store, cfg: cfg}
}

// submit queues r and starts a writer if one is free. It never blocks.
func (c *coalescer) submit(r *commitReq) {
	c.mu.Lock()
	c.queue = append(c.queue, r)
	start := c.writers < c.cfg.Writers
	if start {
		c.writers++
	}
	c.mu.Unlock()
	if start {
		c.sys.goWork(c.run)
	}
}

// run commits what is queued until nothing is; the writer then ends (an idle node has none).
func (c *coalescer) run() {
	for {
		group := c.take()
		if group == nil {
			return
		}
		c.commit(group)
	}
}

// take removes the next group from the queue: batches in arrival order up to the caps. A
// channel queued twice (a fresh actor after a crash while the old one's commit was queued)
// is left for a later group, since one statement writes a channel once.
func (c *coalescer) take() []*commitReq {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.queue) == 0 {
		c.writers--
		return nil
	}
	if len(c.queue) == 1 {
		group := c.queue
		c.queue = nil
		return group
	}
	var (
		group, rest []*commitReq
		msgs        int
		seen        = make(map[int64]bool, min(len(c.queue), c.cfg.MaxChannels))
	)
	for _, r := range c.queue {
		fits := len(group) == 0 || (len(group) < c.cfg.MaxChannels && msgs+len(r.msgs) <= c.cfg.MaxMessages)
		if !fits || seen[r.channel] {
			rest = append(rest, r)
			continue
		}
		seen[r.channel] = true
		group = append(group, r)
		msgs += len(r.msgs)
	}
	c.queue = rest
	return group
}

// commit writes group in one transaction (one channel: AppendMessages's own statement) and
// hands the answers to a goroutine, so that the writer goes back to the queue at once.
func (c *coalescer) commit(group []*commitReq) {
	sys := c.sys
	ctx, cancel := context.WithTimeout(context.Background(), sys.cfg.CommitTimeout)
	start := time.Now()
	var (
		results [][]persistence.AppendResult
		errs    []error
		msgs    int
	)
	if len(group) == 1 {
		res, err := sys.store.AppendMessages(ctx, group[0].channel, group[0].msgs)
		results, errs = [][]persistence.AppendResult{res}, []error{err}
		msgs = len(group[0].msgs)
	} else {
		batches := make([]persistence.ChannelBatch, len(group))
		for i, r := range group {
			batches[i] = persistence.ChannelBatch{ChannelID: r.channel, Messages: r.msgs}
			msgs += len(r.msgs)
		}
		results, errs = c.store.AppendBatches(ctx, batches)
	}
	took := time.Since(start)
	cancel()
	kind := commitCoalescedOne
	if len(group) > 1 {
		kind = commitCoalescedMany
	}
	sys.met.observeCommit(kind, len(group), msgs)
	if len(results) != len(group) || len(errs) != len(group) { // cannot happen: a broken store
		results, errs = make([][]persistence.AppendResult, len(group)), make([]error, len(group))
		for i := range errs {
			errs[i] = errors.New("actors: group commit returned the wrong number of results")
		}
	}
	sys.goWork(func() {
		for i, r := range group {
			r.done(results[i], errs[i], took)
		}
	})
}

// Kinds of parley_commit_transactions_total.
const (
	commitOwn           = "own"            // one channel's batch outside the coalescer (off, or a batch needing lookups)
	commitCoalescedOne  = "coalesced_one"  // the coalescer found one batch waiting
	commitCoalescedMany = "coalesced_many" // several channels in one transaction
)

// commitMetrics count transactions, not channel batches (parley_commit_batch_size does that).
type commitMetrics struct {
	commits  *prometheus.CounterVec
	messages prometheus.Histogram
	channels prometheus.Histogram
}

func newCommitMetrics() commitMetrics {
	return commitMetrics{
		commits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_commit_transactions_total",
			Help: "Message-append transactions the channel actors asked for, by kind: own (a channel alone, coalescer off or a batch needing lookups), coalesced_one, coalesced_many (ADR 0046)."},
			[]string{"kind"}),
		messages: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "parley_commit_transaction_messages", Help: "Messages per append transaction (all channels in it).",
			Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048}}),
		channels: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "parley_commit_transaction_channels", Help: "Channels per append transaction.",
			Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256, 512}}),
	}
}

func (m commitMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.commits, m.messages, m.channels}
}

func (m *metrics) observeCommit(kind string, channels, msgs int) {
	m.tx.commits.WithLabelValues(kind).Inc()
	m.tx.messages.Observe(float64(msgs))
	m.tx.channels.Observe(float64(channels))
}
