package bench

import (
	"fmt"
	"sync"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// Latencies are recorded in microseconds from 1 µs to 10 minutes with 3 significant
// digits; a longer one is clamped to the top (and still counted).
const (
	histMin    = 1
	histMax    = int64(10 * time.Minute / time.Microsecond)
	histDigits = 3
)

func newHist() *hdr.Histogram { return hdr.New(histMin, histMax, histDigits) }

func micros(d time.Duration) int64 {
	us := int64(d / time.Microsecond)
	switch {
	case us < histMin:
		return histMin // same-microsecond deliveries, or a clock step backwards
	case us > histMax:
		return histMax
	}
	return us
}

// recorder is a histogram written by many goroutines (one per connection's read loop):
// sharded by the caller's key so that they rarely share a lock. Each value goes into the
// current interval (swapped out every second for the time series) and, when it belongs to
// the measured window, into the total.
type recorder struct {
	shards []recShard
}

type recShard struct {
	mu         sync.Mutex
	cur, total *hdr.Histogram
	_          [40]byte // keep neighbouring shards' locks off one cache line
}

func newRecorder(shards int) *recorder {
	r := &recorder{shards: make([]recShard, shards)}
	for i := range r.shards {
		r.shards[i].cur, r.shards[i].total = newHist(), newHist()
	}
	return r
}

func (r *recorder) record(key int, d time.Duration, counted bool) {
	s := &r.shards[uint(key)%uint(len(r.shards))]
	v := micros(d)
	s.mu.Lock()
	_ = s.cur.RecordValue(v)
	if counted {
		_ = s.total.RecordValue(v)
	}
	s.mu.Unlock()
}

// interval returns what was recorded since the last call.
func (r *recorder) interval() *hdr.Histogram {
	out := newHist()
	for i := range r.shards {
		s := &r.shards[i]
		s.mu.Lock()
		if s.cur.TotalCount() > 0 {
			out.Merge(s.cur)
			s.cur.Reset()
		}
		s.mu.Unlock()
	}
	return out
}

// totals returns everything recorded in the measured window.
func (r *recorder) totals() *hdr.Histogram {
	out := newHist()
	for i := range r.shards {
		s := &r.shards[i]
		s.mu.Lock()
		out.Merge(s.total)
		s.mu.Unlock()
	}
	return out
}

// Percentiles summarise a latency histogram, in milliseconds.
type Percentiles struct {
	Count int64   `json:"count"`
	Mean  float64 `json:"meanMs"`
	P50   float64 `json:"p50Ms"`
	P95   float64 `json:"p95Ms"`
	P99   float64 `json:"p99Ms"`
	P999  float64 `json:"p999Ms"`
	Max   float64 `json:"maxMs"`
}

func percentilesOf(h *hdr.Histogram) Percentiles {
	if h == nil || h.TotalCount() == 0 {
		return Percentiles{}
	}
	v := h.ValueAtPercentilesSlice([]float64{50, 95, 99, 99.9})
	ms := func(us int64) float64 { return float64(us) / 1000 }
	return Percentiles{
		Count: h.TotalCount(),
		Mean:  h.Mean() / 1000,
		P50:   ms(v[0]), P95: ms(v[1]), P99: ms(v[2]), P999: ms(v[3]),
		Max: ms(h.Max()),
	}
}

func (p Percentiles) String() string {
	if p.Count == 0 {
		return "no samples"
	}
	return fmt.Sprintf("p50 %s  p95 %s  p99 %s  p99.9 %s  max %s  (n=%d)",
		fmtMs(p.P50), fmtMs(p.P95), fmtMs(p.P99), fmtMs(p.P999), fmtMs(p.Max), p.Count)
}

func fmtMs(ms float64) string {
	switch {
	case ms < 1:
		return fmt.Sprintf("%.0fµs", ms*1000)
	case ms < 10:
		return fmt.Sprintf("%.2fms", ms)
	case ms < 1000:
		return fmt.Sprintf("%.1fms", ms)
	}
	return fmt.Sprintf("%.2fs", ms/1000)
}

// encodeHist renders h for the worker pipe ("" when empty).
func encodeHist(h *hdr.Histogram) string {
	if h == nil || h.TotalCount() == 0 {
		return ""
	}
	b, err := h.Encode(hdr.V2CompressedEncodingCookieBase)
	if err != nil {
		return "" // cannot happen for a histogram of this package's geometry
	}
	return string(b)
}

// mergeEncoded decodes s into dst.
func mergeEncoded(dst *hdr.Histogram, s string) error {
	if s == "" {
		return nil
	}
	h, err := hdr.Decode([]byte(s))
	if err != nil {
		return fmt.Errorf("decode histogram: %w", err)
	}
	dst.Merge(h)
	return nil
}
