package persistence

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// EmbeddedKafkaConfig configures the in-process Kafka of the one-command default.
type EmbeddedKafkaConfig struct {
	// Port on 127.0.0.1; 0 picks a free one.
	Port int
	// DataDir keeps the log and the consumer groups' committed offsets on disk, so a
	// restart (of the process, or of the broker on the same port) loses nothing the
	// broker acknowledged. Empty keeps everything in memory: every restart then starts
	// from an empty broker, and records acknowledged but not yet persisted are gone.
	DataDir string
	// Topics to create (Brokers is ignored). Defaults as ReceiptTopics.
	Topics ReceiptTopics
}

// EmbeddedKafka is a single kfake broker running in this process with the receipt topics.
type EmbeddedKafka struct {
	c     *kfake.Cluster
	addrs []string
}

// StartEmbeddedKafka starts the broker and creates the receipt topic (8 partitions, 48 h
// retention) and its DLT unless they exist (a DataDir restart keeps them).
func StartEmbeddedKafka(ctx context.Context, cfg EmbeddedKafkaConfig) (*EmbeddedKafka, error) {
	if cfg.Port < 0 || cfg.Port > 65535 {
		return nil, fmt.Errorf("embedded kafka: bad port %d", cfg.Port)
	}
	opts := []kfake.Opt{kfake.NumBrokers(1)}
	if cfg.Port != 0 {
		opts = append(opts, kfake.Ports(cfg.Port))
	}
	if cfg.DataDir != "" {
		opts = append(opts, kfake.DataDir(cfg.DataDir))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("embedded kafka: %w", err)
	}
	e := &EmbeddedKafka{c: c, addrs: c.ListenAddrs()}
	topics := cfg.Topics
	topics.Brokers = e.addrs
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := EnsureReceiptTopics(cctx, topics); err != nil {
		c.Close()
		return nil, fmt.Errorf("embedded kafka: %w", err)
	}
	return e, nil
}

// Addrs are the broker's host:port addresses.
func (e *EmbeddedKafka) Addrs() []string { return e.addrs }

// Close stops the broker; with a DataDir it first writes its state to disk.
func (e *EmbeddedKafka) Close() { e.c.Close() }
