package persistence

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// ReplicaConfig configures the read replicas (ADR 0044). The zero value with no URLs is
// "no replicas": every read goes to the primary.
type ReplicaConfig struct {
	// URLs are libpq-style URLs of streaming replicas of the primary. Default: none.
	URLs []string
	// MaxLag is the replay lag (read from each replica itself) above which a replica leaves
	// rotation. Default 1 s.
	MaxLag time.Duration
	// CheckInterval is how often each replica's lag is read. Default 250 ms. A replica whose
	// last good check is older than two intervals serves nothing.
	CheckInterval time.Duration
	// MaxConns caps each replica's pool. Default 8 connections.
	MaxConns int32
}

// Replica defaults.
const (
	DefaultReplicaMaxLag        = time.Second
	DefaultReplicaCheckInterval = 250 * time.Millisecond
)

func (c ReplicaConfig) withDefaults() ReplicaConfig {
	if c.MaxLag == 0 {
		c.MaxLag = DefaultReplicaMaxLag
	}
	if c.CheckInterval == 0 {
		c.CheckInterval = DefaultReplicaCheckInterval
	}
	if c.MaxConns == 0 {
		c.MaxConns = 8
	}
	return c
}

// Replicas holds a pool per read replica, keeps each replica's lag current, and picks a
// replica in rotation for the reads the store lets a replica serve. It also remembers which
// users wrote recently: their reads stay on the primary (read-your-writes, ADR 0044).
type Replicas struct {
	cfg    ReplicaConfig
	logger *slog.Logger
	all    []*replica
	next   atomic.Uint64 // round robin

	mu      sync.Mutex
	writers map[int64]time.Time // user id → when their reads may leave the primary

	inRotation *prometheus.GaugeVec
	lag        *prometheus.GaugeVec
	reads      *prometheus.CounterVec
	dropped    *prometheus.CounterVec

	cancel context.CancelFunc
	done   chan struct{}
}

// replica is one replica's pool and its last measured state.
type replica struct {
	name string // host:port, for logs and metrics (never the credentials)
	pool *pgxpool.Pool

	mu      sync.Mutex
	ok      bool      // last check passed and the lag was within the bound
	checked time.Time // when ok was last set true by a check
	lag     time.Duration
	// caughtUp is the replica's clock at the last check that found everything received
	// replayed: it then had every commit older than that.
	caughtUp time.Time
}

// NewReplicas validates cfg, opens a pool per replica (a replica that cannot be reached
// yet is not an error: it joins rotation once its checks pass) and starts the lag checks.
// With no URLs it returns nil, nil: a nil *Replicas routes every read to the primary.
func NewReplicas(ctx context.Context, cfg ReplicaConfig, logger *slog.Logger, reg prometheus.Registerer) (*Replicas, error) {
	if len(cfg.URLs) == 0 {
		return nil, nil
	}
	cfg = cfg.withDefaults()
	switch {
	case cfg.MaxLag < 0:
		return nil, fmt.Errorf("replica max lag %s: want a positive duration", cfg.MaxLag)
	case cfg.CheckInterval < 10*time.Millisecond:
		return nil, fmt.Errorf("replica check interval %s: want at least 10ms", cfg.CheckInterval)
	case cfg.MaxConns < 1:
		return nil, fmt.Errorf("replica max conns must be positive, got %d", cfg.MaxConns)
	}
	r := &Replicas{cfg: cfg, logger: logger, writers: map[int64]time.Time{}, done: make(chan struct{}),
		inRotation: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "parley_db_replica_in_rotation",
			Help: "1 when the read replica serves reads, 0 when it lags beyond --replica-max-lag or fails."}, []string{"replica"}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "parley_db_replica_lag_seconds",
			Help: "Replay lag last read from the replica itself (-1: the check failed)."}, []string{"replica"}),
		reads: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "parley_db_routed_reads_total",
			Help: "Reads a replica may serve, by the pool that served them (primary or a replica)."}, []string{"pool"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "parley_db_replica_read_failures_total",
			Help: "Replica reads that failed and were retried on the primary."}, []string{"replica"}),
	}
	for i, u := range cfg.URLs {
		pcfg, err := pgxpool.ParseConfig(u)
		if err != nil {
			return nil, fmt.Errorf("database replica url %d: %w", i+1, err)
		}
		pcfg.MaxConns = cfg.MaxConns
		name := net.JoinHostPort(pcfg.ConnConfig.Host, strconv.Itoa(int(pcfg.ConnConfig.Port)))
		pool, err := pgxpool.NewWithConfig(ctx, pcfg) // connects lazily
		if err != nil {
			r.closePools()
			return nil, fmt.Errorf("database replica %s: %w", name, err)
		}
		r.all = append(r.all, &replica{name: name, pool: pool})
		r.inRotation.WithLabelValues(name).Set(0)
	}
	for _, c := range []prometheus.Collector{r.inRotation, r.lag, r.reads, r.dropped} {
		if err := reg.Register(c); err != nil {
			r.closePools()
			return nil, fmt.Errorf("replica metrics: %w", err)
		}
	}
	cctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r.cancel = cancel
	go r.run(cctx)
	return r, nil
}

