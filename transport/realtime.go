package transport

import (
	"context"
	"time"

	"github.com/parley-chat/parley/actors"
	"github.com/parley-chat/parley/cluster"
	"github.com/parley-chat/parley/transport/api"
	"github.com/parley-chat/parley/transport/ws"
)

// startRealtime starts the actor system and mounts GET /ws. The system is also the REST
// API's api.Poster and api.Events (s.realtime), so that REST posts take the channel actor's
// group commit and REST events reach STOMP subscribers. It drains before the database closes
// (closers run in reverse).
//
// The cross-node bus closes after the actors have drained (their last posts are flushed)
// and before the Redis client.
func (s *Server) startRealtime() error {
	bcfg := s.cfg.Bus
	bcfg.Health = s.deps.redis
	bus, err := cluster.NewRedisBus(s.redis, bcfg, s.logger, s.reg)
	if err != nil {
		return err
	}
	s.closers.push("cluster bus", func(context.Context) error { return bus.Close() })
	s.bus = bus
	waitHealthy(bus, busStartWait)
	// Presence closes after the sessions (withdrawing what is left of their users) and
	// before the bus its watches ride on.
	presence, err := cluster.NewPresence(s.redis, bus, s.cfg.Presence, s.logger, s.reg)
	if err != nil {
		return err
	}
	s.closers.push("presence", presence.Close)
	s.presence = presence
	s.presenceRef.set(presence)
	rcfg := s.cfg.Realtime
	rcfg.NodeID = s.ids.Node()
	sys, err := actors.New(rcfg, actors.Deps{
		Store:      s.store,
		ReadMarks:  s.receipts,
		IDs:        s.ids,
		Actors:     s.actors,
		Bus:        actors.ClusterBus(bus),
		Presence:   actors.ClusterPresence(presence),
		Peers:      s.store,
		Commands:   s.slash,
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
		ClientIP: s.clientIP, Registerer: s.reg,
	})
	if err != nil {
		return err
	}
	s.realtime = sys
	s.mux.Handle("GET /ws", h)
	return nil
}

// busStartWait bounds how long a starting node waits for the bus's subscriber connection,
// so that /readyz is green as soon as New returns; Redis answered a ping just before, so
// this takes a round trip. A node whose bus is still down starts anyway (sends work
// without Redis) and /readyz says so.
const busStartWait = 2 * time.Second

func waitHealthy(bus cluster.Bus, d time.Duration) {
	deadline := time.Now().Add(d)
	for !bus.Healthy() && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
}

var _ interface {
	api.Poster
	api.Events
} = (*actors.System)(nil)

var _ api.PresenceSource = (*cluster.Presence)(nil)
