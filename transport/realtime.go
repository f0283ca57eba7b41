package transport

import (
	"github.com/parley-chat/parley/actors"
	"github.com/parley-chat/parley/transport/api"
	"github.com/parley-chat/parley/transport/ws"
)

// startRealtime starts the actor system and mounts GET /ws. The system is also the REST
// API's api.Poster and api.Events (s.realtime), so that REST posts take the channel actor's
// group commit and REST events reach STOMP subscribers. It drains before the database closes
// (closers run in reverse).
func (s *Server) startRealtime() error {
	rcfg := s.cfg.Realtime
	rcfg.NodeID = s.ids.Node()
	sys, err := actors.New(rcfg, actors.Deps{
		Store:      s.store,
		ReadMarks:  s.receipts,
		IDs:        s.ids,
		Logger:     s.logger,
		Registerer: s.reg,
	})
	if err != nil {
		return err
	}
	s.closers.push("real-time sessions", sys.Shutdown)
	wcfg := s.cfg.WebSocket
	wcfg.AllowedOrigins = s.cfg.AllowedOrigins
	h, err := ws.New(wcfg, ws.Deps{
		Sessions: sys, Verifier: s.verifier, Users: s.store, Logger: s.logger,
	})
	if err != nil {
		return err
	}
	s.realtime = sys
	s.mux.Handle("GET /ws", h)
	return nil
}

var _ interface {
	api.Poster
	api.Events
} = (*actors.System)(nil)
