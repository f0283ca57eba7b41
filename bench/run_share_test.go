package bench

import "testing"

// Every client goes to exactly one worker; a probe scenario's client 0 has worker 0 alone.
func TestWorkerShare(t *testing.T) {
	specs := make([]ClientSpec, 10)
	for i := range specs {
		specs[i].Index = i
	}
	for _, c := range []struct {
		n     int
		probe bool
	}{{1, false}, {3, false}, {1, true}, {2, true}, {3, true}} {
		seen := map[int]int{}
		for k := range c.n {
			share := workerShare(specs, k, c.n, c.probe)
			if c.probe && c.n > 1 && k == 0 && (len(share) != 1 || share[0].Index != 0) {
				t.Errorf("%d workers, probe: worker 0 has %v, want the probe alone", c.n, share)
			}
			for _, s := range share {
				seen[s.Index]++
			}
		}
		for i := range specs {
			if seen[i] != 1 {
				t.Errorf("%d workers, probe %v: client %d in %d workers", c.n, c.probe, i, seen[i])
			}
		}
	}
}
