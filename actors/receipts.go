package actors

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/parley-chat/parley/persistence"
)

// ReceiptsConfig configures a node's read-receipt aggregator and its fallback.
type ReceiptsConfig struct {
	// FlushInterval is how often coalesced markers go to Kafka. Default 100 ms.
	FlushInterval time.Duration
	// FlushSize flushes early once this many distinct (user, channel) markers wait.
	// Default 500 entries.
	FlushSize int
	// SendTimeout bounds one Kafka write of the aggregator or the fallback. Default 10 s.
	SendTimeout time.Duration
	// RetryInterval is how often the fallback retries Kafka. Default 5 s.
	RetryInterval time.Duration
	// FallbackMaxKeys bounds the distinct (user, channel) markers the fallback holds in
	// memory; past it, markers live only in Redis (every fallback entry is parked there
	// anyway). Default 100,000 entries (about 10 MB).
	FallbackMaxKeys int
	// RedisTimeout bounds one parking call to Redis. Default 2 s.
	RedisTimeout time.Duration
	// ParkedPage is how many parked markers one re-send reads and writes. Default 1,000.
	ParkedPage int
	// ResendAfter is how old a parked marker must be before a re-send takes it. Every
	// marker MarkRead advances is parked at once and unparked after its flush, so a young
	// one is normally still on its way to Kafka from a live node's aggregator: re-sending
	// it would only duplicate. It is compared with this node's clock, so clocks that
	// differ between nodes by more than it cause harmless duplicates, not losses.
	// Default 2 s (20 flush intervals).
	ResendAfter time.Duration
}

func (c ReceiptsConfig) withDefaults() ReceiptsConfig {
	if c.FlushInterval == 0 {
		c.FlushInterval = 100 * time.Millisecond
	}
	if c.FlushSize == 0 {
		c.FlushSize = 500
	}
	if c.SendTimeout == 0 {
		c.SendTimeout = 10 * time.Second
	}
	if c.RetryInterval == 0 {
		c.RetryInterval = 5 * time.Second
	}
	if c.FallbackMaxKeys == 0 {
		c.FallbackMaxKeys = 100_000
	}
	if c.RedisTimeout == 0 {
		c.RedisTimeout = 2 * time.Second
	}
	if c.ParkedPage == 0 {
		c.ParkedPage = 1000
	}
	if c.ResendAfter == 0 {
		c.ResendAfter = 2 * time.Second
	}
	return c
}

func (c *ReceiptsConfig) validate() error {
	if c.FlushInterval < time.Millisecond || c.SendTimeout <= 0 || c.RetryInterval < time.Millisecond || c.RedisTimeout <= 0 || c.ResendAfter < 0 {
		return fmt.Errorf("receipts: flush interval %s, send timeout %s, retry interval %s, redis timeout %s, resend after %s must be positive",
			c.FlushInterval, c.SendTimeout, c.RetryInterval, c.RedisTimeout, c.ResendAfter)
	}
	if c.FlushSize < 1 || c.FallbackMaxKeys < 1 || c.ParkedPage < 1 {
		return fmt.Errorf("receipts: flush size %d, fallback max keys %d, parked page %d must be positive",
			c.FlushSize, c.FallbackMaxKeys, c.ParkedPage)
	}
	return nil
}

// ReceiptMarkers is the Redis read-marker cache (cluster.Markers).
type ReceiptMarkers interface {
	// SetMax raises the marker to seq unless it is at or above it, and returns its value
	// after the call and whether the call advanced it. A marker it advances must be parked
	// as well (ReceiptParking), in the same atomic step: that is what makes a crash of
	// this node before the next flush lose nothing.
	SetMax(ctx context.Context, userID, channelID, seq int64) (newValue int64, advanced bool, err error)
	// SetMaxThread is SetMax for userID's marker in the thread of rootID (ADR 0040).
	SetMaxThread(ctx context.Context, userID, channelID, rootID, seq int64) (newValue int64, advanced bool, err error)
}

// ReceiptSender writes markers to Kafka and returns once the broker has acknowledged all of
// them (persistence.ReceiptProducer).
type ReceiptSender interface {
	SendReceipts(ctx context.Context, markers []persistence.ReadMarker) error
}

// ReceiptParking is where markers Kafka has not acknowledged wait, shared by the nodes and
// surviving them (cluster.Markers): SetMax parks each marker it advances, the fallback
// parks what Kafka refused, and a successful Kafka write unparks. Parking max-merges;
// unparking removes a key only if no newer value was parked since.
type ReceiptParking interface {
	ParkReceipts(ctx context.Context, markers []persistence.ReadMarker) (parked int64, err error)
	ParkedReceipts(ctx context.Context, cursor uint64, count int) ([]persistence.ReadMarker, uint64, error)
	UnparkReceipts(ctx context.Context, markers []persistence.ReadMarker) error
}

