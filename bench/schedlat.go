package bench

import (
	"fmt"
	"math"
	"runtime/metrics"
)

// The harness measures latency on its own clock, so its own queueing is in every figure: a
// delivery read by a goroutine that waited 200 ms for a processor is 200 ms late. On this
// 2-core machine the harness shares the cores with the node, PostgreSQL and Redis; the Go
// runtime's histogram of how long runnable goroutines waited to run tells how much of a
// tail is the harness's own (docs/BENCHMARKS.md).

const schedLatencies = "/sched/latencies:seconds"

// schedSnapshot is the runtime's cumulative scheduling-latency histogram.
type schedSnapshot struct {
	counts  []uint64
	buckets []float64 // len(counts)+1 boundaries, seconds
}

func readSched() schedSnapshot {
	s := []metrics.Sample{{Name: schedLatencies}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindFloat64Histogram {
		return schedSnapshot{}
	}
	h := s[0].Value.Float64Histogram()
	return schedSnapshot{counts: append([]uint64(nil), h.Counts...), buckets: h.Buckets}
}

// SchedDelay summarises how long the harness's runnable goroutines waited for a processor
// over a run: each figure is a bucket's upper bound, so it errs high.
type SchedDelay struct {
	Count  uint64  `json:"count"`
	P50Ms  float64 `json:"p50Ms"`
	P99Ms  float64 `json:"p99Ms"`
	P999Ms float64 `json:"p999Ms"`
}

// since returns the delays recorded after start.
func (end schedSnapshot) since(start schedSnapshot) SchedDelay {
	if len(end.counts) == 0 || len(start.counts) != len(end.counts) {
		return SchedDelay{}
	}
	diff := make([]uint64, len(end.counts))
	var d SchedDelay
	for i := range diff {
		diff[i] = end.counts[i] - start.counts[i]
		d.Count += diff[i]
	}
	at := func(q float64) float64 {
		want := uint64(math.Ceil(q * float64(d.Count)))
		var seen uint64
		for i, c := range diff {
			seen += c
			if seen >= want {
				if math.IsInf(end.buckets[i+1], 1) {
					return 1000 * end.buckets[i]
				}
				return 1000 * end.buckets[i+1]
			}
		}
		return 0
	}
	if d.Count > 0 {
		d.P50Ms, d.P99Ms, d.P999Ms = at(0.50), at(0.99), at(0.999)
	}
	return d
}

// worse keeps, figure by figure, the larger of two workers' delays.
func (d SchedDelay) worse(o SchedDelay) SchedDelay {
	return SchedDelay{Count: d.Count + o.Count, P50Ms: max(d.P50Ms, o.P50Ms), P99Ms: max(d.P99Ms, o.P99Ms), P999Ms: max(d.P999Ms, o.P999Ms)}
}

func (d SchedDelay) String() string {
	return fmt.Sprintf("p50 %s  p99 %s  p99.9 %s", fmtMs(d.P50Ms), fmtMs(d.P99Ms), fmtMs(d.P999Ms))
}
