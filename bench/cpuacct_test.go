package bench

import (
	"math"
	"testing"
)

func TestCPUOverRestart(t *testing.T) {
	for _, tc := range []struct {
		name string
		pts  []cpuPoint
		want float64
	}{
		{"one process", []cpuPoint{{100, 5}, {100, 7}, {100, 12}}, 7},
		// Restarted between the 2nd and 3rd scrape: the new process's 1.5 s are all in the
		// run; After − Connected would be 3 − 5 = −2.
		{"restart", []cpuPoint{{100, 5}, {100, 9}, {200, 1.5}, {200, 3}}, 4 + 1.5 + 1.5},
		{"restart, start time unknown", []cpuPoint{{0, 5}, {0, 9}, {0, 1}, {0, 3}}, 4 + 1 + 2},
		{"same counter, new process", []cpuPoint{{100, 5}, {300, 6}}, 6},
		{"one scrape", []cpuPoint{{100, 5}}, 0},
	} {
		if got := cpuOver(tc.pts); math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("%s: cpuOver = %g, want %g", tc.name, got, tc.want)
		}
	}
}

func TestNodeCPUNeverNegative(t *testing.T) {
	n := &NodeMetrics{URL: "a",
		Connected: map[string]float64{"process_cpu_seconds_total": 10, "process_start_time_seconds": 1},
		After:     map[string]float64{"process_cpu_seconds_total": 2, "process_start_time_seconds": 2}}
	series := []ServerSample{
		{URL: "a", Metrics: map[string]float64{"process_cpu_seconds_total": 14, "process_start_time_seconds": 1}},
		{URL: "b", Metrics: map[string]float64{"process_cpu_seconds_total": 99, "process_start_time_seconds": 1}},
		{URL: "a", Metrics: map[string]float64{"process_cpu_seconds_total": 1, "process_start_time_seconds": 2}},
	}
	if got, want := nodeCPU(n, series), 4.0+1+1; got != want {
		t.Errorf("nodeCPU = %g, want %g (the old After − Connected: %g)", got, want, n.After["process_cpu_seconds_total"]-n.Connected["process_cpu_seconds_total"])
	}
}
