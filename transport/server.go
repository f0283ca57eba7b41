// Package transport is parley's edge: the HTTP server with its REST API, the WebSocket
// endpoint, health and metrics, and the wiring of every component into one node.
package transport

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"

	"github.com/parley-chat/parley/actors"
	"github.com/parley-chat/parley/cluster"
	"github.com/parley-chat/parley/files"
	"github.com/parley-chat/parley/integrations"
	"github.com/parley-chat/parley/integrations/slash"
	"github.com/parley-chat/parley/persistence"
	"github.com/parley-chat/parley/transport/auth"
	"github.com/parley-chat/parley/transport/clientip"
)

// Server is one parley node. New connects to (or embeds) every dependency and binds the
// listener; Run serves until the context ends; Shutdown drains. Shutdown is safe to call
// more than once and from several goroutines.
type Server struct {
	cfg    Config
	logger *slog.Logger
	reg    *prometheus.Registry

	ln      net.Listener
	http    *http.Server
	mux     *http.ServeMux
	ready   *readiness
	closers closeStack // released in reverse order at shutdown
	// clientIP names a request's client for the limits keyed by source address.
	clientIP *clientip.Resolver

	// metricsLn and metricsHTTP serve /metrics apart when Config.MetricsAddr is set.
	metricsLn   net.Listener
	metricsHTTP *http.Server
	deps        dependencies // one state tracker per dependency (dependencies.go)

	embeddedRedis *cluster.EmbeddedRedis
	redis         redis.UniversalClient
	lease         *cluster.Lease
	kafkaBrokers  []string
	db            *pgxpool.Pool
	sendPool      *pgxpool.Pool         // nil: commits share db (Config.DatabaseSendConns, ADR 0051)
	replicas      *persistence.Replicas // nil: no read replicas (ADR 0044)
	ids           *cluster.IDGenerator
	verifier      *auth.Verifier
	store         *persistence.Store
	realtime      *actors.System       // api.Poster and api.Events for REST; see realtime.go
	slash         *slash.Service       // runs slash commands (slash.go)
	slashClient   *integrations.Client // checks command URLs
	bus           cluster.Bus          // cross-node events over Redis Pub/Sub
	presence      *cluster.Presence
	presenceRef   presenceRef // the store's view of presence, set once presence starts
	receipts      *actors.Receipts
	actors        *actors.Actors // the actor system realtime and receipts share
	markers       *cluster.Markers
	outgoingURLs  *integrations.Client // outgoing webhooks' URL check (outgoing.go)
	files         *files.Service       // uploads (files.go)

	shutdownOnce sync.Once
	shutdownErr  error
	stopped      chan struct{}
}

