package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestSummariseCountsOnlyTheWindowsMessages(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	recs := []probeRecord{
		{sent: at(-1), acked: at(0), delivered: at(1)},      // before the window
		{sent: at(0), acked: at(2), delivered: at(4)},       // 4 ms
		{sent: at(10), acked: at(12), delivered: at(12)},    // 2 ms
		{sent: at(20), acked: at(22), delivered: at(30)},    // 10 ms
		{sent: at(30), err: "rate_limited"},                 // refused
		{sent: at(40), err: "timeout"},                      // no answer
		{sent: at(50), acked: at(51)},                       // acknowledged, never delivered
		{sent: at(60)},                                      // in flight: neither
		{sent: at(100), acked: at(101), delivered: at(102)}, // at the window's end: excluded
	}
	w := summarise(recs, at(0), at(100))
	if w.Sent != 7 || w.Acked != 4 || w.Delivered != 3 || w.Errors != 2 || w.Missing != 1 {
		t.Fatalf("counts: %+v", w)
	}
	if w.ErrorCodes["rate_limited"] != 1 || w.ErrorCodes["timeout"] != 1 {
		t.Fatalf("error codes: %v", w.ErrorCodes)
	}
	// Nearest rank over 2, 4, 10 ms: P50 is the 2nd, P99 the 3rd.
	if w.P50ms != 4 || w.P99ms != 10 || w.MaxMs != 10 {
		t.Fatalf("quantiles: P50 %v P99 %v max %v", w.P50ms, w.P99ms, w.MaxMs)
	}
}

func TestQuantileNearestRank(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 50 * time.Millisecond}, {0.99, 99 * time.Millisecond}, {1, 100 * time.Millisecond}, {0, time.Millisecond}} {
		if got := quantile(d, c.q); got != c.want {
			t.Errorf("quantile(%v) = %v, want %v", c.q, got, c.want)
		}
	}
	if quantile(nil, 0.5) != 0 {
		t.Error("quantile of nothing must be 0")
	}
}

func TestPoolMergesRoundsBeforeTheQuantiles(t *testing.T) {
	t0 := time.Unix(0, 0)
	mk := func(lat ...int) window {
		var recs []probeRecord
		for i, l := range lat {
			s := t0.Add(time.Duration(i) * time.Second)
			recs = append(recs, probeRecord{sent: s, acked: s, delivered: s.Add(time.Duration(l) * time.Millisecond)})
		}
		return summarise(recs, t0, t0.Add(time.Hour))
	}
	p := pool([]window{mk(1, 1, 1), mk(100, 100, 100, 100)})
	if p.Sent != 7 || p.Delivered != 7 {
		t.Fatalf("counts: %+v", p)
	}
	// The median of the seven, not the mean of the two medians.
	if p.P50ms != 100 {
		t.Fatalf("pooled P50 %v, want 100", p.P50ms)
	}
}

func TestRatio(t *testing.T) {
	if r := ratio(56, 1.7); r != 32.94 {
		t.Errorf("ratio(56, 1.7) = %v", r)
	}
	if ratio(5, 0) != 0 || ratio(0, 5) != 0 {
		t.Error("a ratio with a missing side must be 0 (shown as –)")
	}
}

func TestSummariseOutcomeShowsRangesAndNotesOnce(t *testing.T) {
	rounds := []roundResult{
		{Outcome: []figure{{"upgraded", 2000}, {"open after 15s", 2000}}, Notes: []string{"no rate_limited"}},
		{Outcome: []figure{{"upgraded", 2000}, {"open after 15s", 1500.25}}, Notes: []string{"no rate_limited"}},
		{Outcome: []figure{{"upgraded", 2000}, {"open after 15s", 12000}, {"upgrade 503", 3}}},
	}
	got := summariseOutcome(rounds)
	want := "upgraded 2,000; open after 15s 1,500.2–12,000; upgrade 503 3; no rate_limited"
	if got != want {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
}

func TestNum(t *testing.T) {
	for v, want := range map[float64]string{0: "0", 999: "999", 1000: "1,000", 1234567.89: "1,234,567.9", -4100: "-4,100", 0.25: "0.2"} {
		if got := num(v); got != want {
			t.Errorf("num(%v) = %q, want %q", v, got, want)
		}
	}
}

func TestTableHasOneRowPerAttack(t *testing.T) {
	t0 := time.Unix(0, 0)
	recs := func(from time.Time, lat ...int) []probeRecord {
		var rs []probeRecord
		for i, l := range lat {
			s := from.Add(time.Duration(i) * time.Millisecond)
			r := probeRecord{sent: s, acked: s, delivered: s.Add(time.Duration(l) * time.Millisecond)}
			if l < 0 {
				r = probeRecord{sent: s, err: "timeout"}
			}
			rs = append(rs, r)
		}
		return rs
	}
	base := summarise(recs(t0, 2, 2, 4), t0, t0.Add(time.Second))
	att := summarise(recs(t0.Add(time.Second), 50, 60, -1, 70), t0.Add(time.Second), t0.Add(2*time.Second))
	a := attackResult{Name: "search", Promise: "p", Rounds: []roundResult{{
		Pair: 1, Baseline: base, Attacked: att, Outcome: []figure{{"200/s", 554.3}},
	}}}
	a.finish()
	rep := &report{Date: "d", Commit: "c", Machine: "m", Node: "n", Command: "cmd",
		Attacks: []attackResult{a, {Name: "dev-login", Skipped: "dev mode is off on the node"}}}
	var b bytes.Buffer
	writeTable(&b, rep)
	out := b.String()
	for _, want := range []string{
		"| search | 200/s 554.3 | 2.0 → 60.0 | ×30.00 | 4.0 → 70.0 | ×17.50 | 4 / 1 (timeout 1) / 0 |",
		"| dev-login | skipped: dev mode is off on the node |",
		"search: 2.0 → 60.0",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	var j bytes.Buffer
	if err := writeJSON(&j, rep); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(j.String(), `"p50Ratio": 30`) {
		t.Errorf("JSON lacks the ratio:\n%s", j.String())
	}
}
