package transport

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/segmentio/kafka-go"

	"github.com/parley-chat/parley/cluster"
)

// readiness checks the three dependencies concurrently, each with its own timeout, so one
// hung dependency cannot make /readyz hang or hide the state of the others.
type readiness struct {
	checks map[string]func(context.Context) error
}

const readyTimeout = 2 * time.Second

// Redis is up when the bus both receives (its subscriber connection is up and resubscribed)
// and publishes (a PING through the client's pool answers).
func newReadiness(db *pgxpool.Pool, bus *cluster.Bus, brokers []string) *readiness {
	return &readiness{checks: map[string]func(context.Context) error{
		"postgres": func(ctx context.Context) error { return db.Ping(ctx) },
		"redis":    bus.Ping,
		"kafka":    func(ctx context.Context) error { return pingKafka(ctx, brokers) },
	}}
}

// pingKafka succeeds when any bootstrap broker answers a metadata request.
func pingKafka(ctx context.Context, brokers []string) error {
	var errs []error
	for _, b := range brokers {
		conn, err := kafka.DialContext(ctx, "tcp", b)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if dl, ok := ctx.Deadline(); ok {
			_ = conn.SetDeadline(dl)
		}
		_, err = conn.Brokers()
		conn.Close()
		if err == nil {
			return nil
		}
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		return errors.New("no brokers configured")
	}
	return errors.Join(errs...)
}

type checkResult struct {
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
}

func (r *readiness) run(ctx context.Context) (map[string]checkResult, bool) {
	out := make(map[string]checkResult, len(r.checks))
	var mu sync.Mutex
	var wg sync.WaitGroup
	ok := true
	for name, check := range r.checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, readyTimeout)
			defer cancel()
			err := check(cctx)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				ok = false
				out[name] = checkResult{Status: "down", Error: err.Error()}
				return
			}
			out[name] = checkResult{Status: "up"}
		}()
	}
	wg.Wait()
	return out, ok
}

func (s *Server) handleHealthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "node": s.ids.Node()})
}

// handleReadyz answers 200 when PostgreSQL, Redis and Kafka all answer, else 503 naming
// what is down.
func (s *Server) handleReadyz(w http.ResponseWriter, r *http.Request) {
	res, ok := s.ready.run(r.Context())
	status, code := http.StatusOK, "ready"
	if !ok {
		status, code = http.StatusServiceUnavailable, "not_ready"
		var down []string
		for name, c := range res {
			if c.Status != "up" {
				down = append(down, name)
			}
		}
		w.Header().Set("X-Parley-Down", fmt.Sprint(down))
	}
	writeJSON(w, status, map[string]any{"status": code, "checks": res})
}

func (s *Server) metricsHandler() http.Handler {
	return promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{Registry: s.reg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
