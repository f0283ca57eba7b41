package transport

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/parley-chat/parley/internal/pprofmux"
)

// listenMetrics binds Config.MetricsAddr, when set, for /metrics alone, so that a reverse
// proxy in front of the main listener cannot expose it and Prometheus scrapes it on an
// internal network. With Config.Pprof it also serves /debug/pprof/. It is served from Run and closed last at shutdown, after the drain, so
// that the drain itself can still be scraped.
func (s *Server) listenMetrics() error {
	if s.cfg.MetricsAddr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", s.cfg.MetricsAddr)
	if err != nil {
		return fmt.Errorf("listen on metrics-addr %s: %w", s.cfg.MetricsAddr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", s.metricsHandler())
	if s.cfg.Pprof {
		// Opt-in (Config.Pprof): profiles expose stacks and heap contents.
		pprofmux.Register(mux)
		s.logger.Warn("pprof is served on the metrics listener: profiles show stacks and heap contents to whoever reaches it", "metrics_addr", ln.Addr().String())
	}
	s.metricsLn = ln
	s.metricsHTTP = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       10 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
	}
	s.closers.push("metrics listener", func(context.Context) error {
		ln.Close() // in case Run never served it
		return s.metricsHTTP.Close()
	})
	return nil
}

// MetricsAddr is the bound metrics listen address, or nil when /metrics is served on the
// main listener.
func (s *Server) MetricsAddr() net.Addr {
	if s.metricsLn == nil {
		return nil
	}
	return s.metricsLn.Addr()
}

// serveMetrics serves the metrics listener, if any, until it is closed at shutdown.
func (s *Server) serveMetrics() {
	if s.metricsHTTP == nil {
		return
	}
	go func() {
		if err := s.metricsHTTP.Serve(s.metricsLn); err != nil && err != http.ErrServerClosed {
			s.logger.Error("metrics listener stopped", "err", err)
		}
	}()
}
