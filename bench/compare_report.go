package bench

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
)

func (p *ParleyFigures) line() string {
	return fmt.Sprintf("send→deliver %s; %.0f sends/s, %.0f deliveries/s; lost %d, dup %d; RSS/conn %s (heap+stacks %s); node CPU %.1fs",
		p.Deliver, p.SendsPerSec, p.DeliveriesPerSec, p.Lost, p.Duplicated, fmtKiB(p.RSSPerConn), fmtKiB(p.HeapStackPerConn), p.ServerCPU)
}

func (p *PeerRound) line() string {
	return fmt.Sprintf("send→deliver %s; %.0f sends/s, %.0f deliveries/s; lost %d, dup %d, dropped %d; RSS/conn %s (heap+stacks %s); server CPU %.1fs; %d/%d connected",
		p.Deliver, p.SendsPerSec, p.DeliveriesPS, p.Lost, p.Duplicated, p.Dropped, fmtKiB(p.RSSPerConnection()), fmtKiB(p.HeapStackPerConnection()), p.ServerCPU, p.Connected, p.Connected+p.Failed)
}

func (f *FloorRound) line() string {
	s := fmt.Sprintf("commit %s; %.0f commits/s over %d connections; timer lag p50 %s p99 %s (not counted)",
		f.Commit, f.PerSec, f.Clients, fmtMs(f.TimerLag.P50), fmtMs(f.TimerLag.P99))
	if f.Errors > 0 {
		s += fmt.Sprintf("; %d errors (%s)", f.Errors, f.FirstError)
	}
	return s
}

func fmtKiB(b float64) string { return fmt.Sprintf("%.1f KiB", b/1024) }

// judge: a reference that measured nothing is no reference.
func (c *Comparison) judge() {
	for i, r := range c.Rounds {
		if p := r.Parley; p != nil {
			for _, f := range p.Failures {
				c.Failures = append(c.Failures, fmt.Sprintf("round %d, parley: %s", i+1, f))
			}
		}
		if p := r.Peer; p != nil {
			if p.Failed > 0 {
				c.Failures = append(c.Failures, fmt.Sprintf("round %d, peer: %d of %d connections failed: %v", i+1, p.Failed, p.Failed+p.Connected, topKinds(p.Errors, 3)))
			}
			if p.Dropped > 0 {
				c.Failures = append(c.Failures, fmt.Sprintf("round %d, peer: %d connections dropped by the server during the run", i+1, p.Dropped))
			}
			if p.Lost > 0 || p.Duplicated > 0 {
				c.Failures = append(c.Failures, fmt.Sprintf("round %d, peer: lost %d, duplicated %d", i+1, p.Lost, p.Duplicated))
			}
			if c.Config.Senders > 0 && c.Config.Receivers > 0 && p.Deliveries == 0 {
				c.Failures = append(c.Failures, fmt.Sprintf("round %d, peer: nothing delivered (%d sends, %d acknowledged): %v", i+1, p.Sends, p.Acks, topKinds(p.Errors, 3)))
			}
		}
		if f := r.Floor; f != nil && (f.Commits == 0 || f.Errors > 0) {
			c.Failures = append(c.Failures, fmt.Sprintf("round %d, pg floor: %d commits, %d errors %s", i+1, f.Commits, f.Errors, f.FirstError))
		}
	}
}

// ratio is the median and range of per-round ratios a/b (rounds where both were measured).
type ratio struct {
	median, lo, hi float64
	n              int
}

func ratios(rounds []CompareRound, a, b func(CompareRound) float64) ratio {
	var rs []float64
	for _, r := range rounds {
		x, y := a(r), b(r)
		if x > 0 && y > 0 {
			rs = append(rs, x/y)
		}
	}
	if len(rs) == 0 {
		return ratio{}
	}
	slices.Sort(rs)
	return ratio{median: median(rs), lo: rs[0], hi: rs[len(rs)-1], n: len(rs)}
}

func medianOf(rounds []CompareRound, f func(CompareRound) (float64, bool)) float64 {
	var v []float64
	for _, r := range rounds {
		if x, ok := f(r); ok {
			v = append(v, x)
		}
	}
	if len(v) == 0 {
		return 0
	}
	return median(v)
}

