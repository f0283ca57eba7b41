package faults

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/parley-chat/parley/bench"
)

// TestSoak is issue 9's soak scenario at CI length: steady fan-out load with connection
// churn against one node for PARLEY_SOAK_DURATION (default 60 s; `parley bench soak` runs
// 10 minutes by default), sampling the node's RSS, goroutines and open files every 10 s.
// The harness fails the run when RSS, goroutines or open files climb (a leak) or when its
// checker finds a lost, duplicated or reordered delivery.
//
// The node is `parley serve` in a process of its own: in this test's process its RSS would
// include the harness's growing record of every delivery and, under -race, the detector's
// shadow memory for every churned connection's goroutines (+324 MiB/min at 60 connections,
// where the node alone stays flat).
func TestSoak(t *testing.T) {
	requireFaults(t)
	d := 60 * time.Second
	if v := os.Getenv("PARLEY_SOAK_DURATION"); v != "" {
		var err error
		if d, err = time.ParseDuration(v); err != nil {
			t.Fatalf("PARLEY_SOAK_DURATION: %v", err)
		}
	}
	e := newEnv(t)
	n := e.startChild(t, int(nextNodeID.Add(1)), "DATABASE_URL="+e.dbURL) // no fault here: the direct connection

	ctx, cancel := context.WithTimeout(context.Background(), d+2*time.Minute)
	defer cancel()
	rep, err := bench.Run(ctx, bench.Config{
		Scenario: "soak", URLs: []string{n.base}, DatabaseURL: e.dbURL, Quiet: true,
		Connections: 60, Channels: 6, Senders: 12, Rate: 5, ReconnectPerMin: 60,
		Duration: d, Warmup: 10 * time.Second, SampleEvery: 10 * time.Second, Drain: 10 * time.Second,
	})
	if rep != nil {
		t.Log(rep.Summary())
	}
	if err != nil {
		t.Fatalf("soak: %v", err)
	}
	if rep.Check.Failed() || len(rep.Failures) > 0 {
		t.Fatalf("soak failures: %v; check %+v", rep.Failures, rep.Check)
	}
	if rep.Soak == nil || len(rep.Soak.Nodes) != 1 || rep.Soak.Nodes[0].Samples < 3 {
		t.Fatalf("soak samples: %+v", rep.Soak)
	}
	if rep.Run.Counts.Reconnects == 0 || rep.Check.Acked == 0 {
		t.Fatalf("no churn or no load: %d reconnects, %d acknowledged", rep.Run.Counts.Reconnects, rep.Check.Acked)
	}
	for _, w := range rep.Warnings {
		t.Log("warning:", w)
	}
}
