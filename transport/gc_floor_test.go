package transport

import (
	"io"
	"log/slog"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func TestFloorPercent(t *testing.T) {
	const mib = 1 << 20
	for _, tc := range []struct {
		live, goal uint64
		base, want int
	}{
		{live: 8 * mib, goal: 64 * mib, base: 100, want: 700},  // goal 8 × 8 = 64
		{live: 30 * mib, goal: 64 * mib, base: 100, want: 114}, // ceil(34/30 × 100)
		{live: 40 * mib, goal: 64 * mib, base: 100, want: 100}, // 2 × 40 is above the floor already
		{live: 200 * mib, goal: 64 * mib, base: 100, want: 100},
		{live: 200 * mib, goal: 64 * mib, base: 50, want: 50}, // the operator's GOGC stands
		{live: 8 * mib, goal: 64 * mib, base: 2000, want: 2000},
		{live: 1, goal: 64 * mib, base: 100, want: 1000}, // capped
		{live: 0, goal: 64 * mib, base: 100, want: 100},  // nothing measured yet
	} {
		if got := floorPercent(tc.live, tc.goal, tc.base, 1000); got != tc.want {
			t.Errorf("floorPercent(live %d MiB, goal %d MiB, base %d) = %d, want %d",
				tc.live/mib, tc.goal/mib, tc.base, got, tc.want)
		}
	}
}

// A floor far above the test's live heap raises GOGC after the collections that follow its
// start, keeps it raised across cycles, and gives the runtime its own GOGC back on Stop.
func TestGCFloorRaisesGOGCUntilStopped(t *testing.T) {
	base := gogc()
	reg := prometheus.NewRegistry()
	f, err := StartGCFloor(GCFloorConfig{MinHeapGoal: 1 << 40, MaxPercent: 5000}, slog.New(slog.NewTextHandler(io.Discard, nil)), reg)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Stop()
	if base < 0 {
		t.Skip("GOGC=off: the floor changes nothing")
	}
	for range 3 { // the floor follows each cycle, not only the first
		debug.SetGCPercent(base)
		runtime.GC()
		waitFor(t, func() bool { return gogc() == 5000 }, "GOGC raised to the cap after a collection")
	}
	var m dto.Metric
	if err := f.percent.Write(&m); err != nil || m.GetGauge().GetValue() != 5000 {
		t.Fatalf("parley_gc_percent = %v (%v), want 5000", m.GetGauge().GetValue(), err)
	}
	f.Stop()
	f.Stop()
	if got := gogc(); got != base {
		t.Fatalf("GOGC after Stop = %d, want the process's %d", got, base)
	}
	runtime.GC()
	runtime.GC()
	if got := gogc(); got != base {
		t.Fatalf("GOGC after Stop and two collections = %d, want %d", got, base)
	}
	if _, err := StartGCFloor(GCFloorConfig{}, slog.Default(), reg); err == nil {
		t.Fatal("a floor of 0 bytes was accepted")
	}
}

func TestLoadGoal(t *testing.T) {
	const mib = 1 << 20
	cfg := GCFloorConfig{MinHeapGoal: 64 * mib, LoadHeapGoal: 256 * mib, CycleInterval: time.Second}
	for _, tc := range []struct {
		allocated uint64
		elapsed   time.Duration
		want      uint64
	}{
		{allocated: 10 * mib, elapsed: 2 * time.Minute, want: 64 * mib},          // idle: the forced collection every 2 min
		{allocated: 100 * mib, elapsed: 500 * time.Millisecond, want: 200 * mib}, // 200 MiB/s: a second of it
		{allocated: 64 * mib, elapsed: 100 * time.Millisecond, want: 256 * mib},  // 640 MiB/s: capped
		{allocated: 30 * mib, elapsed: time.Second, want: 64 * mib},              // never below the floor
		{allocated: 30 * mib, elapsed: 0, want: 64 * mib},
	} {
		if got := loadGoal(tc.allocated, tc.elapsed, cfg); got != tc.want {
			t.Errorf("loadGoal(%d MiB in %v) = %d MiB, want %d", tc.allocated/mib, tc.elapsed, got/mib, tc.want/mib)
		}
	}
	fixed := cfg
	fixed.LoadHeapGoal = 0
	if got := loadGoal(640*mib, time.Second, fixed); got != 64*mib {
		t.Errorf("without a load goal: %d MiB, want the fixed 64", got/mib)
	}
}

// Under a fast allocator the floor rises towards LoadHeapGoal, so that collections come
// about once per CycleInterval; when the allocation stops it falls back to MinHeapGoal
// within a few intervals, though nothing collects.
func TestGCFloorFollowsTheLoad(t *testing.T) {
	if gogc() < 0 {
		t.Skip("GOGC=off: the floor changes nothing")
	}
	const mib = 1 << 20
	reg := prometheus.NewRegistry()
	f, err := StartGCFloor(GCFloorConfig{MinHeapGoal: 4 * mib, LoadHeapGoal: 512 * mib, CycleInterval: 200 * time.Millisecond, MaxPercent: 1 << 20},
		slog.New(slog.DiscardHandler), reg)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Stop()
	goal := func() float64 {
		var m dto.Metric
		if err := f.goal.Write(&m); err != nil {
			t.Fatal(err)
		}
		return m.GetGauge().GetValue()
	}
	var sink []byte
	deadline := time.Now().Add(10 * time.Second)
	for goal() < 16*mib { // ≥ 80 MiB/s for a while: at 4 MiB it would be collected ~20×/s
		if time.Now().After(deadline) {
			t.Fatalf("floor %.0f MiB under a fast allocator, want ≥ 16", goal()/mib)
		}
		for range 64 {
			sink = make([]byte, 64<<10)
		}
		time.Sleep(time.Millisecond)
	}
	_ = sink
	// Idle: no collection comes by itself (the runtime forces one every 2 minutes); the
	// floor's ticker sees next to nothing allocated and lowers the goal.
	waitFor(t, func() bool { return goal() == 4*mib }, "the floor back at MinHeapGoal after an idle while, with no collection asked for")
}

func gogc() int {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return int(s[0].Value.Uint64())
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
