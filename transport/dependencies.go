package transport

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/parley-chat/parley/internal/depstate"
)

// dependencyWatchInterval is how often a node checks its dependencies when nothing else
// does, so that parley_dependency_up and the "dependency back" log line follow an outage
// that no request happens to touch.
const dependencyWatchInterval = 5 * time.Second

// dependencies are the node's trackers, one per dependency, shared by every component that
// uses it: the bus reports Redis, the receipt producer and consumers report Kafka, and the
// readiness checks (on /readyz and every dependencyWatchInterval) report all three. Each
// logs a line when its dependency goes down, one when it is back, and a reminder at most
// every 30 s in between (ADR 0028).
type dependencies struct {
	postgres, redis, kafka *depstate.Tracker
}

func (s *Server) startDependencyTrackers() error {
	var d dependencies
	for name, p := range map[string]**depstate.Tracker{"postgres": &d.postgres, "redis": &d.redis, "kafka": &d.kafka} {
		t, err := depstate.New(depstate.Config{Name: name}, s.logger, s.reg)
		if err != nil {
			return err
		}
		*p = t
	}
	s.deps = d
	return nil
}

// newReadiness checks PostgreSQL (required: without it nothing can be sent or read),
// Redis (the bus: up when it both receives and publishes) and Kafka (any bootstrap broker
// answers a metadata request).
func (s *Server) newReadiness() *readiness {
	trackers := map[string]*depstate.Tracker{"postgres": s.deps.postgres, "redis": s.deps.redis, "kafka": s.deps.kafka}
	return &readiness{
		checks: map[string]func(context.Context) error{
			"postgres": func(ctx context.Context) error { return s.db.Ping(ctx) },
			"redis":    s.bus.Ping,
			"kafka":    func(ctx context.Context) error { return pingKafka(ctx, s.kafkaBrokers) },
		},
		required: map[string]bool{"postgres": true},
		report:   func(name string, err error) { trackers[name].Report(err) },
	}
}

// startReadiness sets up /readyz, the parley_ready gauge and the background watch.
func (s *Server) startReadiness() error {
	s.ready = s.newReadiness()
	ready := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "parley_ready",
		Help: "1 while /readyz would answer 200 (serving, not draining, PostgreSQL up as last seen), else 0.",
	}, func() float64 {
		if s.ready.started.Load() && !s.ready.draining.Load() && s.deps.postgres.Up() {
			return 1
		}
		return 0
	})
	if err := s.reg.Register(ready); err != nil {
		return fmt.Errorf("readiness metric: %w", err)
	}
	s.watchDependencies()
	return nil
}

// watchDependencies runs the readiness checks every dependencyWatchInterval until shutdown.
func (s *Server) watchDependencies() {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(dependencyWatchInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				s.ready.run(ctx)
			}
		}
	})
	s.closers.push("dependency watch", func(context.Context) error { cancel(); wg.Wait(); return nil })
}
