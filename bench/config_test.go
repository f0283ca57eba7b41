package bench

import (
	"encoding/xml"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseAddrRange(t *testing.T) {
	got, err := ParseAddrRange("127.0.0.2-127.0.0.4, 10.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"127.0.0.2", "127.0.0.3", "127.0.0.4", "10.0.0.1"}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for i := range want {
		if got[i] != netip.MustParseAddr(want[i]) {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
	for _, bad := range []string{"", "127.0.0.9-127.0.0.2", "x", "127.0.0.1-::1"} {
		if _, err := ParseAddrRange(bad); err == nil {
			t.Errorf("ParseAddrRange(%q) accepted", bad)
		}
	}
	d, err := ParseDurations("0,5ms, 50ms")
	if err != nil || len(d) != 3 || d[1] != 5*time.Millisecond || d[2] != 50*time.Millisecond {
		t.Fatalf("ParseDurations: %v %v", d, err)
	}
}

func TestConfigDefaultsAndValidation(t *testing.T) {
	for _, name := range ScenarioNames() {
		c, sc, err := Config{Scenario: name}.withDefaults()
		if err != nil {
			t.Errorf("%s defaults invalid: %v", name, err)
			continue
		}
		if sc.name != name || c.Procs != 1 || c.JWTSecret == "" {
			t.Errorf("%s: %+v", name, c)
		}
	}
	c, _, err := Config{Scenario: "users", Connections: 40_000, SourceAddrs: []netip.Addr{netip.MustParseAddr("127.0.0.2")}}.withDefaults()
	if err != nil || c.Procs != 3 || c.SubsPerConn != 20 || c.Channels != 4000 {
		t.Fatalf("users 40k: procs %d subs %d channels %d: %v", c.Procs, c.SubsPerConn, c.Channels, err)
	}
	cases := map[string]Config{
		"unknown scenario":    {Scenario: "nope"},
		"rate over the limit": {Scenario: "fanout", Rate: 50},
		"senders > conns":     {Scenario: "fanout", Connections: 2, Senders: 3},
		"too many per proc":   {Scenario: "connections", Connections: 40_000, Procs: 1, SourceAddrs: []netip.Addr{netip.MustParseAddr("127.0.0.2")}},
		"no source addrs":     {Scenario: "connections", Connections: 40_000},
		"bad url":             {Scenario: "fanout", URLs: []string{"127.0.0.1:9000"}},
		"short secret":        {Scenario: "fanout", JWTSecret: "short"},
	}
	for name, c := range cases {
		if _, _, err := c.withDefaults(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, _, err := (Config{Scenario: "fanout", Rate: 50, AllowOverRate: true}).withDefaults(); err != nil {
		t.Errorf("--allow-over-rate: %v", err)
	}
}

func TestTimestampInversions(t *testing.T) {
	id := func(ms, node, seq int64) int64 { return ms<<idTimeShift | node<<idSeqBits | seq }
	// In seq order: node 1 at 100 ms, node 2 at 99 ms (committed later), node 1 at 101 ms.
	order := [][]int64{{id(100, 1, 0), id(99, 2, 0), id(101, 1, 0)}}
	r := timestampInversions(order, []int64{1, 2}, 0)
	if r.Adjacent != 1 || r.Pairs != 1 {
		t.Fatalf("no skew: %+v", r)
	}
	// Node 2 runs 5 ms ahead: its 99 becomes 104, after node 1's 101.
	r = timestampInversions(order, []int64{1, 2}, 5*time.Millisecond)
	if r.Adjacent != 1 || r.Pairs != 1 {
		t.Fatalf("skewed: %+v", r)
	}
	r = timestampInversions([][]int64{{id(1, 1, 0), id(2, 2, 0), id(3, 1, 0)}}, []int64{1, 2}, 0)
	if r.Adjacent != 0 || r.Pairs != 0 || r.AdjacentRate != 0 {
		t.Fatalf("in order: %+v", r)
	}
	if n := countInversions([]int64{5, 4, 3, 2, 1}); n != 10 {
		t.Fatalf("countInversions = %d", n)
	}
}

func TestPlotSVG(t *testing.T) {
	rep := &Report{Scenario: "fanout", Date: "2026-11-27T00:00:00Z"}
	for s := 1; s <= 12; s++ {
		phase := "run"
		if s <= 2 {
			phase = "warmup"
		}
		rep.Series = append(rep.Series, SeriesPoint{Second: s, Phase: phase, Counts: Counts{Sends: 100, Deliveries: 1000},
			Deliver: Percentiles{Count: 1000, P50: 0.8, P95: 2, P99: 4.5, P999: 9, Max: 30}})
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "plot.svg")
	if err := writePlot(p, rep); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := xml.Unmarshal(b, new(struct{})); err != nil {
		t.Fatalf("not well-formed XML: %v", err)
	}
	for i, line := range strings.Split(string(b), "\n") {
		if strings.Count(line, "font-size=") > 1 {
			t.Fatalf("line %d repeats an attribute: %s", i+1, line)
		}
	}
	if n := strings.Count(string(b), "<polyline"); n < 7 {
		t.Fatalf("%d polylines, want the 5 percentiles, 2 rates and axes", n)
	}
	if err := writePlot(filepath.Join(dir, "plot.png"), rep); err == nil {
		t.Fatal("png accepted")
	}
}

func TestSamplePicksDistinctUniformly(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const n, k, rounds = 50, 20, 20000
	counts := make([]int, n)
	for range rounds {
		got := sample(rng, n, k)
		if len(got) != k {
			t.Fatalf("sample(%d, %d) returned %d ints", n, k, len(got))
		}
		seen := map[int]bool{}
		for _, v := range got {
			if v < 0 || v >= n || seen[v] {
				t.Fatalf("sample(%d, %d) = %v: out of range or repeated", n, k, got)
			}
			seen[v] = true
			counts[v]++
		}
	}
	want := float64(rounds*k) / n // 8,000 per value
	for v, c := range counts {
		if d := float64(c) - want; d > 0.05*want || d < -0.05*want {
			t.Fatalf("value %d picked %d times, want about %.0f: not uniform", v, c, want)
		}
	}
	if got := sample(rng, 3, 5); len(got) != 3 {
		t.Fatalf("sample(3, 5) = %v, want all 3", got)
	}
}
