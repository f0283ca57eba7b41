package outgoing_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/parley-chat/parley/integrations"
	"github.com/parley-chat/parley/integrations/outgoing"
	"github.com/parley-chat/parley/persistence"
)

// BenchmarkDeliveries measures outgoing-webhook deliveries per second to a receiver on
// loopback, and the latency from each message's creation (its commit) to its arrival at
// the receiver, for b.N messages spread over 4 channels with one hook each (a hook's
// deliveries are sequential: its order). The reference, measured in the same run, is the
// same client POSTing the same kind of signed body to the same receiver directly, one at a
// time per channel: ref-posts/s; the ratio says what the relay, Kafka and the log cost.
//
//	go test ./integrations/outgoing -run '^$' -bench Deliveries -benchtime 2000x
func BenchmarkDeliveries(b *testing.B) {
	const channels = 4
	e := newBenchEnv(b)
	var (
		mu      sync.Mutex
		arrived []time.Duration
	)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var ev struct {
			Message struct{ CreatedAt persistence.Time }
		}
		if json.Unmarshal(body, &ev) == nil && r.Header.Get("X-Parley-Delivery") != "" {
			mu.Lock()
			arrived = append(arrived, time.Since(ev.Message.CreatedAt.Time))
			mu.Unlock()
		}
	}))
	defer recv.Close()

	per := max(1, b.N/channels) // messages per channel
	// Reference: direct signed POSTs, one goroutine per channel.
	client, err := integrations.NewClient(integrations.ClientConfig{AllowPrivate: true})
	if err != nil {
		b.Fatal(err)
	}
	body := bytes.Repeat([]byte("x"), 300)
	refStart := time.Now()
	var wg sync.WaitGroup
	for range channels {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range per {
				req, _ := integrations.NewRequest(context.Background(), recv.URL, []byte("s"), "", body, time.Now())
				if _, _, err := client.Do(req); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	refRate := float64(per*channels) / time.Since(refStart).Seconds()

	chs := make([]int64, channels)
	for i := range chs {
		chs[i] = e.channel(fmt.Sprintf("c%d", i))
		e.hookIn(chs[i], recv.URL)
	}
	e.service(true, func(c *outgoing.Config) { c.PollInterval = 0 }) // the default, 200 ms
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < per; i += 50 {
		for _, ch := range chs {
			batch := make([]persistence.NewMessage, min(50, per-i))
			for k := range batch {
				batch[k] = persistence.NewMessage{ID: e.ids.Next(), UserID: e.user.ID, Content: "bench message of an ordinary length, nothing more"}
			}
			if _, err := e.store.AppendMessages(e.ctx, ch, batch); err != nil {
				b.Fatal(err)
			}
		}
	}
	want := per * channels
	for {
		mu.Lock()
		n := len(arrived)
		mu.Unlock()
		if n >= want {
			break
		}
		if time.Since(start) > 5*time.Minute {
			b.Fatalf("%d of %d delivered", n, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	mu.Lock()
	lat := slices.Clone(arrived)
	mu.Unlock()
	slices.Sort(lat)
	rate := float64(want) / elapsed.Seconds()
	b.ReportMetric(rate, "deliveries/s")
	b.ReportMetric(refRate, "ref-posts/s")
	b.ReportMetric(rate/refRate, "ratio")
	b.ReportMetric(float64(lat[len(lat)/2].Milliseconds()), "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Milliseconds()), "p99-ms")
}
