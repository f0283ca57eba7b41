package persistence

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
)

// MarkerCache is where the DLT consumer finds the newest read markers: the Redis cache
// (cluster.Markers) every read event is max-merged into before anything else happens.
type MarkerCache interface {
	// ReadMarkers returns the cached seq of each key's (UserID, ChannelID), 0 if none.
	ReadMarkers(ctx context.Context, keys []ReadMarker) ([]int64, error)
}

// ReceiptDLTConfig configures the DLT consumer; GroupID defaults to
// "read-receipt-dlt-reconciler".
type ReceiptDLTConfig struct {
	ReceiptConsumerConfig
}

// ReceiptDLTConsumer reconciles the batches the persister gave up on. It does not replay
// the records' seqs as they were: for each key it takes the newest value in the Redis
// cache (never lower than the record's) and writes it with the same GREATEST upsert, so
// PostgreSQL catches up with everything read since. A batch is retried with backoff until
// the database takes it; offsets are committed only after that.
type ReceiptDLTConsumer struct {
	cfg    ReceiptDLTConfig
	db     execer
	cache  MarkerCache
	in     *batchReader
	logger *slog.Logger

	reconciled prometheus.Counter
	failed     prometheus.Counter
}

// NewReceiptDLTConsumer validates cfg and returns the consumer; its metrics are
// registered on reg (nil: not registered).
func NewReceiptDLTConsumer(cfg ReceiptDLTConfig, db execer, cache MarkerCache, reg prometheus.Registerer, logger *slog.Logger) (*ReceiptDLTConsumer, error) {
	cfg.ReceiptConsumerConfig = cfg.ReceiptConsumerConfig.withDefaults(DefaultDLTGroup)
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("receipt DLT consumer: %w", err)
	}
	if db == nil || cache == nil || logger == nil {
		return nil, fmt.Errorf("receipt DLT consumer: db, cache and logger are required")
	}
	c := &ReceiptDLTConsumer{
		cfg: cfg, db: db, cache: cache, logger: logger,
		reconciled: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_read_receipts_dlt_reconciled_total",
			Help: "Read markers the DLT consumer reconciled from the Redis cache into PostgreSQL.",
		}),
		failed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_read_receipts_dlt_failed_total",
			Help: "Read markers of DLT reconciliation attempts that failed (each is retried until it succeeds).",
		}),
	}
	if err := registerAll(reg, c.reconciled, c.failed); err != nil {
		return nil, fmt.Errorf("receipt DLT consumer: %w", err)
	}
	c.in = newBatchReader(cfg.ReceiptConsumerConfig, cfg.DLTTopic, logger)
	return c, nil
}

// Run consumes the DLT until ctx ends or Close is called; it returns nil then.
func (c *ReceiptDLTConsumer) Run(ctx context.Context) error {
	return consume(ctx, c.in, c.logger, c.handle)
}

// Close leaves the consumer group.
func (c *ReceiptDLTConsumer) Close() error { return c.in.close() }

func (c *ReceiptDLTConsumer) handle(ctx context.Context, msgs []kafka.Message) error {
	rows := dedupeMarkers(decodeBatch(msgs, c.logger))
	if len(rows) == 0 {
		return nil
	}
	for attempt := 0; ; attempt++ {
		err := c.reconcile(ctx, rows)
		if err == nil {
			c.reconciled.Add(float64(len(rows)))
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		c.failed.Add(float64(len(rows)))
		c.logger.Warn("read receipts: DLT reconciliation failed, retrying", "err", err, "markers", len(rows), "attempt", attempt+1)
		if err := sleepCtx(ctx, c.cfg.backoff(attempt)); err != nil {
			return err
		}
	}
}

func (c *ReceiptDLTConsumer) reconcile(ctx context.Context, rows []ReadMarker) error {
	wctx, cancel := context.WithTimeout(ctx, c.cfg.WriteTimeout)
	defer cancel()
	newest, err := c.cache.ReadMarkers(wctx, rows)
	if err != nil {
		// The records' own seqs are still right, just possibly not the newest; the newer
		// ones travel through the receipt topic anyway.
		c.logger.Warn("read receipts: Redis unavailable for DLT reconciliation, using the records' seqs", "err", err)
		newest = nil
	}
	out := make([]ReadMarker, len(rows))
	copy(out, rows)
	for i := range out {
		if i < len(newest) && newest[i] > out[i].Seq {
			out[i].Seq = newest[i]
		}
	}
	return upsertReadMarkers(wctx, c.db, out)
}
