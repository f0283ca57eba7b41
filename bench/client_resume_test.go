package bench

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestResumeNodeRoundRobinOverOthers(t *testing.T) {
	seen := map[int]bool{}
	for k := range 6 {
		n := resumeNode(1, k, 0, 4)
		if n == 1 {
			t.Fatalf("attempt %d went back to the dead node", k)
		}
		seen[n] = true
	}
	if len(seen) != 3 {
		t.Errorf("attempts visited %v, want the 3 other nodes", seen)
	}
	if resumeNode(0, 0, 5, 1) != 0 {
		t.Error("one node: resume on it")
	}
}

func TestBackoffJitterAndCap(t *testing.T) {
	p := ResumePolicy{Base: 100 * time.Millisecond, Max: time.Second}.withDefaults()
	rng := rand.New(rand.NewPCG(1, 2))
	for k := range 10 {
		limit := min(p.Base<<k, p.Max)
		var lo, hi time.Duration = time.Hour, 0
		for range 200 {
			d := p.backoff(k, rng)
			if d < 0 || d > limit {
				t.Fatalf("attempt %d: backoff %s outside [0, %s]", k, d, limit)
			}
			lo, hi = min(lo, d), max(hi, d)
		}
		if hi-lo < limit/2 { // full jitter: the waits spread over the range
			t.Errorf("attempt %d: backoffs within [%s, %s] of [0, %s]: no jitter", k, lo, hi, limit)
		}
	}
}
