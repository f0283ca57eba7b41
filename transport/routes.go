package transport

import (
	"net/http"

	"github.com/parley-chat/parley/transport/web"
)

// routes mounts every endpoint on the node's mux. Components add their own routes here.
func (s *Server) routes() {
	s.mux.HandleFunc("GET /healthz", s.handleHealthz)
	s.mux.HandleFunc("GET /readyz", s.handleReadyz)
	if s.cfg.MetricsAddr == "" {
		s.mux.Handle("GET /metrics", s.metricsHandler())
	} else {
		// Served on the metrics listener only; without this the web client's "/" would
		// answer.
		s.mux.Handle("/metrics", http.NotFoundHandler())
	}
	// The web client: "/" without a method, so that it does not conflict with method-less
	// catch-alls such as the API's "/api/" (it answers 405 itself to other methods).
	client := web.Handler()
	s.mux.Handle("/", client)
	s.mux.Handle("GET /static/", client)
	s.mux.Handle("GET /docs", web.Docs())
	// Without it "/docs/" would fall through to the web client and show the chat app.
	s.mux.Handle("GET /docs/", http.RedirectHandler("/docs", http.StatusMovedPermanently))
}
