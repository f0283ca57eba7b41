package persistence

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// ADR 0045: with min.insync.replicas 2 a write is on two brokers only if it asks for
// acks=all; kafka-go's Writer asks for none unless told. Every produce request the
// receipt writer (the producer's and the persister's DLT writer) sends carries acks -1.
func TestReceiptWriterAsksForAllInSyncReplicas(t *testing.T) {
	t.Parallel()
	k, err := StartEmbeddedKafka(context.Background(), EmbeddedKafkaConfig{Brokers: 3})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(k.Close)
	var mu sync.Mutex
	var acks []int16
	k.c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		k.c.KeepControl()
		mu.Lock()
		acks = append(acks, req.(*kmsg.ProduceRequest).Acks)
		mu.Unlock()
		return nil, nil, false // observe only
	})
	p, err := NewReceiptProducer(ReceiptProducerConfig{ReceiptTopics: ReceiptTopics{Brokers: k.Addrs()}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var ms []ReadMarker
	for i := range int64(40) {
		ms = append(ms, ReadMarker{UserID: 1, ChannelID: i + 1, Seq: 1, ReadAt: time.Now()})
	}
	if err := p.SendReceipts(context.Background(), ms); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(acks) == 0 {
		t.Fatal("no produce request seen")
	}
	for _, a := range acks {
		if a != -1 {
			t.Fatalf("produce request with acks %d, want -1 (all in-sync replicas); all: %v", a, acks)
		}
	}
}
