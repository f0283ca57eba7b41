package persistence_test

import (
	"context"
	"log/slog"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/parley-chat/parley/internal/depstate"
	"github.com/parley-chat/parley/internal/logtest"
	"github.com/parley-chat/parley/persistence"
	"github.com/parley-chat/parley/persistence/pgtest"
)

// A Kafka outage under a running persister and producer is one "dependency down" line, not
// a warning per failed fetch (every 200 ms), and one "dependency back" when the producer's
// next write succeeds.
func TestReceiptKafkaOutageIsLoggedAsStateChanges(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	kcfg := persistence.EmbeddedKafkaConfig{Port: port, DataDir: t.TempDir()}
	k := rcptKafka(t, kcfg)
	topics := persistence.ReceiptTopics{Brokers: k.Addrs()}

	var lines logtest.Recorder
	logger := slog.New(&lines)
	kafka, err := depstate.New(depstate.Config{Name: "kafka"}, logger, nil)
	if err != nil {
		t.Fatal(err)
	}
	pool, _ := pgtest.NewPool(t, nil)
	p, err := persistence.NewReceiptPersister(persistence.ReceiptPersisterConfig{
		ReceiptConsumerConfig: persistence.ReceiptConsumerConfig{ReceiptTopics: topics, Health: kafka},
	}, pool, nil, logger)
	if err != nil {
		t.Fatal(err)
	}
	rcptRun(t, p.Run, p.Close)
	prod, err := persistence.NewReceiptProducer(persistence.ReceiptProducerConfig{ReceiptTopics: topics, Health: kafka, WriteTimeout: time.Second}, logger)
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	send := func() error {
		return prod.SendReceipts(context.Background(), []persistence.ReadMarker{{UserID: 1, ChannelID: 1001, Seq: 1}})
	}
	if err := send(); err != nil {
		t.Fatal(err)
	}

	k.Close()
	rcptWaitFor(t, 20*time.Second, "the persister's fetches to fail 5 times", func() bool {
		return lines.Count("read receipts: fetch failed") >= 5
	})
	if kafka.Up() {
		t.Fatal("tracker up while the broker is closed")
	}
	k2, err := persistence.StartEmbeddedKafka(context.Background(), kcfg)
	if err != nil {
		t.Fatalf("restart the broker on port %s: %v", strconv.Itoa(port), err)
	}
	t.Cleanup(k2.Close)
	rcptWaitFor(t, 20*time.Second, "a write to succeed again", func() bool { return send() == nil })

	if n := lines.Count("dependency down"); n != 1 {
		t.Errorf("%d 'dependency down' lines, want 1", n)
	}
	if n := lines.Count("dependency back"); n != 1 {
		t.Errorf("%d 'dependency back' lines, want 1", n)
	}
	if warnings := lines.Warnings(); len(warnings) != 1 {
		t.Errorf("%d warnings during the outage %q, want only the tracker's", len(warnings), warnings)
	}
}
