package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"syscall"
	"time"
)

// The reconnect storm (issue 27, ADR 0048): every client but one is on node 1 of two; node 1
// is SIGTERMed mid-run and all of its clients resume at once on node 2 with since-seq. Each
// must come back with nothing lost, while a probe client that was on node 2 all along (a
// sender and receiver on a channel of its own) measures what the storm costs a normal user.

// stormProbeP99 is the probe's send→deliver P99 the survivor must hold through the storm.
const stormProbeP99 = 100 * time.Millisecond

func init() {
	scenarios["storm"] = &scenario{
		name: "storm",
		about: "reconnect storm: C clients on node 1 of 2, node 1 SIGTERMed mid-run, all resume on node 2 with since-seq; " +
			"a probe client on node 2 is timed throughout (P99 ≤ 100 ms); starts its own nodes unless --url is given",
		defaults: func(c *Config) {
			setInt(&c.Connections, 10_001) // the probe and 10,000 clients of the node that dies
			setInt(&c.LoadNice, 10)        // the 10,000 clients stand for other machines (ADR 0048)
			setInt(&c.Channels, 101)       // channel 0 is the probe's alone
			setInt(&c.Senders, 11)         // the probe and 10 senders on the dying node
			setFloat(&c.Rate, 5)
			setDur(&c.Duration, 60*time.Second)
			setDur(&c.Warmup, 5*time.Second)
			setDur(&c.Drain, 60*time.Second)
			setFloat(&c.Ramp, 1000)
		},
		subscriptions: func(c *Config, i int, _ *rand.Rand) []int {
			if i == 0 || c.Channels < 2 {
				return []int{0}
			}
			return []int{1 + (i-1)%(c.Channels-1)}
		},
		place: func(c *Config, i int) int {
			if i == 0 {
				return 1 // the probe, on the survivor
			}
			return 0
		},
		probe:   true,
		load:    func(*Config) LoadModel { return LoadModel{} },
		analyse: analyseStorm,
	}
}

// stormSpawn gives a storm run without --url its two nodes and the SIGTERM of the first,
// a third into the measured time.
func stormSpawn(cfg *Config) {
	if cfg.Scenario != "storm" || len(cfg.URLs) > 0 || cfg.Spawn.Nodes > 0 {
		return
	}
	cfg.Spawn.Nodes = 2
	if cfg.Spawn.FaultSignal == 0 {
		cfg.Spawn.FaultNode, cfg.Spawn.FaultSignal = 0, syscall.SIGTERM
	}
	if cfg.Spawn.FaultAt == 0 {
		warm, dur := cfg.Warmup, cfg.Duration
		if warm == 0 {
			warm = 5 * time.Second
		}
		if dur == 0 {
			dur = 60 * time.Second
		}
		cfg.Spawn.FaultAt = warm + dur/3
	}
}

func analyseStorm(_ context.Context, r *runner, rep *Report) error {
	rr := rep.Resume
	if len(r.cfg.URLs) < 2 {
		return fmt.Errorf("storm needs two nodes, got %d", len(r.cfg.URLs))
	}
	if rr == nil || rr.Drops == 0 {
		rep.Failures = append(rep.Failures, "storm: no client was dropped (was the node signalled?)")
		return nil
	}
	// The target holds from the fault on; before it is the same run's reference.
	if rr.ProbeAfter.Count == 0 {
		rep.Failures = append(rep.Failures, "storm: the probe received nothing sent after the fault")
	} else if p99 := time.Duration(rr.ProbeAfter.P99 * float64(time.Millisecond)); p99 > stormProbeP99 {
		rep.Failures = append(rep.Failures, fmt.Sprintf("storm: the probe's send→deliver P99 from the fault on is %s, above %s (before it: %s)",
			fmtMs(rr.ProbeAfter.P99), stormProbeP99, fmtMs(rr.ProbeBefore.P99)))
	}
	return nil
}
