package persistence

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/parley-chat/parley/internal/depstate"
)

// ReceiptConsumerConfig is what the persister and the DLT consumer share: how they read
// their topic in batches as members of a consumer group, and how they retry.
type ReceiptConsumerConfig struct {
	ReceiptTopics
	// GroupID of the consumer group. Default "read-receipt-persister" for the persister,
	// "read-receipt-dlt-reconciler" for the DLT consumer.
	GroupID string
	// MaxBatch is the most events one database statement takes. Default 500.
	MaxBatch int
	// BatchWait is how long a batch keeps filling after its first event. Default 50 ms.
	BatchWait time.Duration
	// WriteTimeout bounds one database statement. Default 5 s.
	WriteTimeout time.Duration
	// RetryBackoff is the first pause after a failure, doubled per attempt up to
	// MaxBackoff. Defaults 200 ms and 5 s.
	RetryBackoff time.Duration
	MaxBackoff   time.Duration
	// SessionTimeout of the group membership: a crashed member's partitions move to
	// another after this. Default 10 s (kfake's minimum is 6 s).
	SessionTimeout time.Duration
	// Health, when set, hears every fetch and offset commit's outcome and logs Kafka going
	// down and coming back; the failed fetches themselves are then logged at debug level
	// (they repeat every 200 ms while the broker is down). Nil: each is a warning.
	Health *depstate.Tracker
}

func (c ReceiptConsumerConfig) withDefaults(group string) ReceiptConsumerConfig {
	c.ReceiptTopics = c.ReceiptTopics.withDefaults()
	if c.GroupID == "" {
		c.GroupID = group
	}
	if c.MaxBatch == 0 {
		c.MaxBatch = 500
	}
	if c.BatchWait == 0 {
		c.BatchWait = 50 * time.Millisecond
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = 5 * time.Second
	}
	if c.RetryBackoff == 0 {
		c.RetryBackoff = 200 * time.Millisecond
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = 5 * time.Second
	}
	if c.SessionTimeout == 0 {
		c.SessionTimeout = 10 * time.Second
	}
	return c
}

func (c *ReceiptConsumerConfig) validate() error {
	if err := c.ReceiptTopics.validate(); err != nil {
		return err
	}
	if c.MaxBatch < 1 || c.BatchWait <= 0 || c.WriteTimeout <= 0 || c.RetryBackoff <= 0 || c.MaxBackoff < c.RetryBackoff {
		return fmt.Errorf("max batch %d, batch wait %s, write timeout %s, retry backoff %s..%s must be positive and ordered",
			c.MaxBatch, c.BatchWait, c.WriteTimeout, c.RetryBackoff, c.MaxBackoff)
	}
	if c.SessionTimeout < 6*time.Second {
		return fmt.Errorf("session timeout %s is below 6s", c.SessionTimeout)
	}
	return nil
}

func (c *ReceiptConsumerConfig) backoff(attempt int) time.Duration {
	d := c.RetryBackoff << min(attempt, 16)
	return min(d, c.MaxBackoff)
}

// batchReader reads a topic as a consumer-group member, a batch at a time. Offsets are
// committed only by commit, after the batch's effect is durable: a member that dies
// before that leaves the batch to whoever takes its partitions.
type batchReader struct {
	r      *kafka.Reader
	max    int
	wait   time.Duration
	health *depstate.Tracker
	closed atomic.Bool
}

func newBatchReader(cfg ReceiptConsumerConfig, topic string, logger *slog.Logger) *batchReader {
	return &batchReader{max: cfg.MaxBatch, wait: cfg.BatchWait, health: cfg.Health, r: kafka.NewReader(kafka.ReaderConfig{
		Brokers:           cfg.Brokers,
		GroupID:           cfg.GroupID,
		Topic:             topic,
		QueueCapacity:     cfg.MaxBatch,
		MinBytes:          1,
		MaxBytes:          16 << 20,
		MaxWait:           250 * time.Millisecond,
		CommitInterval:    0, // synchronous commits, only when we call CommitMessages
		StartOffset:       kafka.FirstOffset,
		HeartbeatInterval: cfg.SessionTimeout / 10,
		SessionTimeout:    cfg.SessionTimeout,
		RebalanceTimeout:  cfg.SessionTimeout,
		JoinGroupBackoff:  500 * time.Millisecond,
		ReadBackoffMin:    50 * time.Millisecond,
		ReadBackoffMax:    time.Second,
		ErrorLogger:       kafkaLogger(logger, slog.LevelDebug),
	})}
}