// New builds a node. On error everything already started is released.
func New(ctx context.Context, cfg Config, logger *slog.Logger, reg *prometheus.Registry) (_ *Server, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if risk := cfg.DevModeRisk(); risk != "" {
		logger.Warn(risk)
	}
	if cfg.WebhookAllowPrivate {
		logger.Warn("webhook-allow-private is on: outgoing webhooks and slash commands may reach loopback, private and link-local addresses")
	}
	s := &Server{cfg: cfg, logger: logger, reg: reg, mux: http.NewServeMux(), stopped: make(chan struct{})}
	if s.clientIP, err = clientip.New(cfg.TrustedProxies); err != nil {
		return nil, fmt.Errorf("trusted-proxies: %w", err)
	}
	defer func() {
		if err != nil {
			s.closers.closeAll(context.Background(), logger)
		}
	}()
	// The scheduler's metrics (go_sched_latencies_seconds among them) tell a node whose
	// goroutines wait for a processor from one whose I/O is slow (docs/BENCHMARKS.md).
	reg.MustRegister(collectors.NewGoCollector(collectors.WithGoCollectorRuntimeMetrics(collectors.MetricsScheduler)),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	if err := s.startRedis(ctx); err != nil {
		return nil, err
	}
	if err := s.startDependencyTrackers(); err != nil {
		return nil, err
	}
	if err := s.startKafka(ctx); err != nil {
		return nil, err
	}
	if err := s.startDatabase(ctx); err != nil {
		return nil, err
	}
	if err := s.startAuth(); err != nil {
		return nil, err
	}
	s.store = persistence.NewStore(s.db, s.ids, persistence.StoreConfig{InDoubtWait: s.cfg.DatabaseInDoubtWait,
		ChannelMentionMax: s.cfg.ChannelMentionMax, Presence: &s.presenceRef, Replicas: s.replicas, SendPool: s.sendPool})
	// One actor system for the receipts and the sessions; it stops after both (closers run
	// in reverse).
	s.actors = actors.NewActors(s.logger)
	s.closers.push("actor system", func(context.Context) error { s.actors.Shutdown(); return nil })
	if err := s.startReceipts(ctx); err != nil {
		return nil, err
	}
	if err := s.startSlash(); err != nil {
		return nil, err
	}
	if err := s.startRealtime(); err != nil {
		return nil, err
	}
	if err := s.startOutgoing(); err != nil {
		return nil, err
	}
	if err := s.startFiles(ctx); err != nil {
		return nil, err
	}
	if err := s.startAPI(); err != nil {
		return nil, err
	}
	buildInfo := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "parley_build_info",
		Help:        "Build and node information; always 1.",
		ConstLabels: prometheus.Labels{"version": cfg.Version, "node_id": fmt.Sprint(s.ids.Node())},
	})
	buildInfo.Set(1)
	reg.MustRegister(buildInfo)

	if err := s.startReadiness(); err != nil {
		return nil, err
	}
	s.routes()
	if err := s.listenMetrics(); err != nil {
		return nil, err
	}

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	s.ln = ln
	if err := s.slashListening(ln.Addr()); err != nil {
		_ = ln.Close()
		return nil, err
	}
	s.http = &http.Server{
		Handler:           withBodyDeadline(s.mux, cfg.BodyTimeout),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       cfg.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	logger.Info("parley node ready", "addr", ln.Addr().String(), "metrics_addr", cfg.MetricsAddr, "node_id", s.ids.Node(), "version", cfg.Version, "dev_mode", cfg.DevMode.On())
	return s, nil
}

// Addr is the bound listen address (useful with port 0).
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// NodeID is this node's id.
func (s *Server) NodeID() int { return s.ids.Node() }

// Verifier issues and checks tokens (tests and `parley token` use it).
func (s *Server) Verifier() *auth.Verifier { return s.verifier }

// Run serves until ctx is done (then drains with Shutdown) or the server fails.
func (s *Server) Run(ctx context.Context) error {
	errc := make(chan error, 1)
	s.serveMetrics()
	s.ready.started.Store(true)
	go func() { errc <- s.http.Serve(s.ln) }()
	select {
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			<-s.stopped
			return s.shutdownErr
		}
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), s.cfg.DrainTimeout)
		defer cancel()
		return s.Shutdown(sctx)
	}
}

// Shutdown drains the node: no new connections, in-flight work finishes, then every
// dependency is released. Later calls wait for the first and return its result.
func (s *Server) Shutdown(ctx context.Context) error {
	s.shutdownOnce.Do(func() {
		defer close(s.stopped)
		// First, so that /readyz answers 503 to any check that still reaches the node.
		s.ready.draining.Store(true)
		s.logger.Info("draining", "timeout", s.cfg.DrainTimeout)
		var errs []error
		if err := s.http.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("http shutdown: %w", err))
		}
		if err := s.closers.closeAll(ctx, s.logger); err != nil {
			errs = append(errs, err)
		}
		s.shutdownErr = errors.Join(errs...)
		s.logger.Info("stopped")
	})
	<-s.stopped
	return s.shutdownErr
}

// closeStack releases components in the reverse order of their start.
type closeStack struct {
	mu  sync.Mutex
	fns []namedCloser
}

type namedCloser struct {
	name string
	fn   func(context.Context) error
}

func (c *closeStack) push(name string, fn func(context.Context) error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fns = append(c.fns, namedCloser{name, fn})
}

func (c *closeStack) closeAll(ctx context.Context, logger *slog.Logger) error {
	c.mu.Lock()
	fns := c.fns
	c.fns = nil
	c.mu.Unlock()
	var errs []error
	for i := len(fns) - 1; i >= 0; i-- {
		if err := fns[i].fn(ctx); err != nil {
			logger.Warn("shutdown step failed", "step", fns[i].name, "err", err)
			errs = append(errs, fmt.Errorf("%s: %w", fns[i].name, err))
		}
	}
	return errors.Join(errs...)
}
