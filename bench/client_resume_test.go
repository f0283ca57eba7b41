package bench

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestResumeNodeRoundRobinOverOthers(t *testing.T) {
	seen := map[int]bool{}
	for k := range 3 { // the first nodes-1 attempts: each other node once
		n := resumeNode(1, k, 0, 4)
		if n == 1 {
			t.Fatalf("attempt %d went back to the node it dropped from", k)
		}
		seen[n] = true
	}
	if len(seen) != 3 {
		t.Errorf("attempts visited %v, want the 3 other nodes", seen)
	}
	if n := resumeNode(1, 3, 0, 4); n != 1 {
		t.Errorf("attempt 4 of 4 nodes: node %d, want its own node 1 again", n)
	}
	// Two nodes: the other, then its own, alternately.
	for k, want := range []int{1, 0, 1, 0} {
		if n := resumeNode(0, k, 7, 2); n != want {
			t.Errorf("2 nodes, attempt %d: node %d, want %d", k, n, want)
		}
	}
	// The first attempts of a dead node's clients spread over the survivors.
	per := map[int]int{}
	for i := range 300 {
		per[resumeNode(0, 0, i, 4)]++
	}
	if per[1] != 100 || per[2] != 100 || per[3] != 100 {
		t.Errorf("first attempts per node %v, want 100 on each survivor", per)
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