// fetch blocks for the first message, then takes what arrives within the batch wait, up
// to the batch size. A message not returned stays queued in the reader.
func (b *batchReader) fetch(ctx context.Context) ([]kafka.Message, error) {
	first, err := b.r.FetchMessage(ctx)
	if err != nil {
		return nil, err
	}
	msgs := []kafka.Message{first}
	wctx, cancel := context.WithTimeout(ctx, b.wait)
	defer cancel()
	for len(msgs) < b.max {
		m, err := b.r.FetchMessage(wctx)
		if err != nil {
			break
		}
		msgs = append(msgs, m)
	}
	return msgs, nil
}

// failureLevel is the level of a failed fetch or commit: debug when a tracker reports
// Kafka's state changes instead.
func (b *batchReader) failureLevel() slog.Level {
	if b.health != nil {
		return slog.LevelDebug
	}
	return slog.LevelWarn
}

func (b *batchReader) commit(ctx context.Context, msgs []kafka.Message) error {
	return b.r.CommitMessages(ctx, msgs...)
}

// close marks the reader closed before closing it: kafka-go's FetchMessage answers io.EOF
// both once the reader is closed and when joining the group failed on a connection the
// broker dropped (its run error), and only the first means "stop".
func (b *batchReader) close() error {
	b.closed.Store(true)
	return b.r.Close()
}

// consume runs handle on batch after batch until ctx ends or the reader is closed; any
// other fetch error, io.EOF included, is retried.
// handle returns nil once the batch is durable; only then are its offsets committed. A
// batch handle fails is handled again (the reader has moved past it in memory, so skipping
// it would lose it until the next rebalance). A failed commit is only logged: the next
// batch's commit covers the partition's offsets, and a new owner of the partition reads
// the batch again, which the GREATEST upsert absorbs.
func consume(ctx context.Context, in *batchReader, logger *slog.Logger, handle func(context.Context, []kafka.Message) error) error {
	for {
		msgs, err := in.fetch(ctx)
		if ctx.Err() != nil || in.closed.Load() {
			return nil
		}
		in.health.Report(err)
		if err != nil {
			logger.Log(ctx, in.failureLevel(), "read receipts: fetch failed", "err", err)
			if sleepCtx(ctx, 200*time.Millisecond) != nil {
				return nil
			}
			continue
		}
		for attempt := 0; ; attempt++ {
			err := handle(ctx, msgs)
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				return nil
			}
			logger.Error("read receipts: batch not handled, retrying", "err", err, "events", len(msgs), "attempt", attempt+1)
			if sleepCtx(ctx, min(200*time.Millisecond<<min(attempt, 5), 5*time.Second)) != nil {
				return nil
			}
		}
		if err := in.commit(ctx, msgs); err != nil && ctx.Err() == nil {
			in.health.Fail(fmt.Errorf("commit offsets: %w", err))
			logger.Log(ctx, in.failureLevel(), "read receipts: offset commit failed", "err", err)
		}
	}
}

func decodeBatch(msgs []kafka.Message, logger *slog.Logger) []ReadMarker {
	out := make([]ReadMarker, 0, len(msgs))
	for _, m := range msgs {
		mk, err := decodeReceipt(m.Value)
		if err != nil {
			// A record no version of parley can read would otherwise block its partition
			// forever; it carries no marker we could write.
			logger.Error("read receipts: skipping undecodable record", "err", err,
				"topic", m.Topic, "partition", m.Partition, "offset", m.Offset)
			continue
		}
		out = append(out, mk)
	}
	return out
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func registerAll(reg prometheus.Registerer, cs ...prometheus.Collector) error {
	if reg == nil {
		return nil
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("register metric: %w", err)
		}
	}
	return nil
}
