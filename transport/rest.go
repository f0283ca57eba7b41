package transport

import (
	"github.com/parley-chat/parley/transport/api"
)

// startAPI mounts the REST API. Its posts and events go through the actor system
// (s.realtime), so REST and STOMP share one write path and one event stream; read markers
// go through the receipt pipeline.
func (s *Server) startAPI() error {
	limits := s.cfg.RateLimits
	if limits.Messages == (api.Limit{}) { // REST posts no faster than STOMP sends
		rt := s.realtime.Config()
		limits.Messages = api.Limit{Rate: rt.SendRate, Burst: rt.SendBurst}
	}
	a, err := api.New(api.Config{DevMode: s.cfg.DevMode.On(), Limits: limits, NotifyFanout: s.cfg.NotifyFanout}, api.Deps{
		Store:       s.store,
		Verifier:    s.verifier,
		IDs:         s.ids,
		Logger:      s.logger,
		Registerer:  s.reg,
		Poster:      s.realtime,
		Events:      s.realtime,
		ReadMarkers: s.receipts,
		MarkerCache: s.markers,
		Presence:    s.presence,
		ClientIP:    s.clientIP,
		Commands:    s.realtime,
		SlashURLs:   s.slashClient,
		Files:       s.files,
		// Outgoing webhooks (ADR 0037).
		OutgoingURLs: s.outgoingURLs,
	})
	if err != nil {
		return err
	}
	a.Register(s.mux)
	return nil
}
