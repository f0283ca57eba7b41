package persistence_test

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/parley-chat/parley/persistence"
	"github.com/parley-chat/parley/persistence/pgtest"
)

// rcptBroker is a kfake broker with a data directory that a test stops and starts again
// on the same port: a broker restart that keeps the log and the group offsets.
type rcptBroker struct {
	t   testing.TB
	cfg persistence.EmbeddedKafkaConfig
	k   *persistence.EmbeddedKafka
}

func newRcptBroker(t testing.TB) *rcptBroker {
	b := &rcptBroker{t: t, cfg: persistence.EmbeddedKafkaConfig{DataDir: t.TempDir()}}
	b.start()
	_, port, _ := net.SplitHostPort(b.k.Addrs()[0])
	b.cfg.Port, _ = strconv.Atoi(port)
	t.Cleanup(func() {
		if b.k != nil {
			b.k.Close()
		}
	})
	return b
}

func (b *rcptBroker) start() {
	var err error
	for range 100 { // the port may linger a moment after Close
		if b.k, err = persistence.StartEmbeddedKafka(context.Background(), b.cfg); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.t.Fatalf("restart kafka: %v", err)
}

func (b *rcptBroker) stop() { b.k.Close(); b.k = nil }

// The broker restarts twice, the second time while the persister is still rejoining its
// group after the first: kafka-go then answers FetchMessage with the failed join's io.EOF,
// which the persister took for "reader closed" and stopped for good, silently (issue 9's
// fault suite found it). Markers produced after the last restart must still reach
// PostgreSQL.
func TestReceiptPersisterSurvivesBrokerRestartDuringRejoin(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewPool(t, nil)
	users, channels := rcptSeed(t, pool, 4, 2)
	b := newRcptBroker(t)
	reg := prometheus.NewRegistry()
	p, err := persistence.NewReceiptPersister(persistence.ReceiptPersisterConfig{ReceiptConsumerConfig: persistence.ReceiptConsumerConfig{
		ReceiptTopics: persistence.ReceiptTopics{Brokers: b.k.Addrs()}}}, pool, reg, rcptLogger())
	if err != nil {
		t.Fatal(err)
	}
	rcptRun(t, p.Run, p.Close)
	prod := rcptProducer(t, b.k.Addrs())

	seq := int64(0)
	send := func() {
		seq++
		var ms []persistence.ReadMarker
		for _, u := range users {
			for _, c := range channels {
				ms = append(ms, persistence.ReadMarker{UserID: u, ChannelID: c, Seq: seq, ReadAt: time.Now()})
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for prod.SendReceipts(ctx, ms) != nil && ctx.Err() == nil {
			time.Sleep(100 * time.Millisecond)
		}
	}
	reached := func(s int64) func() bool {
		return func() bool {
			got := rcptMarkers(t, pool)
			for _, u := range users {
				for _, c := range channels {
					if got[[2]int64{u, c}] != s {
						return false
					}
				}
			}
			return true
		}
	}
	send()
	rcptWaitFor(t, 30*time.Second, "the first markers", reached(seq))

	b.stop()
	time.Sleep(6 * time.Second) // the group's member is gone when the broker returns…
	b.start()
	time.Sleep(time.Second) // …so the persister's JoinGroup waits out a rebalance…
	b.stop()                // …when the broker goes again, failing it with io.EOF
	time.Sleep(time.Second)
	b.start()
	send()
	rcptWaitFor(t, 30*time.Second, "markers sent after the second restart", reached(seq))
}
