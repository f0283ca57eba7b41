package persistence

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
)

// ReceiptPersisterConfig configures the consumer that writes read receipts to PostgreSQL.
type ReceiptPersisterConfig struct {
	ReceiptConsumerConfig
	// DBAttempts is how often a batch is tried against the database before it goes to the
	// DLT. Default 3.
	DBAttempts int
}

// ReceiptPersister consumes the receipt topic in the group "read-receipt-persister":
// batches of up to 500 events, deduplicated to the highest seq per (user, channel),
// written with one upsert; offsets are committed only after the write. A batch the
// database refuses DBAttempts times goes to the DLT (and only then is committed), so one
// bad stretch of database time neither blocks the partition nor loses the batch.
type ReceiptPersister struct {
	cfg    ReceiptPersisterConfig
	db     execer
	in     *batchReader
	dlt    *kafka.Writer
	logger *slog.Logger

	persisted prometheus.Counter
	batchSize prometheus.Histogram
	lag       prometheus.Histogram
	dltSent   prometheus.Counter
}

// NewReceiptPersister validates cfg and returns a persister writing through db (a
// *pgxpool.Pool), its metrics registered on reg (nil: not registered).
func NewReceiptPersister(cfg ReceiptPersisterConfig, db execer, reg prometheus.Registerer, logger *slog.Logger) (*ReceiptPersister, error) {
	cfg.ReceiptConsumerConfig = cfg.ReceiptConsumerConfig.withDefaults(DefaultPersisterGroup)
	if cfg.DBAttempts == 0 {
		cfg.DBAttempts = 3
	}
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("receipt persister: %w", err)
	}
	if cfg.DBAttempts < 1 {
		return nil, fmt.Errorf("receipt persister: db attempts %d must be positive", cfg.DBAttempts)
	}
	if db == nil || logger == nil {
		return nil, fmt.Errorf("receipt persister: db and logger are required")
	}
	p := &ReceiptPersister{
		cfg: cfg, db: db, logger: logger,
		persisted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_read_receipts_persisted_total",
			Help: "Read markers written to PostgreSQL by the persister, after deduplication per (user, channel).",
		}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "parley_read_receipts_batch_size",
			Help:    "Kafka events per persister database statement.",
			Buckets: []float64{1, 5, 10, 25, 50, 100, 200, 300, 400, 500},
		}),
		lag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "parley_read_receipts_lag_seconds",
			Help:    "Time from a read event being recorded to its batch committing in PostgreSQL.",
			Buckets: prometheus.ExponentialBucketsRange(0.005, 120, 24),
		}),
		dltSent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_read_receipts_dlt_sent_total",
			Help: "Read receipt events the persister sent to the dead-letter topic after repeated database failures.",
		}),
	}
	if err := registerAll(reg, p.persisted, p.batchSize, p.lag, p.dltSent); err != nil {
		return nil, fmt.Errorf("receipt persister: %w", err)
	}
	p.in = newBatchReader(cfg.ReceiptConsumerConfig, cfg.Topic, logger)
	p.dlt = newReceiptWriter(cfg.Brokers, cfg.DLTTopic, 3, logger)
	return p, nil
}

// Run consumes until ctx ends or Close is called; it returns nil then. Cancel ctx to stop
// without finishing the current batch: it was not committed and will be read again.
func (p *ReceiptPersister) Run(ctx context.Context) error {
	return consume(ctx, p.in, p.logger, p.handle)
}

// Close leaves the consumer group and closes the DLT writer.
func (p *ReceiptPersister) Close() error {
	err := p.in.close()
	if derr := closeReceiptWriter(p.dlt); err == nil {
		err = derr
	}
	return err
}

func (p *ReceiptPersister) handle(ctx context.Context, msgs []kafka.Message) error {
	markers := decodeBatch(msgs, p.logger)
	rows := dedupeMarkers(markers)
	if len(rows) == 0 {
		return nil
	}
	err := p.write(ctx, rows)
	if err == nil {
		now := time.Now()
		for _, m := range markers {
			p.lag.Observe(now.Sub(m.ReadAt).Seconds())
		}
		p.persisted.Add(float64(len(rows)))
		p.batchSize.Observe(float64(len(msgs)))
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	p.logger.Error("read receipts: database write failed, sending the batch to the DLT",
		"err", err, "events", len(msgs), "attempts", p.cfg.DBAttempts)
	return p.toDLT(ctx, msgs, err)
}

func (p *ReceiptPersister) write(ctx context.Context, rows []ReadMarker) error {
	var err error
	for attempt := range p.cfg.DBAttempts {
		if attempt > 0 {
			if serr := sleepCtx(ctx, p.cfg.backoff(attempt-1)); serr != nil {
				return serr
			}
		}
		wctx, cancel := context.WithTimeout(ctx, p.cfg.WriteTimeout)
		err = upsertReadMarkers(wctx, p.db, rows)
		cancel()
		if err == nil {
			return nil
		}
		p.logger.Warn("read receipts: database write failed", "err", err, "attempt", attempt+1)
	}
	return err
}

// toDLT produces the batch's records unchanged to the DLT, retrying until the broker
// acknowledges them: until then the batch is not committed.
func (p *ReceiptPersister) toDLT(ctx context.Context, msgs []kafka.Message, cause error) error {
	out := make([]kafka.Message, len(msgs))
	for i, m := range msgs {
		out[i] = kafka.Message{Key: m.Key, Value: m.Value, Headers: []kafka.Header{
			{Key: "error", Value: []byte(cause.Error())},
			{Key: "source", Value: []byte(m.Topic + "/" + strconv.Itoa(m.Partition) + "/" + strconv.FormatInt(m.Offset, 10))},
		}}
	}
	for attempt := 0; ; attempt++ {
		err := p.dlt.WriteMessages(ctx, out...)
		if err == nil {
			p.dltSent.Add(float64(len(out)))
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		p.logger.Error("read receipts: DLT write failed, retrying", "err", err, "attempt", attempt+1)
		if err := sleepCtx(ctx, p.cfg.backoff(attempt)); err != nil {
			return err
		}
	}
}
