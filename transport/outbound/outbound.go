// Package outbound owns a node's path to its sockets: each session's bounded queue
// (Outbox), the writer goroutines that drain the queues, the flusher of read events and the
// heart-beats. The actors write to a session through actors.Sink, which Outbox implements;
// a transport (package ws) opens an Outbox over its socket, the Wire. Pushes never block: a
// queue that fills drops its session with ERROR slow-consumer (ADR 0030).
package outbound

import (
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Wire is a session's socket as its writer sees it; transport/ws implements it over a
// WebSocket connection.
type Wire interface {
	// WriteFrames writes each element of frames as one WebSocket text message, in order, in
	// as few system calls as it can, giving up at deadline. Only one goroutine calls it at a
	// time; frames are not retained.
	WriteFrames(frames [][]byte, deadline time.Time) error
	// Close closes the socket at once, so that a blocked WriteFrames and the read goroutine
	// return. It is safe to call concurrently with WriteFrames and more than once.
	Close() error
}

// TryWire is a Wire with a write that never waits (transport/ws implements it). Its
// sessions are written by the node's writer pool (writers.go).
type TryWire interface {
	Wire
	// CanTryWrite reports whether TryWriteFrames can ever write; if not, the session's
	// writes keep a goroutine per burst.
	CanTryWrite() bool
	// TryWriteFrames writes frames without waiting. accepted false means nothing was
	// written and WriteFrames must be used; otherwise every frame was taken, and when
	// flushed is false the rest waits inside the wire for the next WriteFrames.
	TryWriteFrames(frames [][]byte) (accepted, flushed bool, err error)
}

// Config configures a node's outbound path. Zero fields take the defaults.
type Config struct {
	// Queue is how many frames may wait for a session's socket before the session is
	// dropped with ERROR slow-consumer. Default 1,024 frames.
	Queue int
	// ReadEventDelay is how long a read event (someone's read marker moved) may wait in a
	// session's queue for the next frame that wakes the writer, so that they leave in one
	// system call (lazy.go). Default 2 s (ADR 0008); negative: written at once.
	ReadEventDelay time.Duration
	// WriteTimeout bounds one write to a socket; a peer that takes longer is dropped.
	// Default 10 s.
	WriteTimeout time.Duration
	// Writers is how many goroutines at most write to sockets that take writes without
	// waiting. Default GOMAXPROCS.
	Writers int
}

// Defaults of Config.
const (
	DefaultQueue          = 1024
	DefaultReadEventDelay = 2 * time.Second
	DefaultWriteTimeout   = 10 * time.Second
)

// MinQueue is the smallest Queue New accepts.
const MinQueue = 8

func (c Config) withDefaults() Config {
	if c.Queue == 0 {
		c.Queue = DefaultQueue
	}
	if c.ReadEventDelay == 0 {
		c.ReadEventDelay = DefaultReadEventDelay
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	return c
}

func (c Config) validate() error {
	var errs []error
	if c.Queue < MinQueue {
		errs = append(errs, fmt.Errorf("outbound: Queue (%d frames) must hold at least %d", c.Queue, MinQueue))
	}
	if c.WriteTimeout <= 0 {
		errs = append(errs, errors.New("outbound: WriteTimeout must be positive"))
	}
	if c.Writers < 0 {
		errs = append(errs, errors.New("outbound: Writers must not be negative"))
	}
	return errors.Join(errs...)
}

// Scheduler is a node's socket scheduling, shared by every session's Outbox: the writer
// pool, the read-event flusher and the slow-consumer count.
type Scheduler struct {
	cfg  Config
	met  *metrics
	lazy *lazyFlusher // nil when Config.ReadEventDelay < 0
	pool *writerPool
}

// New validates cfg and returns the node's Scheduler; its metrics go to reg (nil: kept but
// not exported).
func New(cfg Config, reg prometheus.Registerer) (*Scheduler, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	met, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	s := &Scheduler{cfg: cfg, met: met, pool: newWriterPool(cfg.Writers)}
	if cfg.ReadEventDelay > 0 {
		s.lazy = newLazyFlusher(cfg.ReadEventDelay)
	}
	return s, nil
}

// Config returns the effective configuration (defaults applied).
func (s *Scheduler) Config() Config { return s.cfg }

// Open returns a session's queue to wire. A TryWire that can try writes is written by the
// writer pool; any other wire by a goroutine per burst of frames.
func (s *Scheduler) Open(wire Wire) *Outbox {
	return newOutbox(wire, s.cfg.Queue, s.cfg.WriteTimeout, s.met, s.lazy, s.pool)
}

type metrics struct {
	slowConsumers prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		slowConsumers: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_slow_consumer_disconnects_total", Help: "Sessions dropped because their outbound queue filled."}),
	}
	if reg != nil {
		if err := reg.Register(m.slowConsumers); err != nil {
			return nil, fmt.Errorf("outbound: metrics: %w", err)
		}
	}
	return m, nil
}
