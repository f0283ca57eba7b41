package ws_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-chat/parley/actors"
	"github.com/parley-chat/parley/persistence"
	"github.com/parley-chat/parley/stomp"
)

// BenchmarkSendDeliver is the whole send → deliver path over loopback with PostgreSQL: one
// op is a SEND with a receipt, committed, and delivered to 20 subscribers. Sequential ops
// measure one message's latency; the parallel variant lets the group commit batch.
// Allocations include the Go clients'.
func BenchmarkSendDeliver(b *testing.B) {
	for _, parallel := range []bool{false, true} {
		b.Run(fmt.Sprintf("parallel=%v", parallel), func(b *testing.B) {
			e := newEnv(b, envOptions{actors: actors.Config{SendRate: 1e6, SendBurst: 1e6}})
			tok, uid := e.user("sender")
			cid := e.channel(uid, "bench", persistence.ChannelPublic)
			var delivered atomic.Int64
			for i := range 20 {
				rt, _ := e.user(fmt.Sprint("r", i))
				if _, err := e.dial(rt).SubscribeFunc(dest(cid), func(*stomp.Frame, time.Time) { delivered.Add(1) }); err != nil {
					b.Fatal(err)
				}
			}
			c := e.dial(tok)
			body := sendBody(cid, "benchmark message with a little text in it")
			b.ReportAllocs()
			b.ResetTimer()
			if parallel {
				b.SetParallelism(8)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if _, err := c.SendWithReceipt(context.Background(), actors.DestMessageSend, body); err != nil {
							b.Error(err)
							return
						}
					}
				})
			} else {
				for range b.N {
					if _, err := c.SendWithReceipt(context.Background(), actors.DestMessageSend, body); err != nil {
						b.Fatal(err)
					}
				}
			}
			want := int64(b.N) * 20
			deadline := time.Now().Add(30 * time.Second)
			for delivered.Load() < want && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			b.StopTimer()
			if got := delivered.Load(); got != want {
				b.Fatalf("%d deliveries, want %d", got, want)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}
