package persistence

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// EmbeddedKafkaConfig configures the in-process Kafka of the one-command default, and the
// several-broker cluster of the tests and `parley kafka --brokers 3` (ADR 0045).
type EmbeddedKafkaConfig struct {
	// Port of the first broker on 127.0.0.1; broker i listens on Port+i. 0 picks free ones.
	Port int
	// Brokers in the cluster. Default 1; at most 9.
	Brokers int
	// DataDir keeps the log and the consumer groups' committed offsets on disk, so a
	// restart (of the process, or of the broker on the same port) loses nothing the
	// broker acknowledged. Empty keeps everything in memory: every restart then starts
	// from an empty broker, and records acknowledged but not yet persisted are gone.
	DataDir string
	// Topics to create (Brokers is ignored). Defaults as ReceiptTopics, except that with
	// three brokers or more an unset ReplicationFactor is 3 and an unset
	// MinInsyncReplicas is 2: the production shape (ADR 0045).
	Topics ReceiptTopics
}

// EmbeddedKafka is a kfake cluster running in this process with the receipt topics.
//
// kfake's brokers share one log in memory: replication factor and min.insync.replicas
// are accepted, stored and described as a real broker does, but not enforced. What a
// several-broker cluster tests is the clients — leaders moving, a broker refusing
// connections, the group coordinator moving — not the brokers' replication (ADR 0045).
// Only StopBroker enforces min.insync.replicas, for writes: with fewer brokers running
// than it, every produce request is answered NOT_ENOUGH_REPLICAS, as a real cluster
// answers acks=all writes.
type EmbeddedKafka struct {
	c     *kfake.Cluster
	addrs []string
	nodes []int32 // node id of broker i, in addrs order (guarded by mu)

	mu      sync.Mutex
	retired map[int32]bool     // node ids StopBroker took down; StartBroker gives a new one
	down    int                // brokers stopped now
	control bool               // the connection-dropping control is installed
	minISR  int                // min.insync.replicas of the topics (1 when the broker's)
	isr     *kfake.FaultHandle // refuses produce requests while fewer than minISR run
}

// StartEmbeddedKafka starts the brokers and creates the receipt topic (8 partitions, 48 h
// retention) and its DLT unless they exist (a DataDir restart keeps them).
func StartEmbeddedKafka(ctx context.Context, cfg EmbeddedKafkaConfig) (*EmbeddedKafka, error) {
	if cfg.Brokers == 0 {
		cfg.Brokers = 1
	}
	if cfg.Brokers < 1 || cfg.Brokers > 9 {
		return nil, fmt.Errorf("embedded kafka: %d brokers, want 1 to 9", cfg.Brokers)
	}
	if cfg.Port < 0 || cfg.Port+cfg.Brokers-1 > 65535 {
		return nil, fmt.Errorf("embedded kafka: bad port %d for %d brokers", cfg.Port, cfg.Brokers)
	}
	opts := []kfake.Opt{kfake.NumBrokers(cfg.Brokers)}
	if cfg.Port != 0 {
		ports := make([]int, cfg.Brokers)
		for i := range ports {
			ports[i] = cfg.Port + i
		}
		opts = append(opts, kfake.Ports(ports...))
	}
	if cfg.DataDir != "" {
		opts = append(opts, kfake.DataDir(cfg.DataDir))
	}
	topics := cfg.Topics
	if cfg.Brokers >= 3 {
		if topics.ReplicationFactor == 0 {
			topics.ReplicationFactor = 3
		}
		if topics.MinInsyncReplicas == 0 {
			topics.MinInsyncReplicas = 2
		}
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("embedded kafka: %w", err)
	}
	e := &EmbeddedKafka{c: c, addrs: c.ListenAddrs(), retired: map[int32]bool{}, minISR: max(topics.MinInsyncReplicas, 1)}
	// kfake numbers its brokers 0..n-1 in listening order.
	for i := range e.addrs {
		e.nodes = append(e.nodes, int32(i))
	}
	topics.Brokers = e.addrs
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := EnsureReceiptTopics(cctx, topics); err != nil {
		c.Close()
		return nil, fmt.Errorf("embedded kafka: %w", err)
	}
	return e, nil
}

// Addrs are the brokers' host:port addresses, stopped ones included: they are the
// bootstrap list a client is configured with.
func (e *EmbeddedKafka) Addrs() []string { return e.addrs }

// Close stops the brokers; with a DataDir it first writes their state to disk.
func (e *EmbeddedKafka) Close() { e.c.Close() }
