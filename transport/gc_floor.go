package transport

import (
	"errors"
	"log/slog"
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// GCFloorConfig configures a GCFloor.
type GCFloorConfig struct {
	// MinHeapGoal is the smallest heap goal the collector is given, in bytes. While the live
	// heap is below half of it, GOGC is raised so that the next collection starts near
	// MinHeapGoal instead of at twice the live heap. Required (> 0); `parley serve` uses
	// 64 MiB (--gc-min-heap).
	MinHeapGoal uint64
	// MaxPercent caps the GOGC the floor sets, so that a nearly empty heap does not get an
	// unbounded percentage. Default 1,000.
	MaxPercent int
	// LoadHeapGoal is the highest the floor rises to under load, in bytes: after each
	// collection the floor is what the process allocated per second since the one before,
	// times CycleInterval, kept between MinHeapGoal and LoadHeapGoal. An idle node (10,000
	// quiet connections) allocates little and stays at MinHeapGoal; a busy one is
	// collected about once per CycleInterval instead of many times a second (ADR 0052).
	// 0 or at most MinHeapGoal: a fixed floor of MinHeapGoal. `parley serve` uses 256 MiB
	// (--gc-load-heap).
	LoadHeapGoal uint64
	// CycleInterval is the time between collections the floor aims at under load.
	// Default 1 s.
	CycleInterval time.Duration
}

// GCFloor keeps Go's heap goal at or above a floor. A node under load with a small live heap
// (one hot channel: 6–8 MiB) otherwise collects 25–35 times a second: every cycle stops the
// world twice and takes a quarter of the processors while it marks, and on a machine shared
// with PostgreSQL those pauses land in the send path (ADR 0019). The percentage the process
// started with (GOGC, default 100) applies whenever the live heap is large enough for it to
// give a goal above the floor, so a large node collects exactly as before; GOMEMLIMIT, when
// set, still bounds the heap, because the runtime honours it whatever GOGC says.
//
// The floor is process-wide state (the runtime has one GOGC): start at most one per process,
// from main, not from a component that tests run several of.
type GCFloor struct {
	cfg     GCFloorConfig
	base    int
	log     *slog.Logger
	percent prometheus.Gauge
	goal    prometheus.Gauge
	sample  []metrics.Sample

	done chan struct{} // closed by Stop: ends the ticker

	mu         sync.Mutex
	stopped    bool
	lastAt     time.Time // when the floor last adjusted
	lastAllocs uint64    // cumulative bytes allocated then
	lastGoal   uint64    // the floor set then
	released   time.Time // when the ticker last gave memory back (releaseEvery)
	fell       bool      // the floor fell from at least twice MinHeapGoal back to it
}

// releaseEvery bounds how often the ticker gives a burst's memory back to the system.
const releaseEvery = 30 * time.Second

// gcSentinel is allocated anew after every collection; its cleanup runs once the collector
// has found it unreachable, which is how the floor hears about each cycle. It holds a pointer
// so that it is never packed into a shared tiny-allocation block.
type gcSentinel struct{ _ *int }

// StartGCFloor starts the floor. With GOGC=off it changes nothing (the operator chose).
func StartGCFloor(cfg GCFloorConfig, log *slog.Logger, reg prometheus.Registerer) (*GCFloor, error) {
	if cfg.MinHeapGoal == 0 {
		return nil, errors.New("gc floor: MinHeapGoal must be positive")
	}
	if cfg.MaxPercent == 0 {
		cfg.MaxPercent = 1000
	}
	if cfg.CycleInterval <= 0 {
		cfg.CycleInterval = time.Second
	}
	cfg.LoadHeapGoal = max(cfg.LoadHeapGoal, cfg.MinHeapGoal)
	base := debug.SetGCPercent(100)
	debug.SetGCPercent(base)
	f := &GCFloor{
		cfg: cfg, base: base, log: log,
		percent: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "parley_gc_percent",
			Help: "GOGC as set by the heap-goal floor after the last collection (the process's own GOGC when the live heap is large enough).",
		}),
		goal: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "parley_gc_heap_goal_floor_bytes",
			Help: "The heap goal the floor asked for after the last collection: --gc-min-heap when idle, up to --gc-load-heap under load.",
		}),
		sample: []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/gc/heap/allocs:bytes"}, {Name: "/gc/gogc:percent"}},
		lastAt: time.Now(),
		done:   make(chan struct{}),
	}
	for _, c := range []prometheus.Collector{f.percent, f.goal} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	f.goal.Set(float64(cfg.MinHeapGoal))
	f.percent.Set(float64(base))
	if base < 0 {
		log.Info("gc floor off: GOGC=off")
		return f, nil
	}
	// Nothing to adjust before the first collection has measured a live heap: a process
	// that starts with a burst (19,000 connections) must not meet a goal computed from
	// none, which once let its heap reach 400 MB before the first cycle.
	f.arm()
	if cfg.LoadHeapGoal > cfg.MinHeapGoal {
		go f.tick()
	}
	return f, nil
}

