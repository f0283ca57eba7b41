package main

import (
	"fmt"
	"slices"
	"time"
)

// figures are one result's derived numbers.
type figures struct {
	commitsPerS, rowsPerS float64
	p50, p99              time.Duration
	oursPerRow            float64 // µs of the bench's backends per row (per commit for references)
	oursPerCommit         float64 // µs
	oursSysShare          float64 // the share of the backends' CPU spent in the kernel
	bgPerCommit           float64 // µs of walwriter+checkpointer+bgwriter per commit
	serverPerRow          float64 // µs of every postgres process per row (per commit for references)
	serverCores           float64 // every postgres process's CPU over the wall time, in cores
	walPerRow             float64 // bytes (per commit for references), server-wide
	commitsPerSync        float64
}

func derive(r result) figures {
	f := figures{p50: pct(r.lat, 0.50), p99: pct(r.lat, 0.99)}
	w := r.wall.Seconds()
	f.commitsPerS, f.rowsPerS = float64(r.commits)/w, float64(r.rows)/w
	per := float64(max(r.rows, 1))
	if r.rows == 0 {
		per = float64(max(r.commits, 1))
	}
	us := func(d time.Duration) float64 { return float64(d.Microseconds()) }
	f.oursPerRow, f.serverPerRow = us(r.cpu.ours)/per, us(r.cpu.server)/per
	f.oursPerCommit = us(r.cpu.ours) / float64(max(r.commits, 1))
	if r.cpu.ours > 0 {
		f.oursSysShare = r.cpu.oursSys.Seconds() / r.cpu.ours.Seconds()
	}
	f.bgPerCommit = us(r.cpu.background) / float64(max(r.commits, 1))
	f.serverCores = r.cpu.server.Seconds() / w
	f.walPerRow = float64(r.cpu.walBytes) / per
	if r.cpu.walSyncs > 0 {
		f.commitsPerSync = float64(r.commits) / float64(r.cpu.walSyncs)
	}
	return f
}

func line(c cell, r result) string {
	f := derive(r)
	s := fmt.Sprintf("%-44s commits/s=%-7.0f rows/s=%-7.0f p50=%-6.2fms p99=%-6.2fms ours=%.1fµs/row (%.0fµs/commit, sys %.0f%%) bg=%.1fµs/commit server=%.1fµs/row %.2f cores wal=%.0fB/row commits/fsync=%.1f load1=%.2f",
		c, f.commitsPerS, f.rowsPerS, ms(f.p50), ms(f.p99), f.oursPerRow, f.oursPerCommit, 100*f.oursSysShare, f.bgPerCommit, f.serverPerRow, f.serverCores, f.walPerRow, f.commitsPerSync, r.load1)
	if r.missed > 0 {
		s += fmt.Sprintf(" MISSED=%d", r.missed)
	}
	return s
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// reference is the index of the cell c is compared with in the same round: part a's
// trivial commit, part b's serialised trivial commit at the same client count, part c's
// trivial commit at the same client count.
func reference(cells []cell, c cell) int {
	want := map[string]kind{"a": kindCommit, "b": kindCommit1, "c": kindCommit}[c.part]
	for i, r := range cells {
		if r.part == c.part && r.kind == want && !r.async && (c.part == "a" || r.clients == c.clients) {
			return i
		}
	}
	return -1
}

// summary prints each cell's medians over the rounds, and its ratio to its reference taken
// round by round (then the median): part a CPU per row over the trivial commit's CPU per
// commit, parts b and c rows/s over the reference's commits/s.
func summary(cells []cell, results [][]result) {
	fmt.Println("\nmedians over rounds (ratio: per-round against the reference cell of the same round, then the median)")
	for i, c := range cells {
		fs := make([]figures, len(results[i]))
		for k, r := range results[i] {
			fs[k] = derive(r)
		}
		med := func(get func(figures) float64) float64 {
			v := make([]float64, len(fs))
			for k := range fs {
				v[k] = get(fs[k])
			}
			slices.Sort(v)
			return v[len(v)/2]
		}
		s := fmt.Sprintf("%-44s commits/s=%-7.0f rows/s=%-7.0f p99=%-6.2fms ours=%.1fµs/row (%.0fµs/commit, sys %.0f%%) server=%.1fµs/row %.2f cores wal=%.0fB/row commits/fsync=%.1f",
			c, med(func(f figures) float64 { return f.commitsPerS }), med(func(f figures) float64 { return f.rowsPerS }),
			med(func(f figures) float64 { return ms(f.p99) }), med(func(f figures) float64 { return f.oursPerRow }),
			med(func(f figures) float64 { return f.oursPerCommit }), med(func(f figures) float64 { return 100 * f.oursSysShare }),
			med(func(f figures) float64 { return f.serverPerRow }), med(func(f figures) float64 { return f.serverCores }),
			med(func(f figures) float64 { return f.walPerRow }), med(func(f figures) float64 { return f.commitsPerSync }))
		if ref := reference(cells, c); ref >= 0 && ref != i {
			ratios := make([]float64, 0, len(fs))
			for k, r := range results[ref] {
				if k >= len(fs) {
					break
				}
				rf := derive(r)
				if c.part == "a" {
					ratios = append(ratios, fs[k].oursPerRow/max(rf.oursPerCommit, 1e-9))
				} else {
					ratios = append(ratios, fs[k].rowsPerS/max(rf.commitsPerS, 1e-9))
				}
			}
			slices.Sort(ratios)
			what := "rows/s ÷ ref commits/s"
			if c.part == "a" {
				what = "µs/row ÷ ref µs/commit"
			}
			s += fmt.Sprintf("  ratio(%s)=%.2f", what, ratios[len(ratios)/2])
		}
		fmt.Println(s)
	}
}
