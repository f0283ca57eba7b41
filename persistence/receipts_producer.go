package persistence

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/parley-chat/parley/internal/depstate"
)

// ReceiptProducerConfig configures the Kafka side of the receipt aggregator.
type ReceiptProducerConfig struct {
	ReceiptTopics
	// WriteTimeout bounds one SendReceipts call. Default 5 s: past it the aggregator hands
	// the batch to its fallback instead of holding newer markers back.
	WriteTimeout time.Duration
	// MaxAttempts per produce request inside one call (kafka-go retries transient errors
	// with 50–500 ms backoff). Default 3.
	MaxAttempts int
	// Health, when set, hears every SendReceipts outcome (Kafka's dependency tracker).
	Health *depstate.Tracker
}

func (c ReceiptProducerConfig) withDefaults() ReceiptProducerConfig {
	c.ReceiptTopics = c.ReceiptTopics.withDefaults()
	if c.WriteTimeout == 0 {
		c.WriteTimeout = 5 * time.Second
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = 3
	}
	return c
}

// ReceiptProducer writes read markers to the receipt topic. One SendReceipts is one
// WriteMessages of the whole batch with acks from all in-sync replicas: the aggregator
// drops entries only once the broker has acknowledged them.
type ReceiptProducer struct {
	w       *kafka.Writer
	timeout time.Duration
	health  *depstate.Tracker
}

// NewReceiptProducer validates cfg and returns a producer; it connects lazily.
func NewReceiptProducer(cfg ReceiptProducerConfig, logger *slog.Logger) (*ReceiptProducer, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("receipt producer: %w", err)
	}
	if cfg.WriteTimeout <= 0 || cfg.MaxAttempts < 1 {
		return nil, fmt.Errorf("receipt producer: write timeout %s and max attempts %d must be positive", cfg.WriteTimeout, cfg.MaxAttempts)
	}
	return &ReceiptProducer{timeout: cfg.WriteTimeout, health: cfg.Health, w: newReceiptWriter(cfg.Brokers, cfg.Topic, cfg.MaxAttempts, logger)}, nil
}

// newReceiptWriter is a synchronous writer tuned for whole-batch calls: kafka-go's default
// acks are none (RequireAll fixes that) and a synchronous call waits for every partition's
// batch to fill or time out, so the timeout is 1 ms: one call's messages leave at once. The
// size is small because kafka-go allocates every batch at its full BatchSize: at 10,000 that
// was 1.6 MB per partition per flush, 65 % of a busy node's allocated bytes and most of its
// 20 % GC (docs/BENCHMARKS.md). At 256 it was still 40 KiB per partition per flush, a fifth
// of the node's garbage at 10,000 users, whose flushes carry ~4 markers per partition
// (ADR 0013). A full flush (500 markers over 8 partitions, ~63 each) becomes two or
// three batches per partition, each leaving as soon as it is full.
//
// The writer gets its own transport with a 1 s metadata TTL: kafka-go's transport caches
// a failed metadata refresh and serves that error to every write until the next refresh
// (default TTL 6 s, and the default transport is shared process-wide), which would hold
// writes back for seconds after a broker returns. Close it with closeReceiptWriter.
func newReceiptWriter(brokers []string, topic string, attempts int, logger *slog.Logger) *kafka.Writer {
	return &kafka.Writer{
		Transport:       &kafka.Transport{MetadataTTL: time.Second, DialTimeout: 5 * time.Second, ClientID: "parley"},
		Addr:            kafka.TCP(brokers...),
		Topic:           topic,
		Balancer:        &kafka.Hash{},
		RequiredAcks:    kafka.RequireAll,
		BatchSize:       32,
		BatchBytes:      8 << 20,
		BatchTimeout:    time.Millisecond,
		MaxAttempts:     attempts,
		WriteBackoffMin: 50 * time.Millisecond,
		WriteBackoffMax: 500 * time.Millisecond,
		ErrorLogger:     kafkaLogger(logger, slog.LevelDebug),
	}
}

// SendReceipts writes markers to Kafka, keyed by channel, and returns once every one of
// them is acknowledged, or an error, in which case the caller must assume none was (a
// retry may duplicate some, which the max-merge downstream absorbs).
func (p *ReceiptProducer) SendReceipts(ctx context.Context, markers []ReadMarker) error {
	if len(markers) == 0 {
		return nil
	}
	msgs := make([]kafka.Message, len(markers))
	for i, m := range markers {
		msgs[i] = encodeReceipt(m)
	}
	wctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	err := p.w.WriteMessages(wctx, msgs...)
	if ctx.Err() == nil { // a caller giving up says nothing about Kafka
		p.health.Report(err)
	}
	if err != nil {
		var werr kafka.WriteErrors
		if errors.As(err, &werr) {
			return fmt.Errorf("produce %d read receipts: %d failed, first: %w", len(msgs), werr.Count(), firstError(werr))
		}
		return fmt.Errorf("produce %d read receipts: %w", len(msgs), err)
	}
	return nil
}

// Close flushes and closes the writer.
func (p *ReceiptProducer) Close() error {
	return closeReceiptWriter(p.w)
}

func closeReceiptWriter(w *kafka.Writer) error {
	err := w.Close()
	if t, ok := w.Transport.(*kafka.Transport); ok {
		t.CloseIdleConnections()
	}
	return err
}

func firstError(errs kafka.WriteErrors) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// kafkaLogger adapts kafka-go's printf logger to slog at a fixed level.
func kafkaLogger(logger *slog.Logger, level slog.Level) kafka.Logger {
	if logger == nil {
		return nil
	}
	return kafka.LoggerFunc(func(msg string, args ...any) {
		if logger.Enabled(context.Background(), level) {
			logger.Log(context.Background(), level, fmt.Sprintf(msg, args...), "component", "kafka")
		}
	})
}
