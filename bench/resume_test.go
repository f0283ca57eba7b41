package bench

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/parley-chat/parley/cluster/redistest"
)

var (
	parleyOnce sync.Once
	parleyBin  string
	parleyErr  error
)

// parleyBinary builds `parley` once for the tests that run nodes as subprocesses.
func parleyBinary(t *testing.T) string {
	t.Helper()
	parleyOnce.Do(func() {
		dir, err := os.MkdirTemp("", "parley-bench-")
		if err != nil {
			parleyErr = err
			return
		}
		parleyBin = filepath.Join(dir, "parley")
		out, err := exec.Command("go", "build", "-o", parleyBin, "github.com/parley-chat/parley/cmd/parley").CombinedOutput()
		if err != nil {
			parleyErr = errors.New("go build: " + err.Error() + "\n" + string(out))
		}
	})
	if parleyErr != nil {
		t.Fatal(parleyErr)
	}
	return parleyBin
}

// killRun is a fanout over two real `parley serve` subprocesses, one SIGKILLed mid-run.
func killRun(t *testing.T, noResume bool) (*Report, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var out strings.Builder
	rep, err := Run(ctx, Config{
		Scenario: "fanout", Connections: 40, Channels: 4, Senders: 4, Rate: 5,
		Duration: 8 * time.Second, Drain: 20 * time.Second, Procs: 1, Quiet: true, SampleEvery: time.Second,
		HeartBeat: 2 * time.Second, NoResume: noResume, ResumeBackoffMax: time.Second, Out: &out,
		Spawn: SpawnConfig{Nodes: 2, Executable: parleyBinary(t), RedisURL: "redis://" + redistest.Addr(),
			FaultNode: 1, FaultSignal: syscall.SIGKILL, FaultAt: 3 * time.Second},
	})
	t.Log(out.String())
	return rep, err
}

// Issue 27: a SIGKILLed node's clients resume on the survivor with since-seq, and the
// checker still finds nothing lost or doubled; without the resume the same run fails.
func TestSIGKILLedNodeClientsResume(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two nodes as subprocesses")
	}
	rep, err := killRun(t, false)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	rr := rep.Resume
	if rr == nil || rr.Resumed == 0 || rr.Drops == 0 {
		t.Fatalf("resume report %+v: want drops and resumes > 0", rr)
	}
	if rr.Unresumed != 0 {
		t.Errorf("%d clients did not resume", rr.Unresumed)
	}
	ck := rep.Check
	if ck.Lost != 0 || ck.Duplicated != 0 || ck.Gaps != 0 || ck.Reordered != 0 || ck.ReceiversDropped != 0 {
		t.Errorf("check %+v: want nothing lost, duplicated, reordered or missing, no receiver dropped", ck)
	}
	if ck.Acked == 0 || ck.Expected == 0 {
		t.Errorf("check %+v: nothing acknowledged or expected: the run proves nothing", ck)
	}
	// Until the kill, each channel's clients are on both nodes (spreadNode); after it, all
	// on the survivor.
	if rr.CrossNode == 0 {
		t.Errorf("no delivery crossed nodes (%d on the same node): the spread should put each channel's clients on both", rr.SameNode)
	}
	for i, c := range rep.Run.ServerCPU {
		if c <= 0 {
			t.Errorf("node %d cpu %g, want > 0 (the killed one's from its samples)", i+1, c)
		}
	}

	t.Run("fails without resume", func(t *testing.T) {
		rep, err := killRun(t, true)
		if !errors.Is(err, ErrFailed) {
			t.Fatalf("run without resume: err %v, want ErrFailed", err)
		}
		if rep.Resume.Resumed != 0 || rep.Run.Counts.Drops == 0 {
			t.Errorf("without resume: %d resumed, %d drops; want 0 and > 0", rep.Resume.Resumed, rep.Run.Counts.Drops)
		}
	})
}
