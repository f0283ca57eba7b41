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
// (issue 9): per node, the first and last sample of the measured window and the slope.
type SoakReport struct {
	Nodes []SoakNode `json:"nodes"`
}

// SoakNode is one node's resource trend.
type SoakNode struct {
	URL     string `json:"url"`
	Samples int    `json:"samples"`
	// For each metric: value at the first and last sample, and the least-squares slope per minute.
	First     map[string]float64 `json:"first"`
	Last      map[string]float64 `json:"last"`
	PerMinute map[string]float64 `json:"perMinute"`
}

// Leak thresholds: goroutines and open files may wander with churn, but not climb. They are
// deliberately loose; issue 9 owns the final judgement.
const (
	soakAbsSlack = 100  // goroutines or files above the first sample
	soakRelSlack = 0.10 // and 10 % of it
)

func analyseSoak(_ context.Context, r *runner, rep *Report) error {
	warm := r.cfg.Warmup.Seconds()
	sr := &SoakReport{}
	for _, u := range r.cfg.URLs {
		n := SoakNode{URL: u, First: map[string]float64{}, Last: map[string]float64{}, PerMinute: map[string]float64{}}
		var pts []ServerSample
		for _, s := range rep.ServerSeries {
			if s.URL == u && s.Second >= warm {
				pts = append(pts, s)
			}
		}
		n.Samples = len(pts)
		if len(pts) >= 2 {
			for _, name := range scrapedMetrics {
				n.First[name] = pts[0].Metrics[name]
				n.Last[name] = pts[len(pts)-1].Metrics[name]
				n.PerMinute[name] = slopePerMinute(pts, name)
			}
			for _, name := range []string{"go_goroutines", "process_open_fds"} {
				if first, last := n.First[name], n.Last[name]; last > first+soakAbsSlack+soakRelSlack*first {
					rep.Failures = append(rep.Failures, fmt.Sprintf("soak: %s %s grew from %.0f to %.0f", u, name, first, last))
				}
			}
			if first, slope := n.First["process_resident_memory_bytes"], n.PerMinute["process_resident_memory_bytes"]; first > 0 && slope > 0.01*first {
				rep.Warnings = append(rep.Warnings, fmt.Sprintf("soak: %s RSS grows %.1f MiB/min (%.1f%%/min)", u, slope/(1<<20), 100*slope/first))
			}
		} else {
			rep.Warnings = append(rep.Warnings, fmt.Sprintf("soak: %s: %d samples in the measured window, need 2", u, len(pts)))
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
		fmt.Fprintf(&b, "soak      %s, %d samples: RSS %s → %s (%+.2f MiB/min), goroutines %.0f → %.0f, open files %.0f → %.0f\n",
			n.URL, n.Samples, mib(n.First["process_resident_memory_bytes"]), mib(n.Last["process_resident_memory_bytes"]),
			n.PerMinute["process_resident_memory_bytes"]/(1<<20), n.First["go_goroutines"], n.Last["go_goroutines"],
			n.First["process_open_fds"], n.Last["process_open_fds"])
	}
	return b.String()
}
