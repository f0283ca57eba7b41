package transport

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/parley-chat/parley/actors"
	"github.com/parley-chat/parley/cluster"
	"github.com/parley-chat/parley/persistence"
)

// startReceipts assembles the read-receipt path of DESIGN.md: Redis max-merge and the
// receipt aggregator actor (s.receipts, used by REST and STOMP reads), the Kafka producer,
// and this node's members of the persister and DLT consumer groups. Closers run in reverse:
// the aggregator flushes (or parks in Redis) before the producer closes, and the consumers
// stop before the database pool closes.
func (s *Server) startReceipts(ctx context.Context) error {
	markers, err := cluster.NewMarkers(s.redis, cluster.MarkersConfig{
		KeyPrefix: s.cfg.RedisPrefix + "read:",
		ParkedKey: s.cfg.RedisPrefix + "receipts:parked",
	})
	if err != nil {
		return err
	}
	s.markers = markers
	topics := persistence.ReceiptTopics{Brokers: s.kafkaBrokers}
	if len(s.cfg.KafkaBrokers) > 0 { // the embedded broker is one broker: its defaults fit
		topics.ReplicationFactor, topics.MinInsyncReplicas = s.cfg.KafkaReplicationFactor, s.cfg.KafkaMinInsyncReplicas
	}
	consumers, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	if len(s.cfg.KafkaBrokers) > 0 {
		// External Kafka: make sure our topics exist. A node must start while Kafka is down
		// (read markers then wait in the fallback and Redis), so keep trying in the background.
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.ensureTopics(consumers, topics)
		}()
	}
	persister, err := persistence.NewReceiptPersister(persistence.ReceiptPersisterConfig{
		ReceiptConsumerConfig: persistence.ReceiptConsumerConfig{ReceiptTopics: topics, Health: s.deps.kafka},
	}, s.db, s.reg, s.logger)
	if err != nil {
		cancel()
		return err
	}
	dlt, err := persistence.NewReceiptDLTConsumer(persistence.ReceiptDLTConfig{
		ReceiptConsumerConfig: persistence.ReceiptConsumerConfig{ReceiptTopics: topics, Health: s.deps.kafka},
	}, s.db, markers, s.reg, s.logger)
	if err != nil {
		cancel()
		return err
	}
	for name, run := range map[string]func(context.Context) error{"persister": persister.Run, "dlt": dlt.Run} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := run(consumers)
			switch {
			case err != nil && !errors.Is(err, context.Canceled):
				s.logger.Error("read-receipt consumer stopped", "consumer", name, "err", err)
			case err == nil && consumers.Err() == nil:
				// Run returns only when told to: a nil before shutdown means markers stop
				// reaching PostgreSQL with nothing else to show for it.
				s.logger.Error("read-receipt consumer stopped unexpectedly before shutdown", "consumer", name)
			}
		}()
	}
	s.closers.push("read-receipt consumers", func(context.Context) error {
		cancel()
		wg.Wait()
		return errors.Join(persister.Close(), dlt.Close())
	})

	prod, err := persistence.NewReceiptProducer(persistence.ReceiptProducerConfig{ReceiptTopics: topics, Health: s.deps.kafka}, s.logger)
	if err != nil {
		return err
	}
	s.closers.push("read-receipt producer", func(context.Context) error { return prod.Close() })
	rc, err := actors.NewReceipts(actors.ReceiptsConfig{}, actors.ReceiptsDeps{
		Markers: markers, Kafka: prod, Parking: markers, Actors: s.actors, Logger: s.logger, Registerer: s.reg,
	})
	if err != nil {
		return err
	}
	if err := rc.Start(ctx); err != nil {
		return err
	}
	s.closers.push("read-receipt aggregator", rc.Shutdown)
	s.receipts = rc
	return nil
}

func (s *Server) ensureTopics(ctx context.Context, topics persistence.ReceiptTopics) {
	for {
		tctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := persistence.EnsureReceiptTopics(tctx, topics)
		cancel()
		if err == nil || ctx.Err() != nil {
			return
		}
		s.deps.kafka.Fail(fmt.Errorf("ensure topics: %w", err)) // logs the outage once
		s.logger.Debug("kafka topics not ensured yet; retrying in 5s", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(5 * time.Second):
		}
	}
}
