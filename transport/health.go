package transport

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/segmentio/kafka-go"
)

// readiness answers /readyz. A node can serve while Redis or Kafka is down (SPEC guarantees 3
// and 4: sends are acknowledged, other nodes fill their gaps from PostgreSQL, read markers
// wait in the fallback), so only PostgreSQL is required; the others make the node
// "degraded", which /readyz reports with 200 and /readyz?full=1 with 503 (ADR 0028).
// Checks run concurrently, each with its own timeout, so one hung dependency cannot make
// /readyz hang or hide the state of the others.
type readiness struct {
	checks   map[string]func(context.Context) error
	required map[string]bool
	started  atomic.Bool // set once the listener serves
	draining atomic.Bool // set first thing in Shutdown
	// report, when set, hears every check's outcome (the dependency trackers).
	report func(name string, err error)
}

const readyTimeout = 2 * time.Second

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

// run checks every dependency and returns the results with the names of those down, sorted.
func (r *readiness) run(ctx context.Context) (map[string]checkResult, []string) {
	out := make(map[string]checkResult, len(r.checks))
	var down []string
	var mu sync.Mutex
	var wg sync.WaitGroup
	for name, check := range r.checks {
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, readyTimeout)
			defer cancel()
			err := check(cctx)
			if r.report != nil && ctx.Err() == nil {
				r.report(name, err)
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				down = append(down, name)
				out[name] = checkResult{Status: "down", Error: err.Error()}
				return
			}
			out[name] = checkResult{Status: "up"}
		})
	}
	wg.Wait()
	slices.Sort(down)
	return out, down
}

type readyAnswer struct {
	Status string                 `json:"status"` // ready, degraded, not_ready, starting, draining
	Down   []string               `json:"down,omitempty"`
	Checks map[string]checkResult `json:"checks,omitempty"`
}

// answer decides /readyz: 503 while starting or draining, or when a required dependency
// (or, with full, any dependency) is down; 200 "degraded" when only optional ones are.
func (r *readiness) answer(ctx context.Context, full bool) (int, readyAnswer) {
	switch {
	case r.draining.Load():
		return http.StatusServiceUnavailable, readyAnswer{Status: "draining"}
	case !r.started.Load():
		return http.StatusServiceUnavailable, readyAnswer{Status: "starting"}
	}
	checks, down := r.run(ctx)
	a := readyAnswer{Status: "ready", Down: down, Checks: checks}
	if len(down) == 0 {
		return http.StatusOK, a
	}
	if full || slices.ContainsFunc(down, func(n string) bool { return r.required[n] }) {
		a.Status = "not_ready"
		return http.StatusServiceUnavailable, a
	}
	a.Status = "degraded"
	return http.StatusOK, a
}

func (s *Server) handleHealthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "node": s.ids.Node()})
}

// handleReadyz is the load balancer's check: 200 while this node can serve ("ready", or
// "degraded" naming what is down), 503 when it cannot. ?full=1 is the operator's all-up check.
func (s *Server) handleReadyz(w http.ResponseWriter, r *http.Request) {
	full := r.URL.Query().Get("full")
	status, a := s.ready.answer(r.Context(), full != "" && full != "0" && full != "false")
	if len(a.Down) > 0 {
		w.Header().Set("X-Parley-Down", strings.Join(a.Down, ","))
	}
	writeJSON(w, status, a)
}

func (s *Server) metricsHandler() http.Handler {
	return promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{Registry: s.reg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
