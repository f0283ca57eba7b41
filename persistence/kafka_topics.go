package persistence

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"
)

// KafkaTopic is a topic parley creates when it is missing: the receipt topics and any
// other pipeline's (outgoing webhooks) share this one way of creating them, so one
// replication setting (--kafka-replication-factor, --kafka-min-insync-replicas) covers
// every topic (ADR 0045).
type KafkaTopic struct {
	// Name of the topic. Required.
	Name string
	// Partitions of the topic. Required, positive.
	Partitions int
	// ReplicationFactor; -1 or 0 take the broker's default.replication.factor.
	ReplicationFactor int
	// MinInsyncReplicas, the replicas that must hold a write before acks=all answers;
	// 0 takes the broker's min.insync.replicas.
	MinInsyncReplicas int
	// Retention of the log; 0 takes the broker's retention.ms.
	Retention time.Duration
}

// ValidateKafkaReplication checks a replication factor and min.insync.replicas pair: a
// min.insync.replicas above the replication factor makes every acks=all write fail, so
// it is refused here rather than found in production. Equal is allowed (one broker down
// then stops writes, which the receipt pipeline rides out in Redis) but not the default
// (ADR 0045).
func ValidateKafkaReplication(rf, minISR int) error {
	if rf < -1 || rf > 32767 {
		return fmt.Errorf("kafka replication factor %d: want -1 or 0 (broker default) or 1 to 32767", rf)
	}
	if minISR < 0 {
		return fmt.Errorf("kafka min.insync.replicas %d is negative", minISR)
	}
	if rf > 0 && minISR > rf {
		return fmt.Errorf("kafka min.insync.replicas %d is above replication factor %d: every acks=all write would fail", minISR, rf)
	}
	return nil
}

// EnsureKafkaTopics creates the topics that are missing; existing ones are left as they
// are (their partitions and replication are the operator's from then on).
func EnsureKafkaTopics(ctx context.Context, brokers []string, topics ...KafkaTopic) error {
	if len(brokers) == 0 {
		return errors.New("kafka brokers are required")
	}
	cfgs := make([]kafka.TopicConfig, 0, len(topics))
	for _, t := range topics {
		if t.Name == "" || t.Partitions < 1 {
			return fmt.Errorf("kafka topic %q: a name and positive partitions (got %d) are required", t.Name, t.Partitions)
		}
		if err := ValidateKafkaReplication(t.ReplicationFactor, t.MinInsyncReplicas); err != nil {
			return fmt.Errorf("kafka topic %s: %w", t.Name, err)
		}
		rf := t.ReplicationFactor
		if rf == 0 {
			rf = -1
		}
		var entries []kafka.ConfigEntry
		if t.Retention > 0 {
			entries = append(entries, kafka.ConfigEntry{ConfigName: "retention.ms", ConfigValue: strconv.FormatInt(t.Retention.Milliseconds(), 10)})
		}
		if t.MinInsyncReplicas > 0 {
			entries = append(entries, kafka.ConfigEntry{ConfigName: "min.insync.replicas", ConfigValue: strconv.Itoa(t.MinInsyncReplicas)})
		}
		cfgs = append(cfgs, kafka.TopicConfig{Topic: t.Name, NumPartitions: t.Partitions, ReplicationFactor: rf, ConfigEntries: entries})
	}
	// An own transport, closed after use: kafka-go's DefaultTransport keeps pooled
	// connections (and their goroutines) alive for the life of the process.
	tr := &kafka.Transport{}
	defer tr.CloseIdleConnections()
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 10 * time.Second, Transport: tr}
	resp, err := client.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: cfgs})
	if err != nil {
		return fmt.Errorf("create kafka topics: %w", err)
	}
	for name, err := range resp.Errors {
		if err != nil && !errors.Is(err, kafka.TopicAlreadyExists) {
			return fmt.Errorf("create topic %s: %w", name, err)
		}
	}
	return nil
}