// ReceiptsDeps are the collaborators. Markers, Kafka and Parking are required (Markers
// and Parking are the same *cluster.Markers in the server).
type ReceiptsDeps struct {
	Markers ReceiptMarkers
	Kafka   ReceiptSender
	Parking ReceiptParking
	// Actors is the node's actor system, shared with its System. Nil: Receipts makes one
	// of its own and shuts it down with itself.
	Actors *Actors
	// Logger nil: discard.
	Logger *slog.Logger
	// Registerer nil: metrics are kept but not exported.
	Registerer prometheus.Registerer
}

// ErrReceiptsStopped is returned by Record before Start and after Shutdown.
var ErrReceiptsStopped = errors.New("read receipts are not running")

// Receipts is a node's read-receipt pipeline up to Kafka: MarkRead max-merges a marker into
// Redis, which parks it in the same script, and, when it advanced, hands it to the receipt
// aggregator actor, which coalesces per (user, channel), flushes to Kafka off the actor and
// unparks what Kafka acknowledged. Failed flushes go to the aggregator's supervised
// fallback child, which parks them in Redis at once and retries Kafka every RetryInterval.
// Every node's fallback re-sends parked markers older than ResendAfter (at start-up and
// every RetryInterval), so neither a Kafka outage nor a node crash, during one or not,
// loses a marker.
type Receipts struct {
	cfg  ReceiptsConfig
	deps ReceiptsDeps
	log  *slog.Logger
	met  *receiptMetrics

	as    *actor.ActorSystem
	ownAS bool // as was made by NewReceipts: Shutdown stops it
	state *aggregatorState

	mu      sync.RWMutex // orders Record's sends before Shutdown's drain
	pid     *actor.PID
	stopped bool

	ctx    context.Context // ends background work on Shutdown
	cancel context.CancelFunc
	work   sync.WaitGroup

	// fallbackHook sees every message of the fallback first; nil in production. Tests set
	// it before Start to make the fallback panic and watch its supervisor restart it.
	fallbackHook func(msg any)
}

