package bench

import (
	"math"
	"testing"
)

// since takes the difference of two cumulative histograms and reads percentiles off the
// buckets' upper bounds (the last, open bucket by its lower bound).
func TestSchedDelayPercentiles(t *testing.T) {
	buckets := []float64{0, 0.001, 0.01, 0.1, math.Inf(1)}
	start := schedSnapshot{counts: []uint64{5, 5, 5, 5}, buckets: buckets}
	end := schedSnapshot{counts: []uint64{5 + 900, 5 + 90, 5 + 9, 5 + 1}, buckets: buckets}
	d := end.since(start)
	if d.Count != 1000 || d.P50Ms != 1 || d.P99Ms != 10 || d.P999Ms != 100 {
		t.Fatalf("got %+v, want 1000 samples, p50 1 ms, p99 10 ms, p99.9 100 ms", d)
	}
	if got := (schedSnapshot{}).since(start); got != (SchedDelay{}) {
		t.Fatalf("no histogram: got %+v", got)
	}
	if live := readSched(); len(live.counts) == 0 || len(live.buckets) != len(live.counts)+1 {
		t.Fatalf("the runtime's %s histogram: %d counts, %d buckets", schedLatencies, len(live.counts), len(live.buckets))
	}
}
