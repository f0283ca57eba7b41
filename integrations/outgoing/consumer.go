package outgoing

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
)

// consumer reads the topic as a member of the deliverers' group. Records of one hook are
// handled one at a time in partition order (a hook's channel is the record's key, so they
// share a partition); different hooks proceed side by side, so one receiver that times out
// holds back only its own queue. A partition's offset is committed only past records whose
// delivery is done (delivered, given up, or dropped for a revoked hook): a node that dies
// leaves the rest to the group, which reads them again from the committed offset.
type consumer struct {
	cfg     Config
	r       *kafka.Reader
	log     *slog.Logger
	deliver func(ctx context.Context, rec record) // returns once the delivery is done or ctx ends
	sem     chan struct{}

	mu     sync.Mutex
	queues map[int64]*hookQueue    // by hook id; present while it has work
	parts  map[int]*partitionTrack // by partition
	commit sync.Mutex              // serialises commits so offsets only move forward
	high   map[int]int64           // committed next offset by partition
	wg     sync.WaitGroup
}

type hookQueue struct{ items []*entry }

// entry is one fetched record, in its partition's track until the track commits past it.
type entry struct {
	msg  kafka.Message
	rec  record
	bad  bool // undecodable: nothing to deliver, only to commit past
	done bool
}

type partitionTrack struct{ pending []*entry }

func newConsumer(cfg Config, log *slog.Logger, deliver func(context.Context, record)) *consumer {
	return &consumer{cfg: cfg, log: log, deliver: deliver, sem: make(chan struct{}, cfg.MaxInFlight),
		queues: map[int64]*hookQueue{}, parts: map[int]*partitionTrack{}, high: map[int]int64{}}
}

// open makes the group reader. kafka-go's reader joins the group as soon as it is made, and
// a member that joins before the topic exists is assigned no partition until the next
// rebalance: so it is made only once the topic is there (Service.Start).
func (c *consumer) open() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.r = kafka.NewReader(kafka.ReaderConfig{
		Brokers:                c.cfg.Brokers,
		GroupID:                c.cfg.GroupID,
		Topic:                  c.cfg.Topic,
		QueueCapacity:          min(c.cfg.MaxInFlight, 1000),
		MinBytes:               1,
		MaxBytes:               16 << 20,
		MaxWait:                250 * time.Millisecond,
		CommitInterval:         0, // synchronous commits, only when we call CommitMessages
		StartOffset:            kafka.FirstOffset,
		HeartbeatInterval:      c.cfg.SessionTimeout / 10,
		SessionTimeout:         c.cfg.SessionTimeout,
		RebalanceTimeout:       c.cfg.SessionTimeout,
		JoinGroupBackoff:       500 * time.Millisecond,
		ReadBackoffMin:         50 * time.Millisecond,
		ReadBackoffMax:         time.Second,
		WatchPartitionChanges:  true, // partitions an operator adds are picked up
		PartitionWatchInterval: 10 * time.Second,
	})
}

// run fetches until ctx ends, then waits for the hook queues' goroutines (which stop at
// once: ctx is theirs too, and an unfinished delivery is simply not committed).
func (c *consumer) run(ctx context.Context) {
	defer c.wg.Wait()
	c.open()
	for {
		select {
		case c.sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		m, err := c.r.FetchMessage(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			<-c.sem
			c.cfg.Health.Report(err)
			c.log.Debug("outgoing webhooks: fetch failed", "err", err)
			if sleepCtx(ctx, 200*time.Millisecond) != nil {
				return
			}
			continue
		}
		e := &entry{msg: m}
		if e.rec, err = decodeRecord(m.Value); err != nil {
			// A record no version of parley can read would block its partition forever.
			c.log.Error("outgoing webhooks: skipping undecodable record", "err", err, "partition", m.Partition, "offset", m.Offset)
			e.bad = true
		}
		c.enqueue(ctx, e)
	}
}

func (c *consumer) enqueue(ctx context.Context, e *entry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.parts[e.msg.Partition]
	if p == nil {
		p = &partitionTrack{}
		c.parts[e.msg.Partition] = p
	}
	p.pending = append(p.pending, e)
	if e.bad {
		go c.finish(ctx, e)
		return
	}
	q := c.queues[e.rec.HookID]
	if q != nil {
		q.items = append(q.items, e)
		return
	}
	q = &hookQueue{items: []*entry{e}}
	c.queues[e.rec.HookID] = q
	c.wg.Add(1)
	go c.drain(ctx, e.rec.HookID, q)
}

// drain delivers a hook's queue in order; it ends when the queue is empty or ctx ends.
func (c *consumer) drain(ctx context.Context, hookID int64, q *hookQueue) {
	defer c.wg.Done()
	for {
		c.mu.Lock()
		if len(q.items) == 0 || ctx.Err() != nil {
			delete(c.queues, hookID)
			c.mu.Unlock()
			return
		}
		e := q.items[0]
		q.items = q.items[1:]
		c.mu.Unlock()
		c.deliver(ctx, e.rec)
		if ctx.Err() != nil {
			return // not done: not committed; the group reads it again
		}
		c.finish(ctx, e)
	}
}

// finish marks e done and commits its partition past every done record at its head.
func (c *consumer) finish(ctx context.Context, e *entry) {
	<-c.sem
	c.mu.Lock()
	e.done = true
	p := c.parts[e.msg.Partition]
	var last *entry
	for len(p.pending) > 0 && p.pending[0].done {
		last = p.pending[0]
		p.pending[0] = nil
		p.pending = p.pending[1:]
	}
	c.mu.Unlock()
	if last == nil {
		return
	}
	c.commit.Lock()
	defer c.commit.Unlock()
	// After a rebalance the same partition can be read again from an older offset: never
	// commit backwards.
	if h, ok := c.high[last.msg.Partition]; ok && last.msg.Offset < h {
		return
	}
	if err := c.r.CommitMessages(ctx, last.msg); err != nil {
		if ctx.Err() == nil {
			c.log.Warn("outgoing webhooks: offset commit failed", "err", err, "partition", last.msg.Partition, "offset", last.msg.Offset)
		}
		return
	}
	c.high[last.msg.Partition] = last.msg.Offset + 1
}

func (c *consumer) close() error {
	c.mu.Lock()
	r := c.r
	c.mu.Unlock()
	if r == nil {
		return nil
	}
	return r.Close()
}
