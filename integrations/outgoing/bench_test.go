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

// BenchmarkDeliveryLatency is the path's floor: one message at a time, each waited for at
// the receiver before the next is posted, with the relay polling at its default 200 ms and
// at 20 ms (the difference is the poll's share). Reported against one direct signed POST to
// the same receiver, timed in the same run.
//
//	go test ./integrations/outgoing -run '^$' -bench DeliveryLatency -benchtime 50x
func BenchmarkDeliveryLatency(b *testing.B) {
	for _, poll := range []time.Duration{200 * time.Millisecond, 20 * time.Millisecond} {
		b.Run("poll="+poll.String(), func(b *testing.B) { benchLatency(b, poll) })
	}
}

func benchLatency(b *testing.B, poll time.Duration) {
	e := newBenchEnv(b)
	got := make(chan time.Time, 1)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if r.Header.Get("X-Parley-Delivery") != "" {
			got <- time.Now()
		}
	}))
	defer recv.Close()
	client, err := integrations.NewClient(integrations.ClientConfig{AllowPrivate: true})
	if err != nil {
		b.Fatal(err)
	}
	var ref []time.Duration
	for range max(b.N, 10) {
		req, _ := integrations.NewRequest(context.Background(), recv.URL, []byte("s"), "", []byte(`{}`), time.Now())
		t0 := time.Now()
		if _, _, err := client.Do(req); err != nil {
			b.Fatal(err)
		}
		ref = append(ref, time.Since(t0))
	}
	e.hookIn(e.ch, recv.URL)
	e.service(true, func(c *outgoing.Config) { c.PollInterval = poll })
	var lat []time.Duration
	b.ResetTimer()
	for range b.N {
		m := e.post(e.user.ID, "one message")
		select {
		case at := <-got:
			lat = append(lat, at.Sub(m.CreatedAt.Time))
		case <-time.After(30 * time.Second):
			b.Fatal("not delivered within 30 s")
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	slices.Sort(ref)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(ref[len(ref)/2].Microseconds())/1000, "ref-post-p50-ms")
}