func median(s []float64) float64 {
	s = slices.Clone(s)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func (r ratio) String() string {
	if r.n == 0 {
		return "not measured"
	}
	return fmt.Sprintf("%.2f× (per-round %.2f–%.2f, %d rounds)", r.median, r.lo, r.hi, r.n)
}

// column is one system's figure over the rounds: median and range.
func column(rounds []CompareRound, f func(CompareRound) (float64, bool)) string {
	var v []float64
	for _, r := range rounds {
		if x, ok := f(r); ok {
			v = append(v, x)
		}
	}
	if len(v) == 0 {
		return "—"
	}
	lo, hi := slices.Min(v), slices.Max(v)
	return fmt.Sprintf("%s (%s–%s)", fmtMs(median(v)), fmtMs(lo), fmtMs(hi))
}

// Summary is the comparison's plain-text report.
func (c *Comparison) Summary() string {
	var b bytes.Buffer
	cf := c.Config
	fmt.Fprintf(&b, "\nparley bench, compared in interleaved rounds — %s\n", c.Date)
	fmt.Fprintf(&b, "machine   %s, %d CPUs (%s), %s; load average %.1f at start, %.1f at end\n",
		c.Machine.Hostname, c.Machine.CPUs, c.Machine.CPU, c.Machine.Go, c.Machine.LoadAvgStart, c.Machine.LoadAvgEnd)
	fmt.Fprintf(&b, "load      %d connections, %d channels × %d subs/conn, %d senders × %g msg/s, %d receivers, %d-byte messages, %s + %s warmup, %d rounds\n",
		cf.Connections, cf.Channels, cf.SubsPerConn, cf.Senders, cf.Rate, cf.Receivers, cf.MessageBytes, cf.Duration, cf.Warmup, len(c.Rounds))
	rs := c.Rounds
	pP50 := func(r CompareRound) (float64, bool) {
		return pct(r.Parley != nil, r.Parley, func(p *ParleyFigures) float64 { return p.Deliver.P50 })
	}
	pP99 := func(r CompareRound) (float64, bool) {
		return pct(r.Parley != nil, r.Parley, func(p *ParleyFigures) float64 { return p.Deliver.P99 })
	}
	cP50 := func(r CompareRound) (float64, bool) {
		return pct(r.Peer != nil, r.Peer, func(p *PeerRound) float64 { return p.Deliver.P50 })
	}
	cP99 := func(r CompareRound) (float64, bool) {
		return pct(r.Peer != nil, r.Peer, func(p *PeerRound) float64 { return p.Deliver.P99 })
	}
	fP50 := func(r CompareRound) (float64, bool) {
		return pct(r.Floor != nil, r.Floor, func(f *FloorRound) float64 { return f.Commit.P50 })
	}
	fP99 := func(r CompareRound) (float64, bool) {
		return pct(r.Floor != nil, r.Floor, func(f *FloorRound) float64 { return f.Commit.P99 })
	}
	hasPeer, hasFloor := slices.ContainsFunc(rs, func(r CompareRound) bool { return r.Peer != nil }), slices.ContainsFunc(rs, func(r CompareRound) bool { return r.Floor != nil })
	load := cf.Senders > 0 && cf.Rate > 0
	if load {
		fmt.Fprintf(&b, "%-22s %-28s %-28s\n", "median (range)", "P50", "P99")
		fmt.Fprintf(&b, "%-22s %-28s %-28s\n", "parley send→deliver", column(rs, pP50), column(rs, pP99))
		if hasPeer {
			fmt.Fprintf(&b, "%-22s %-28s %-28s\n", "centrifugo send→deliv", column(rs, cP50), column(rs, cP99))
		}
		if hasFloor {
			fmt.Fprintf(&b, "%-22s %-28s %-28s\n", "PostgreSQL commit", column(rs, fP50), column(rs, fP99))
		}
	}
	v := func(f func(CompareRound) (float64, bool)) func(CompareRound) float64 {
		return func(r CompareRound) float64 { x, _ := f(r); return x }
	}
	if hasPeer && load {
		fmt.Fprintf(&b, "ratio     parley / centrifugo: P50 %s, P99 %s\n", ratios(rs, v(pP50), v(cP50)), ratios(rs, v(pP99), v(cP99)))
	}
	if hasPeer {
		rss := ratios(rs, func(r CompareRound) float64 {
			if r.Parley == nil {
				return 0
			}
			return r.Parley.RSSPerConn
		}, func(r CompareRound) float64 {
			if r.Peer == nil {
				return 0
			}
			return r.Peer.RSSPerConnection()
		})
		hs := ratios(rs, func(r CompareRound) float64 {
			if r.Parley == nil {
				return 0
			}
			return r.Parley.HeapStackPerConn
		}, func(r CompareRound) float64 {
			if r.Peer == nil {
				return 0
			}
			return r.Peer.HeapStackPerConnection()
		})
		if cf.Connections >= 1000 { // below that, a connection's share is lost in the heap's noise
			fmt.Fprintf(&b, "memory    per connection, median: parley RSS %s, heap+stacks %s; centrifugo RSS %s, heap+stacks %s\n",
				fmtKiB(medianOf(rs, func(r CompareRound) (float64, bool) {
					return pct(r.Parley != nil, r.Parley, func(p *ParleyFigures) float64 { return p.RSSPerConn })
				})),
				fmtKiB(medianOf(rs, func(r CompareRound) (float64, bool) {
					return pct(r.Parley != nil, r.Parley, func(p *ParleyFigures) float64 { return p.HeapStackPerConn })
				})),
				fmtKiB(medianOf(rs, func(r CompareRound) (float64, bool) {
					return pct(r.Peer != nil, r.Peer, func(p *PeerRound) float64 { return p.RSSPerConnection() })
				})),
				fmtKiB(medianOf(rs, func(r CompareRound) (float64, bool) {
					return pct(r.Peer != nil, r.Peer, func(p *PeerRound) float64 { return p.HeapStackPerConnection() })
				})))
			fmt.Fprintf(&b, "ratio     parley / centrifugo per connection: RSS %s, heap+stacks %s\n", rss, hs)
		}
	}
	if hasFloor {
		fmt.Fprintf(&b, "ratio     parley send→deliver / PostgreSQL commit: P50 %s, P99 %s\n", ratios(rs, v(pP50), v(fP50)), ratios(rs, v(pP99), v(fP99)))
	}
	for _, n := range c.Notes {
		fmt.Fprintf(&b, "note      %s\n", n)
	}
	if hasFloor {
		fmt.Fprintf(&b, "note      the floor is the node's append statement alone, on a fresh database of the same server, timed from its scheduled moment by a client on this machine\n")
	}
	for _, f := range c.Failures {
		fmt.Fprintf(&b, "FAILURE   %s\n", f)
	}
	fmt.Fprintf(&b, "%s\n", strings.Repeat("-", 60))
	return b.String()
}

func pct[T any](ok bool, x T, f func(T) float64) (float64, bool) {
	if !ok {
		return 0, false
	}
	return f(x), true
}
