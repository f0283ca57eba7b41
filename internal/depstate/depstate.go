// Package depstate follows whether one dependency (PostgreSQL, Redis, Kafka) is reachable,
// as the components that use it see it, and logs the changes rather than every failure: one
// line when it goes down, one when it is back, and while it stays down a reminder at most
// every Config.Reminder. Every component that talks to the dependency reports into the same
// Tracker, so an outage is one "down" and one "back" line per node whatever the retry
// rates of the components (ADR 0028).
package depstate

import (
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Config configures one Tracker.
type Config struct {
	// Name is the dependency's name in log lines and in parley_dependency_up{dependency}.
	Name string
	// Reminder is the least time between two "still down" lines. Default 30 s.
	Reminder time.Duration
	// Now is the clock (tests). Default time.Now.
	Now func() time.Time
}

// Tracker is one dependency's state. The zero state is up: a node starts believing its
// dependencies work, and the first failure says otherwise. A nil *Tracker ignores every
// report, so components may be built without one.
type Tracker struct {
	cfg  Config
	log  *slog.Logger
	down atomic.Bool // read without the lock on the hot path of OK

	mu       sync.Mutex
	since    time.Time // when it went down
	lastLine time.Time // last down or still-down line
	failures int       // failures reported since it went down
	lastErr  error
}

// New returns a tracker for cfg.Name and, when reg is not nil, registers its
// parley_dependency_up gauge (1 up, 0 down).
func New(cfg Config, logger *slog.Logger, reg prometheus.Registerer) (*Tracker, error) {
	if cfg.Name == "" {
		return nil, fmt.Errorf("depstate: a tracker needs a name")
	}
	if cfg.Reminder == 0 {
		cfg.Reminder = 30 * time.Second
	}
	if cfg.Reminder < 0 {
		return nil, fmt.Errorf("depstate %s: reminder %s must be positive", cfg.Name, cfg.Reminder)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	t := &Tracker{cfg: cfg, log: logger.With("dependency", cfg.Name)}
	if reg != nil {
		g := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "parley_dependency_up",
			Help:        "1 while this node reaches the dependency, 0 while it does not (as its last use or check found it).",
			ConstLabels: prometheus.Labels{"dependency": cfg.Name},
		}, func() float64 {
			if t.Up() {
				return 1
			}
			return 0
		})
		if err := reg.Register(g); err != nil {
			return nil, fmt.Errorf("depstate %s: register metric: %w", cfg.Name, err)
		}
	}
	return t, nil
}

// Name is the dependency's name.
func (t *Tracker) Name() string { return t.cfg.Name }

// Up reports whether the last outcome reported was a success (true before any report).
func (t *Tracker) Up() bool { return t == nil || !t.down.Load() }

// Report records one outcome: nil is OK, anything else Fail.
func (t *Tracker) Report(err error) {
	if err == nil {
		t.OK()
		return
	}
	t.Fail(err)
}

// Fail records a failure to use the dependency. It logs when the dependency goes down and,
// while it stays down, at most once per Reminder.
func (t *Tracker) Fail(err error) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.cfg.Now()
	t.lastErr = err
	if !t.down.Load() {
		t.down.Store(true)
		t.since, t.lastLine, t.failures = now, now, 1
		t.log.Warn("dependency down", "err", err)
		return
	}
	t.failures++
	if now.Sub(t.lastLine) >= t.cfg.Reminder {
		t.lastLine = now
		t.log.Warn("dependency still down", "down_for", now.Sub(t.since).Round(time.Second).String(), "failures", t.failures, "err", err)
	}
}

// OK records a successful use. It logs when the dependency was down; otherwise it costs
// one atomic load.
func (t *Tracker) OK() {
	if t == nil || !t.down.Load() {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.down.Load() {
		return
	}
	t.down.Store(false)
	t.log.Info("dependency back", "down_for", t.cfg.Now().Sub(t.since).Round(time.Millisecond).String(), "failures", t.failures, "last_err", t.lastErr)
	t.lastErr = nil
}