// Close stops the checks and closes the replica pools.
func (r *Replicas) Close() {
	if r == nil {
		return
	}
	r.cancel()
	<-r.done
	r.closePools()
}

func (r *Replicas) closePools() {
	for _, rep := range r.all {
		rep.pool.Close()
	}
}

// writeWindow is how long a user's reads stay on the primary after their write. A replica
// serves only while its last check is at most 2 intervals old and showed a lag of at most
// MaxLag, so it has replayed every commit older than MaxLag + 2 intervals (ADR 0044).
func (r *Replicas) writeWindow() time.Duration { return r.cfg.MaxLag + 2*r.cfg.CheckInterval }

// NoteWrite records that userID has just written: for writeWindow their routed reads go
// to the primary. Safe on a nil *Replicas.
func (r *Replicas) NoteWrite(userID int64) {
	if r == nil || userID == 0 {
		return
	}
	until := time.Now().Add(r.writeWindow())
	r.mu.Lock()
	r.writers[userID] = until
	r.mu.Unlock()
}

func (r *Replicas) wroteRecently(userID int64, now time.Time) bool {
	r.mu.Lock()
	until, ok := r.writers[userID]
	r.mu.Unlock()
	return ok && now.Before(until)
}

// pick returns a replica in rotation for a read on behalf of userID (0: nobody in
// particular), or nil when the read belongs on the primary.
func (r *Replicas) pick(userID int64) *replica {
	if r == nil {
		return nil
	}
	now := time.Now()
	if userID != 0 && r.wroteRecently(userID, now) {
		return nil
	}
	n := len(r.all)
	start := int(r.next.Add(1) % uint64(n))
	for i := range n {
		rep := r.all[(start+i)%n]
		if rep.serves(now, 2*r.cfg.CheckInterval) {
			return rep
		}
	}
	return nil
}

func (rep *replica) serves(now time.Time, fresh time.Duration) bool {
	rep.mu.Lock()
	defer rep.mu.Unlock()
	return rep.ok && now.Sub(rep.checked) <= fresh
}

// counted records a routed read served by rep (nil: the primary).
func (r *Replicas) counted(rep *replica) {
	if r == nil {
		return
	}
	if rep == nil {
		r.reads.WithLabelValues("primary").Inc()
		return
	}
	r.reads.WithLabelValues(rep.name).Inc()
}

// failed takes rep out of rotation after a read failed on it; its next good check puts it
// back. A read canceled by its own caller says nothing about the replica.
func (r *Replicas) failed(ctx context.Context, rep *replica, err error) {
	if ctx.Err() != nil || errors.Is(err, context.Canceled) {
		return
	}
	r.dropped.WithLabelValues(rep.name).Inc()
	r.setState(rep, false, -1, err)
}

// InRotation reports how many replicas serve reads now (health pages, tests).
func (r *Replicas) InRotation() int {
	if r == nil {
		return 0
	}
	n, now := 0, time.Now()
	for _, rep := range r.all {
		if rep.serves(now, 2*r.cfg.CheckInterval) {
			n++
		}
	}
	return n
}
