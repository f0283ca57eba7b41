package bench

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"
)

// ServerSample is one node's figures at one moment of the run (every --sample-every).
type ServerSample struct {
	Second  float64            `json:"second"` // since the start of the load
	URL     string             `json:"url"`
	Metrics map[string]float64 `json:"metrics"`
}

// sampler scrapes every node every interval from the start of the load until stopped.
type sampler struct {
	mu      sync.Mutex
	samples []ServerSample
	stop    chan struct{}
	done    chan struct{}
}

func (r *runner) startSampler(ctx context.Context) *sampler {
	s := &sampler{stop: make(chan struct{}), done: make(chan struct{})}
	every := r.cfg.SampleEvery
	if every <= 0 {
		close(s.done)
		return s
	}
	start := time.Now()
	go func() {
		defer close(s.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
			for _, u := range r.cfg.URLs {
				m, err := scrape(ctx, r.rest, u)
				if err != nil {
					continue // a missed sample shows as a gap; scrape errors are reported elsewhere
				}
				s.mu.Lock()
				s.samples = append(s.samples, ServerSample{Second: time.Since(start).Seconds(), URL: u, Metrics: m})
				s.mu.Unlock()
			}
		}
	}()
	return s
}

func (s *sampler) finish() []ServerSample {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.samples
}

// SoakReport says whether the server's resources stayed flat under steady load with churn
// (issues 9 and 27): per node, the least-squares slope of each metric over the samples after
// the warm-up, projected over the measured window, against a stated tolerance.
type SoakReport struct {
	Nodes []SoakNode `json:"nodes"`
}

// SoakNode is one node's resource trend.
type SoakNode struct {
	URL     string `json:"url"`
	Samples int    `json:"samples"`
	// Minutes is the span of the samples judged.
	Minutes float64 `json:"minutes"`
	// For each metric: value at the first and last sample, and the least-squares slope per minute.
	First     map[string]float64 `json:"first"`
	Last      map[string]float64 `json:"last"`
	PerMinute map[string]float64 `json:"perMinute"`
	// Growth is PerMinute × Minutes for the judged metrics; Tolerance what it may be.
	Growth    map[string]float64 `json:"growth"`
	Tolerance map[string]float64 `json:"tolerance"`
	// Judged is false when the span was shorter than soakJudgeMinutes: no verdict.
	Judged bool `json:"judged"`
}

// soakTolerance is how much a metric may grow over the measured window (slope × window)
// and still count as flat: Abs plus Rel of its first sample. Churn makes goroutines and
// files wander by a few per reconnecting client; a leak grows with time and passes both.
type soakTolerance struct {
	metric string
	abs    float64
	rel    float64
}

// soakJudgeMinutes is the shortest span after the warm-up whose slope is judged: over a few
// seconds a garbage-collection cycle or a burst of churn projects as a leak. A shorter run
// (the smoke test's) reports its trend without a verdict.
const soakJudgeMinutes = 1.0

// soakSpanSlack is how much shorter than soakJudgeMinutes the samples' span may be and still
// be judged: the first and last samples are taken a scrape apart from their ticks.
const soakSpanSlack = 5 * time.Second

func soakTolerances() []soakTolerance {
	return []soakTolerance{
		{"go_goroutines", 50, 0.05},
		{"process_open_fds", 20, 0.05},
		{"process_resident_memory_bytes", 32 << 20, 0.10},
	}
}

func (t soakTolerance) String() string {
	abs := fmt.Sprintf("%.0f", t.abs)
	if t.metric == "process_resident_memory_bytes" {
		abs = mib(t.abs)
	}
	return fmt.Sprintf("%s + %.0f%%", abs, 100*t.rel)
}

func analyseSoak(_ context.Context, r *runner, rep *Report) error {
	warm := r.cfg.Warmup.Seconds()
	sr := &SoakReport{}
	for _, u := range r.cfg.URLs {
		n := SoakNode{URL: u, First: map[string]float64{}, Last: map[string]float64{}, PerMinute: map[string]float64{},
			Growth: map[string]float64{}, Tolerance: map[string]float64{}}
		var pts []ServerSample
		for _, s := range rep.ServerSeries {
			if s.URL == u && s.Second >= warm {
				pts = append(pts, s)
			}
		}
		n.Samples = len(pts)
		if len(pts) < 3 {
			rep.Failures = append(rep.Failures, fmt.Sprintf("soak: %s: %d samples after the warm-up, need 3 for a slope", u, len(pts)))
			sr.Nodes = append(sr.Nodes, n)
			continue
		}
		n.Minutes = (pts[len(pts)-1].Second - pts[0].Second) / 60
		// A sample lands up to a scrape's time late: a run of exactly a minute is judged.
		n.Judged = n.Minutes >= soakJudgeMinutes-soakSpanSlack.Minutes()
		for _, name := range scrapedMetrics {
			n.First[name] = pts[0].Metrics[name]
			n.Last[name] = pts[len(pts)-1].Metrics[name]
			n.PerMinute[name] = slopePerMinute(pts, name)
		}
		for _, t := range soakTolerances() {
			n.Growth[t.metric] = n.PerMinute[t.metric] * n.Minutes
			n.Tolerance[t.metric] = t.abs + t.rel*n.First[t.metric]
			if n.Judged && n.Growth[t.metric] > n.Tolerance[t.metric] {
				rep.Failures = append(rep.Failures, fmt.Sprintf("soak: %s %s grows %.4g/min, %.4g over %.1f min, above the tolerance %s = %.4g",
					u, t.metric, n.PerMinute[t.metric], n.Growth[t.metric], n.Minutes, t, n.Tolerance[t.metric]))
			}
		}
		sr.Nodes = append(sr.Nodes, n)
	}
	rep.Soak = sr
	return nil
}

func slopePerMinute(pts []ServerSample, name string) float64 {
	var n, sx, sy, sxx, sxy float64
	for _, p := range pts {
		x, y := p.Second/60, p.Metrics[name]
		n++
		sx += x
		sy += y
		sxx += x * x
		sxy += x * y
	}
	d := n*sxx - sx*sx
	if d == 0 {
		return 0
	}
	return (n*sxy - sx*sy) / d
}

func (s *SoakReport) summary() string {
	var b strings.Builder
	for _, n := range s.Nodes {
		if n.Samples >= 3 {
			fmt.Fprintf(&b, "soak      %s, slope × %.1f min after the warm-up (tolerance):", n.URL, n.Minutes)
			for i, t := range soakTolerances() {
				g := n.Growth[t.metric]
				if t.metric == "process_resident_memory_bytes" {
					fmt.Fprintf(&b, " RSS %+.1f MiB (%s)", g/(1<<20), t)
				} else {
					fmt.Fprintf(&b, " %s %+.1f (%s)", strings.TrimPrefix(strings.TrimPrefix(t.metric, "go_"), "process_"), g, t)
				}
				if i < len(soakTolerances())-1 {
					b.WriteString(",")
				}
			}
			if !n.Judged {
				fmt.Fprintf(&b, "; not judged: under %.0f min after the warm-up", soakJudgeMinutes)
			}
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "soak      %s, %d samples: RSS %s → %s (%+.2f MiB/min), goroutines %.0f → %.0f, open files %.0f → %.0f\n",
			n.URL, n.Samples, mib(n.First["process_resident_memory_bytes"]), mib(n.Last["process_resident_memory_bytes"]),
			n.PerMinute["process_resident_memory_bytes"]/(1<<20), n.First["go_goroutines"], n.Last["go_goroutines"],
			n.First["process_open_fds"], n.Last["process_open_fds"])
	}
	return b.String()
}
