package persistence_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/parley-chat/parley/persistence"
)

// rcptTopicShape is a topic's replica count (of partition 0) and min.insync.replicas,
// as a client sees them through Metadata and DescribeConfigs.
func rcptTopicShape(t testing.TB, addrs []string, topic string) (replicas int, minISR string) {
	t.Helper()
	conn, err := kafka.Dial("tcp", addrs[0])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	parts, err := conn.ReadPartitions(topic)
	if err != nil || len(parts) == 0 {
		t.Fatalf("partitions of %s: %v", topic, err)
	}
	tr := &kafka.Transport{}
	defer tr.CloseIdleConnections()
	client := &kafka.Client{Addr: kafka.TCP(addrs...), Timeout: 5 * time.Second, Transport: tr}
	resp, err := client.DescribeConfigs(context.Background(), &kafka.DescribeConfigsRequest{Resources: []kafka.DescribeConfigRequestResource{{
		ResourceType: kafka.ResourceTypeTopic, ResourceName: topic, ConfigNames: []string{"min.insync.replicas"}}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range resp.Resources {
		for _, c := range r.ConfigEntries {
			if c.ConfigName == "min.insync.replicas" {
				minISR = c.ConfigValue
			}
		}
	}
	return len(parts[0].Replicas), minISR
}

// Three brokers: the receipt topics get replication factor 3 and min.insync.replicas 2
// unless told otherwise; one broker gets the broker's defaults (ADR 0045).
func TestEmbeddedKafkaClusterReplication(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		cfg      persistence.EmbeddedKafkaConfig
		replicas int
		minISR   string
	}{
		{"one broker", persistence.EmbeddedKafkaConfig{}, 1, "1"},
		{"three brokers", persistence.EmbeddedKafkaConfig{Brokers: 3}, 3, "2"},
		{"three brokers, explicit", persistence.EmbeddedKafkaConfig{Brokers: 3, Topics: persistence.ReceiptTopics{ReplicationFactor: 2, MinInsyncReplicas: 1}}, 2, "1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := rcptKafka(t, tc.cfg)
			if n := len(k.Addrs()); n != max(tc.cfg.Brokers, 1) {
				t.Fatalf("%d addresses", n)
			}
			for _, topic := range []string{persistence.DefaultReceiptTopic, persistence.DefaultReceiptDLTTopic} {
				replicas, minISR := rcptTopicShape(t, k.Addrs(), topic)
				if replicas != tc.replicas || minISR != tc.minISR {
					t.Fatalf("%s: %d replicas, min.insync.replicas %q; want %d and %q", topic, replicas, minISR, tc.replicas, tc.minISR)
				}
			}
		})
	}
}

// Bad replication settings are refused before any topic is created.
func TestEnsureKafkaTopicsRefusesBadReplication(t *testing.T) {
	t.Parallel()
	k := rcptKafka(t, persistence.EmbeddedKafkaConfig{Brokers: 3})
	ctx := context.Background()
	for _, tc := range []struct {
		topic persistence.KafkaTopic
		want  string
	}{
		{persistence.KafkaTopic{Name: "x1", Partitions: 1, ReplicationFactor: 2, MinInsyncReplicas: 3}, "above replication factor"},
		{persistence.KafkaTopic{Name: "x2", Partitions: 1, ReplicationFactor: -2}, "replication factor -2"},
		{persistence.KafkaTopic{Name: "x3", Partitions: 1, MinInsyncReplicas: -1}, "negative"},
		{persistence.KafkaTopic{Name: "x4", Partitions: 0}, "positive partitions"},
		{persistence.KafkaTopic{Name: "x5", Partitions: 1, ReplicationFactor: 4}, "Replication Factor"}, // the broker's refusal
	} {
		err := persistence.EnsureKafkaTopics(ctx, k.Addrs(), tc.topic)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Fatalf("%+v: err %v, want %q", tc.topic, err, tc.want)
		}
	}
	conn, err := kafka.Dial("tcp", k.Addrs()[0])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	parts, err := conn.ReadPartitions()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range parts {
		if strings.HasPrefix(p.Topic, "x") {
			t.Fatalf("topic %s was created", p.Topic)
		}
	}
	if _, err := persistence.StartEmbeddedKafka(ctx, persistence.EmbeddedKafkaConfig{Brokers: 10}); err == nil {
		t.Fatal("10 brokers accepted")
	}
}

// A stopped broker refuses connections and its partitions move to the others: a producer
// with all three addresses keeps writing; with two stopped, writes are refused (min ISR 2);
// the group's lag counts what is not committed. The last broker running cannot be stopped.
func TestEmbeddedKafkaStopStartBroker(t *testing.T) {
	t.Parallel()
	k := rcptKafka(t, persistence.EmbeddedKafkaConfig{Brokers: 3})
	prod := rcptProducer(t, k.Addrs())
	events := func(n int) []persistence.ReadMarker {
		var ms []persistence.ReadMarker
		for i := range int64(n) {
			ms = append(ms, persistence.ReadMarker{UserID: 1, ChannelID: i + 1, Seq: i, ReadAt: time.Now()})
		}
		return ms
	}
	send := func(ms []persistence.ReadMarker) { // retried until the leaders moved
		t.Helper()
		rcptWaitFor(t, 20*time.Second, "a write to be acknowledged", func() bool {
			return prod.SendReceipts(context.Background(), ms) == nil
		})
	}
	send(events(50))
	if err := k.StopBroker(1); err != nil {
		t.Fatal(err)
	}
	if err := k.StopBroker(1); err == nil {
		t.Fatal("stopped broker 1 twice")
	}
	if _, err := (&kafka.Dialer{Timeout: time.Second}).Dial("tcp", k.Addrs()[1]); err == nil {
		t.Fatal("a stopped broker accepted a connection")
	}
	send(events(50))
	if err := k.StopBroker(0); err != nil {
		t.Fatal(err)
	}
	if err := k.StopBroker(2); err == nil || !strings.Contains(err.Error(), "last one") {
		t.Fatalf("stopping the last broker: %v", err)
	}
	// One broker of three is below min.insync.replicas 2: acks=all writes are refused.
	// (The first tries may still meet the stopped brokers' addresses: connection errors.)
	rcptWaitFor(t, 20*time.Second, "a write to be refused with NOT_ENOUGH_REPLICAS", func() bool {
		err := prod.SendReceipts(context.Background(), events(5))
		if err == nil {
			t.Fatal("a write was acknowledged with one broker of three")
		}
		return strings.Contains(err.Error(), "Not Enough Replicas")
	})
	if err := k.StartBroker(0); err != nil {
		t.Fatal(err)
	}
	if err := k.StartBroker(1); err != nil {
		t.Fatal(err)
	}
	if err := k.StartBroker(1); err == nil {
		t.Fatal("started a running broker")
	}
	send(events(50))
	// A call that failed on some partitions is sent again whole: at least once, which
	// the GREATEST upsert downstream absorbs.
	n := rcptTopicRecords(t, k.Addrs()[1], persistence.DefaultReceiptTopic)
	if n < 150 {
		t.Fatalf("%d records after the restarts, want at least 150", n)
	}
	if lag := k.Lag("nobody", persistence.DefaultReceiptTopic); lag != n {
		t.Fatalf("lag of a group that never committed: %d, want %d", lag, n)
	}
}
