package outgoing_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/parley-chat/parley/integrations/outgoing"
	"github.com/parley-chat/parley/persistence"
)

// Issue 26, ADR 0045: the deliveries topic is created like the receipt topics —
// replication factor 3 and min.insync.replicas 2 on three brokers — and the broker leading
// the relay's partition stops under load and stays down (two replicas are left, enough for
// acks=all). Every message is delivered, the deliverer group's lag returns to 0, and the
// longest pause between deliveries across the stop is logged (the relay's writer finding
// the new leader).
func TestRelaySurvivesItsLeaderStopping(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	k, err := persistence.StartEmbeddedKafka(e.ctx, persistence.EmbeddedKafkaConfig{Brokers: 3})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(k.Close)
	e.kafka = k.Addrs()
	e.hook(e.recv.srv.URL)
	// One partition, so the stopped broker certainly leads the relay's writes.
	e.service(true, func(c *outgoing.Config) { c.ReplicationFactor, c.MinInsyncReplicas, c.Partitions = 3, 2, 1 })

	const total = 80
	var stopped time.Time
	for i := range total {
		if i == 1 {
			waitFor(t, 30*time.Second, "the first delivery", func() bool { return len(e.recv.delivered()) >= 1 })
			replicas, minISR := topicShape(t, k.Addrs(), outgoing.DefaultTopic)
			if replicas != 3 || minISR != "2" {
				t.Fatalf("%s: %d replicas, min.insync.replicas %q; want 3 and \"2\"", outgoing.DefaultTopic, replicas, minISR)
			}
		}
		if i == 30 {
			leader := k.LeaderOf(outgoing.DefaultTopic, 0)
			if leader < 0 {
				t.Fatal("no leader for the deliveries topic")
			}
			if err := k.StopBroker(leader); err != nil {
				t.Fatal(err)
			}
			stopped = time.Now()
			t.Logf("stopped broker %d (leader of %s/0; coordinator of the group: %d)", leader, outgoing.DefaultTopic, k.CoordinatorOf(outgoing.DefaultGroup))
		}
		e.post(e.user.ID, fmt.Sprintf("m%d", i))
		time.Sleep(50 * time.Millisecond) // pacing the load across the stop
	}
	first := map[int64]time.Time{}
	waitFor(t, 60*time.Second, "every message delivered", func() bool {
		clear(first)
		for _, h := range e.recv.delivered() {
			s := decodeEvent(t, h.body).Message.Seq
			if _, ok := first[s]; !ok {
				first[s] = h.at
			}
		}
		return len(first) == total
	})
	waitFor(t, 30*time.Second, "the deliverer's lag to return to 0", func() bool {
		return k.Lag(outgoing.DefaultGroup, outgoing.DefaultTopic) == 0
	})
	// The longest pause between the first deliveries of consecutive seqs from the stop on.
	var pause time.Duration
	var at int64
	for s := int64(2); s <= total; s++ {
		if first[s].After(stopped) {
			if d := first[s].Sub(first[s-1]); d > pause {
				pause, at = d, s
			}
		}
	}
	t.Logf("%d deliveries for %d messages; longest pause after the stop %s (before seq %d; messages posted every 50 ms)",
		len(e.recv.delivered()), total, pause.Round(10*time.Millisecond), at)
}

// topicShape is a topic's replica count (of partition 0) and min.insync.replicas, as a
// client sees them through Metadata and DescribeConfigs.
func topicShape(t *testing.T, addrs []string, topic string) (replicas int, minISR string) {
	t.Helper()
	tr := &kafka.Transport{}
	defer tr.CloseIdleConnections()
	client := &kafka.Client{Addr: kafka.TCP(addrs...), Timeout: 5 * time.Second, Transport: tr}
	ctx := context.Background()
	md, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil || len(md.Topics) != 1 || len(md.Topics[0].Partitions) == 0 {
		t.Fatalf("metadata of %s: %v %+v", topic, err, md)
	}
	resp, err := client.DescribeConfigs(ctx, &kafka.DescribeConfigsRequest{Resources: []kafka.DescribeConfigRequestResource{{
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
	return len(md.Topics[0].Partitions[0].Replicas), minISR
}
