package outgoing

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/parley-chat/parley/persistence"
)

// relay moves committed messages from PostgreSQL to the topic (ADR 0037). It reads in seq
// order past each hook's cursor, so it sees exactly what is committed, in the order it was
// committed, whichever node (or REST) wrote it, and whether or not that node is still alive;
// the append path is not touched at all. It produces inside the transaction that holds the
// hooks' rows and moves their cursors only after Kafka acknowledged, so a crash in between
// produces the same records again (same delivery ids), never none.
type relay struct {
	cfg   Config
	store Store
	w     *kafka.Writer
	log   *slog.Logger
	m     *metrics
	kick  chan struct{}
}

func newRelay(cfg Config, store Store, log *slog.Logger, m *metrics) *relay {
	return &relay{cfg: cfg, store: store, log: log, m: m, w: &kafka.Writer{
		// An own transport with a short metadata TTL, as the receipt producer's (a cached
		// failed refresh would hold writes back for seconds after a broker returns).
		Transport:       &kafka.Transport{MetadataTTL: time.Second, DialTimeout: 5 * time.Second, ClientID: "parley-outgoing"},
		Addr:            kafka.TCP(cfg.Brokers...),
		Topic:           cfg.Topic,
		Balancer:        &kafka.Hash{},
		RequiredAcks:    kafka.RequireAll,
		BatchSize:       256,
		BatchBytes:      8 << 20,
		BatchTimeout:    time.Millisecond,
		MaxAttempts:     3,
		WriteBackoffMin: 50 * time.Millisecond,
		WriteBackoffMax: 500 * time.Millisecond,
	}}
}

// run relays until ctx ends: a round whenever the poll interval passes, and rounds back to
// back while they come back full.
func (r *relay) run(ctx context.Context) {
	t := time.NewTicker(r.cfg.PollInterval)
	defer t.Stop()
	failures := 0
	for {
		hooks, most, err := r.round(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			failures++
			r.cfg.Health.Report(err)
			r.log.Warn("outgoing webhooks: relay round failed", "err", err, "failures", failures)
			if sleepCtx(ctx, min(r.cfg.PollInterval<<min(failures, 6), 10*time.Second)) != nil {
				return
			}
			continue
		case hooks >= r.cfg.RelayHooks || most >= r.cfg.RelayMessages:
			failures = 0
			continue // more may be waiting
		}
		failures = 0
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// round is one relay transaction; it returns how many hooks it claimed and the most
// messages it read for one.
func (r *relay) round(ctx context.Context) (int, int, error) {
	return r.store.RelayOutgoing(ctx, r.cfg.RelayHooks, r.cfg.RelayMessages, func(ctx context.Context, batches []persistence.RelayBatch) error {
		var msgs []kafka.Message
		for _, b := range batches {
			for _, m := range b.Messages {
				if !wanted(b, m) {
					continue
				}
				km, err := newRecord(b.Hook, m)
				if err != nil {
					return err
				}
				msgs = append(msgs, km)
			}
		}
		if len(msgs) == 0 {
			return nil
		}
		wctx, cancel := context.WithTimeout(ctx, r.cfg.ProduceTimeout)
		defer cancel()
		if err := r.w.WriteMessages(wctx, msgs...); err != nil {
			return fmt.Errorf("produce %d deliveries: %w", len(msgs), err)
		}
		r.cfg.Health.Report(nil)
		r.m.relayed.Add(float64(len(msgs)))
		return nil
	})
}

func (r *relay) close() error {
	err := r.w.Close()
	if t, ok := r.w.Transport.(*kafka.Transport); ok {
		t.CloseIdleConnections()
	}
	return err
}

// EnsureTopic creates the deliveries topic when it is missing, through the one way parley
// creates topics (persistence.EnsureKafkaTopics), so it gets the replication factor and
// min.insync.replicas of the receipt topics (ADR 0045); an existing one is left as it is.
func EnsureTopic(ctx context.Context, cfg Config) error {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return err
	}
	return persistence.EnsureKafkaTopics(ctx, cfg.Brokers, persistence.KafkaTopic{
		Name: cfg.Topic, Partitions: cfg.Partitions, Retention: cfg.Retention,
		ReplicationFactor: cfg.ReplicationFactor, MinInsyncReplicas: cfg.MinInsyncReplicas,
	})
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
