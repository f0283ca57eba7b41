package persistence_test

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/parley-chat/parley/persistence"
)

// rcptTopicRecords counts the records in every partition of topic.
func rcptTopicRecords(t testing.TB, addr, topic string) int64 {
	t.Helper()
	conn, err := kafka.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	parts, err := conn.ReadPartitions(topic)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, p := range parts {
		pc, err := kafka.DialLeader(context.Background(), "tcp", addr, topic, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		first, last, err := pc.ReadOffsets()
		pc.Close()
		if err != nil {
			t.Fatal(err)
		}
		n += last - first
	}
	return n
}

// kfake keeps its log in memory unless given a DataDir: a broker restarted on the same
// port without one comes back empty, records acknowledged before the stop included. With
// a DataDir it comes back with them, as a real broker does (ADR 0003).
func TestEmbeddedKafkaRestart(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		dataDir bool
		want    int64
	}{{"memory", false, 0}, {"datadir", true, 100}} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := persistence.EmbeddedKafkaConfig{}
			if tc.dataDir {
				cfg.DataDir = t.TempDir()
			}
			k, err := persistence.StartEmbeddedKafka(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			addr := k.Addrs()[0]
			var events []persistence.ReadMarker
			for i := range int64(100) {
				events = append(events, persistence.ReadMarker{UserID: 1, ChannelID: i + 1, Seq: i, ReadAt: time.Now()})
			}
			rcptSend(t, rcptProducer(t, k.Addrs()), events)
			if n := rcptTopicRecords(t, addr, persistence.DefaultReceiptTopic); n != 100 {
				t.Fatalf("before restart: %d records", n)
			}
			k.Close()

			_, port, _ := net.SplitHostPort(addr)
			cfg.Port, _ = strconv.Atoi(port)
			k2 := rcptKafka(t, cfg)
			if k2.Addrs()[0] != addr {
				t.Fatalf("restarted on %s, not %s", k2.Addrs()[0], addr)
			}
			if n := rcptTopicRecords(t, addr, persistence.DefaultReceiptTopic); n != tc.want {
				t.Fatalf("after restart: %d records, want %d", n, tc.want)
			}
			if n := rcptTopicRecords(t, addr, persistence.DefaultReceiptDLTTopic); n != 0 {
				t.Fatalf("DLT has %d records", n)
			}
		})
	}
}
