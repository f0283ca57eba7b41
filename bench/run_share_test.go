package bench

import (
	"strconv"
	"syscall"
	"testing"
	"time"
)

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

// With the fault's moment known (spawned nodes), the probe's deliveries are split there,
// whether or not the probe's worker saw a drop of its own.
func TestProbeSplitAtTheFault(t *testing.T) {
	rs := newResumeStats(1)
	t0 := time.Now()
	rs.splitAt.Store(t0.UnixNano())
	rs.recordProbe(0, t0.Add(-time.Second), time.Millisecond)
	rs.recordProbe(0, t0.Add(time.Second), 2*time.Second)
	rs.recordProbe(0, t0.Add(2*time.Second), 3*time.Second)
	if b, a := rs.probeBefore.totals().TotalCount(), rs.probeAfter.totals().TotalCount(); b != 1 || a != 2 {
		t.Fatalf("split at the fault with no drop seen: %d before, %d after; want 1, 2", b, a)
	}
	cfg := &Config{Spawn: SpawnConfig{Nodes: 2, FaultSignal: syscall.SIGTERM, FaultAt: 25 * time.Second}}
	if got := probeSplit(cfg); got != 25*time.Second {
		t.Fatalf("probeSplit %v, want the fault's 25s", got)
	}
	if got := probeSplit(&Config{}); got != 0 {
		t.Fatalf("probeSplit without a spawned fault %v, want 0", got)
	}
}

// A worker started at a nice value runs at it (through nice(1), every thread), and one
// started at 0 runs at the harness's own.
func TestWorkerNice(t *testing.T) {
	// The "worker" reads its plan and reports its niceness as a fatal event's text.
	cfg := &Config{Executable: "/bin/sh", WorkerArgs: []string{"-c", `read plan; echo "{\"kind\":\"fatal\",\"error\":\"nice $(nice)\"}"`}}
	own, err := syscall.Getpriority(syscall.PRIO_PROCESS, 0)
	if err != nil {
		t.Fatal(err)
	}
	ownNice := 20 - own // the raw syscall returns 20 - nice
	for _, c := range []struct{ nice, want int }{{0, ownNice}, {7, min(ownNice+7, 19)}} {
		l, err := startLink(t.Context(), cfg, &Plan{Worker: 1}, true, c.nice)
		if err != nil {
			t.Fatal(err)
		}
		var got string
		for ev := range l.events {
			if ev.Kind == "fatal" {
				got = ev.Error
			}
		}
		if err := l.wait(); err != nil {
			t.Fatal(err)
		}
		if want := "nice " + strconv.Itoa(c.want); got != want {
			t.Errorf("started at nice %d: the worker says %q, want %q", c.nice, got, want)
		}
	}
}