// NewReceipts validates cfg and deps; Start runs it.
func NewReceipts(cfg ReceiptsConfig, deps ReceiptsDeps) (*Receipts, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if deps.Markers == nil || deps.Kafka == nil || deps.Parking == nil {
		return nil, errors.New("receipts: Markers, Kafka and Parking are required")
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	met, err := newReceiptMetrics(deps.Registerer)
	if err != nil {
		return nil, fmt.Errorf("receipts: %w", err)
	}
	log := deps.Logger.With("component", "receipts")
	r := &Receipts{cfg: cfg, deps: deps, log: log, met: met, state: newAggregatorState()}
	if deps.Actors != nil {
		r.as = deps.Actors.as
	} else {
		r.as, r.ownAS = newActorSystem(log), true
	}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	return r, nil
}

// Start spawns the aggregator; its fallback starts by re-sending what any node parked.
func (r *Receipts) Start(context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.pid != nil || r.stopped {
		return errors.New("receipts: already started")
	}
	r.pid = r.as.Root.Spawn(actor.PropsFromProducer(func() actor.Actor {
		return &receiptAggregator{r: r, st: r.state}
	}, actor.WithSupervisor(receiptSupervisor())))
	return nil
}

// MarkRead is the read path of REST PUT /api/channels/{cid}/read and STOMP
// /app/message.read (it implements api.ReadMarkers and actors.ReadMarks): the marker is
// max-merged into Redis and, if that advanced it, recorded for PostgreSQL. It returns the
// marker after the call. When Redis fails the event is still recorded (every later stage
// max-merges too) and seq is returned.
func (r *Receipts) MarkRead(ctx context.Context, userID, channelID, seq int64) (int64, error) {
	return r.mark(ctx, receiptKey{userID, channelID, 0}, seq)
}

// MarkThreadRead is MarkRead for userID's marker in the thread of rootID (PUT
// /api/messages/{mid}/thread-read): the same Redis max-merge and parking, the same
// aggregator, Kafka topic, persister and fallback, with the thread in the marker's key
// (ADR 0040).
func (r *Receipts) MarkThreadRead(ctx context.Context, userID, channelID, rootID, seq int64) (int64, error) {
	if rootID <= 0 {
		return 0, fmt.Errorf("receipts: invalid thread %d", rootID)
	}
	return r.mark(ctx, receiptKey{userID, channelID, rootID}, seq)
}

func (r *Receipts) mark(ctx context.Context, k receiptKey, seq int64) (int64, error) {
	v, advanced, err := r.deps.Markers.SetMaxThread(ctx, k.user, k.channel, k.thread, seq)
	if err != nil {
		r.log.Warn("read marker not cached in Redis, recording it anyway", "err", err, "user", k.user, "channel", k.channel, "thread", k.thread)
		v, advanced = seq, true
	}
	if advanced {
		if err := r.record(k, v); err != nil {
			return v, err
		}
	}
	return v, nil
}

// Record hands a marker to the aggregator without blocking. Callers that did not
// max-merge it into Redis first should use MarkRead.
func (r *Receipts) Record(userID, channelID, seq int64) error {
	return r.record(receiptKey{userID, channelID, 0}, seq)
}

// RecordThread is Record for a thread marker.
func (r *Receipts) RecordThread(userID, channelID, rootID, seq int64) error {
	return r.record(receiptKey{userID, channelID, rootID}, seq)
}

func (r *Receipts) record(k receiptKey, seq int64) error {
	if k.user <= 0 || k.channel <= 0 || k.thread < 0 || seq < 0 {
		return fmt.Errorf("receipts: invalid marker user %d channel %d thread %d seq %d", k.user, k.channel, k.thread, seq)
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.pid == nil || r.stopped {
		return ErrReceiptsStopped
	}
	r.met.recorded.Inc()
	r.as.Root.Send(r.pid, &receiptRecord{key: k, entry: receiptEntry{seq: seq, at: time.Now()}})
	return nil
}

// Shutdown stops taking markers, flushes what is pending to Kafka and parks in Redis what
// Kafka does not take, then stops the actors. If ctx ends first it returns ctx's error:
// markers the fallback had already parked are safe, the rest of the drain is abandoned.
func (r *Receipts) Shutdown(ctx context.Context) error {
	r.mu.Lock()
	pid, already := r.pid, r.stopped
	r.stopped = true
	r.mu.Unlock()
	if already {
		return nil
	}
	var err error
	if pid != nil {
		done := make(chan error, 1)
		deadline, _ := ctx.Deadline()
		r.as.Root.Send(pid, &receiptDrain{deadline: deadline, done: done})
		select {
		case err = <-done:
		case <-ctx.Done():
			err = fmt.Errorf("receipts: drain: %w", ctx.Err())
		}
		r.as.Root.Stop(pid)
	}
	r.cancel()
	r.work.Wait()
	if r.ownAS {
		r.as.Shutdown()
	}
	return err
}

// abort stops the actors without draining: what a crash leaves behind, for tests.
func (r *Receipts) abort() {
	r.mu.Lock()
	pid := r.pid
	r.stopped = true
	r.mu.Unlock()
	if pid != nil {
		r.as.Root.Stop(pid)
	}
	r.cancel()
	r.work.Wait()
	if r.ownAS {
		r.as.Shutdown()
	}
}

// goWork runs fn off the actors, tracked so Shutdown waits for it.
func (r *Receipts) goWork(fn func(ctx context.Context)) {
	r.work.Add(1)
	go func() {
		defer r.work.Done()
		fn(r.ctx)
	}()
}

// tick sends msg to pid every d until the returned stop is called. Actors use it instead
// of ReceiveTimeout, which races under -race.
func (r *Receipts) tick(pid *actor.PID, d time.Duration, msg any) (stop func()) {
	done := make(chan struct{})
	r.work.Add(1)
	go func() {
		defer r.work.Done()
		t := time.NewTicker(d)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-r.ctx.Done():
				return
			case <-t.C:
				r.as.Root.Send(pid, msg)
			}
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { close(done) }) }
}

// receiptSupervisor restarts a failing receipt actor; state lives outside the actor
// instance, so a restart loses nothing but the message that failed.
func receiptSupervisor() actor.SupervisorStrategy {
	return actor.NewOneForOneStrategy(10, time.Minute, func(any) actor.Directive { return actor.RestartDirective })
}

type receiptMetrics struct {
	recorded      prometheus.Counter
	sent          prometheus.Counter
	fallback      prometheus.Counter
	fallbackQueue prometheus.Gauge
	fallbackOK    prometheus.Counter
	parked        prometheus.Gauge
}

func newReceiptMetrics(reg prometheus.Registerer) (*receiptMetrics, error) {
	m := &receiptMetrics{
		recorded: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_read_receipts_recorded_total",
			Help: "Read markers recorded by this node's aggregator (advanced in Redis).",
		}),
		sent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_read_receipts_kafka_sent_total",
			Help: "Coalesced read markers the aggregator wrote to Kafka.",
		}),
		fallback: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_read_receipts_kafka_fallback_total",
			Help: "Read markers handed to the fallback after a failed Kafka write.",
		}),
		fallbackQueue: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "parley_read_receipts_fallback_queue_size",
			Help: "Read markers the fallback holds in memory for retry.",
		}),
		fallbackOK: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_read_receipts_fallback_success_total",
			Help: "Read markers the fallback re-sent to Kafka successfully (from memory or from Redis).",
		}),
		parked: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "parley_read_receipts_parked",
			Help: "Read markers parked in Redis, as last seen by this node.",
		}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.recorded, m.sent, m.fallback, m.fallbackQueue, m.fallbackOK, m.parked} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}
