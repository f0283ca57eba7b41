package bench

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"
)

// soakSeries is 10 minutes of samples every 10 s after a 30 s warm-up: goroutines wander
// ±30 with churn, and grow by leak per minute.
func soakSeries(leakPerMin float64) []ServerSample {
	var out []ServerSample
	for s := 30.0; s <= 630; s += 10 {
		wobble := 30 * math.Sin(s/7)
		out = append(out, ServerSample{Second: s, URL: "n", Metrics: map[string]float64{
			"go_goroutines":                 1000 + wobble + leakPerMin*s/60,
			"process_open_fds":              520 + wobble/3,
			"process_resident_memory_bytes": 200 << 20,
		}})
	}
	return out
}

func TestSoakSlopeTolerance(t *testing.T) {
	r := &runner{cfg: Config{URLs: []string{"n"}, Warmup: 30 * time.Second}}
	for _, tc := range []struct {
		leak float64
		fail bool
	}{{0, false}, {5, false}, {20, true}} { // tolerance: 50 + 5% of 1000 = 100 over 10 min
		rep := &Report{ServerSeries: soakSeries(tc.leak)}
		if err := analyseSoak(context.Background(), r, rep); err != nil {
			t.Fatal(err)
		}
		failed := len(rep.Failures) > 0
		if failed != tc.fail {
			t.Errorf("goroutines leaking %g/min: failures %v, want failure %v", tc.leak, rep.Failures, tc.fail)
		}
		if failed && !strings.Contains(rep.Failures[0], "go_goroutines") {
			t.Errorf("failure %q does not name the metric", rep.Failures[0])
		}
		if g := rep.Soak.Nodes[0].Growth["go_goroutines"]; math.Abs(g-tc.leak*10) > 15 {
			t.Errorf("leak %g/min: growth over 10 min %g, want about %g", tc.leak, g, tc.leak*10)
		}
	}
	// Under a minute after the warm-up: the trend is reported, not judged.
	short := &Report{ServerSeries: soakSeries(1000)[:5]} // 40 s, goroutines +1000/min
	_ = analyseSoak(context.Background(), r, short)
	if len(short.Failures) != 0 || short.Soak.Nodes[0].Judged {
		t.Errorf("40 s judged: failures %v", short.Failures)
	}
	if !strings.Contains(short.Soak.summary(), "not judged") {
		t.Errorf("summary of a short soak does not say it was not judged:\n%s", short.Soak.summary())
	}
	// A one-minute run whose last sample came a scrape early is judged all the same.
	minute := &Report{ServerSeries: soakSeries(1000)[:7]}
	minute.ServerSeries[6].Second -= 0.5
	_ = analyseSoak(context.Background(), r, minute)
	if !minute.Soak.Nodes[0].Judged || len(minute.Failures) == 0 {
		t.Errorf("59.5 s after the warm-up, goroutines +1000/min: judged %v, failures %v", minute.Soak.Nodes[0].Judged, minute.Failures)
	}
	rep := &Report{ServerSeries: soakSeries(0)[:2]}
	_ = analyseSoak(context.Background(), r, rep)
	if len(rep.Failures) == 0 {
		t.Error("2 samples judged flat: need 3 for a slope")
	}
}