// tick adjusts the floor between collections too. Without it a floor raised by a burst
// (10,000 handshakes) would stand until the next collection, which an idle node reaches
// only by the runtime's forced one every 2 minutes; lowering GOGC starts that collection
// now when the heap is already past the lower goal.
func (f *GCFloor) tick() {
	t := time.NewTicker(f.cfg.CycleInterval)
	defer t.Stop()
	for {
		select {
		case <-f.done:
			return
		case <-t.C:
			if f.adjust(f.cfg.CycleInterval) && f.fellBack() {
				// The pages the burst's heap grew into stay resident until the scavenger,
				// which works at about 1 % of a CPU, returns them: an idle node would show
				// the burst in its RSS for a long while. Once per burst, now.
				debug.FreeOSMemory()
			}
		}
	}
}

// Stop ends the floor and gives the runtime back the percentage it started with. Safe to
// call more than once.
func (f *GCFloor) Stop() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopped {
		return
	}
	f.stopped = true
	close(f.done)
	if f.base >= 0 {
		debug.SetGCPercent(f.base)
	}
}

func (f *GCFloor) arm() {
	runtime.AddCleanup(&gcSentinel{}, func(f *GCFloor) { f.cycled() }, f)
}

// cycled runs after a collection (on the runtime's cleanup goroutine).
func (f *GCFloor) cycled() {
	if f.adjust(0) {
		f.arm()
	}
}

// adjust sets GOGC for the live heap the last collection left and the allocation rate
// since the last adjustment, unless that was less than quiet ago (the ticker leaves a
// node that is collected often to its collections); false once stopped.
func (f *GCFloor) adjust(quiet time.Duration) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopped {
		return false
	}
	now := time.Now()
	if now.Sub(f.lastAt) < quiet {
		return true
	}
	metrics.Read(f.sample)
	allocs := f.sample[1].Value.Uint64()
	goal := loadGoal(allocs-f.lastAllocs, now.Sub(f.lastAt), f.cfg)
	if f.lastGoal >= 2*f.cfg.MinHeapGoal && goal == f.cfg.MinHeapGoal {
		f.fell = true
	}
	f.lastAt, f.lastAllocs, f.lastGoal = now, allocs, goal
	p := floorPercent(f.sample[0].Value.Uint64(), goal, f.base, f.cfg.MaxPercent)
	if uint64(p) != f.sample[2].Value.Uint64() {
		debug.SetGCPercent(p) // cheap, but a change of goal is worth doing only when there is one
	}
	f.percent.Set(float64(p))
	f.goal.Set(float64(goal))
	return true
}

// fellBack reports, once, that the floor fell back to MinHeapGoal from a burst's height,
// at most once per releaseEvery.
func (f *GCFloor) fellBack() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.fell || time.Since(f.released) < releaseEvery {
		return false
	}
	f.fell, f.released = false, time.Now()
	return true
}

// loadGoal is the floor for a process that allocated allocated bytes in the last elapsed:
// enough heap for CycleInterval at that rate, between MinHeapGoal and LoadHeapGoal.
func loadGoal(allocated uint64, elapsed time.Duration, cfg GCFloorConfig) uint64 {
	if elapsed <= 0 || cfg.LoadHeapGoal <= cfg.MinHeapGoal {
		return cfg.MinHeapGoal
	}
	want := float64(allocated) / elapsed.Seconds() * cfg.CycleInterval.Seconds()
	return uint64(max(float64(cfg.MinHeapGoal), min(float64(cfg.LoadHeapGoal), want)))
}

// floorPercent is the GOGC that makes the heap goal, live × (1 + GOGC/100), at least
// minGoal, never below base and never above maxPercent. No live heap measured yet: base.
func floorPercent(live, minGoal uint64, base, maxPercent int) int {
	if live == 0 || live >= minGoal {
		return base
	}
	need := math.Ceil(float64(minGoal-live) * 100 / float64(live))
	return max(base, min(maxPercent, int(need)))
}
