package actors

import (
	"errors"
	"time"

	"github.com/parley-chat/parley/cluster"
)

// An access change or a token revocation must reach every node: a session elsewhere that
// never hears of it keeps its subscriptions (access.go) or its revoked token (token.go).
// Both travel as user events, whose Posts share the bus's queue with everything else; a
// burst of live-workspace notifications (one post per member, ADR 0034) fills that queue
// and Post then refuses at once. So these two are posted again, off the caller, until the
// queue takes them or mustPostFor has passed (ADR 0052).

// mustPostFor bounds the retries of an event that must reach the other nodes.
const mustPostFor = 30 * time.Second

// mustPostRetry is the first pause between those retries; it doubles up to 100 ms.
const mustPostRetry = 2 * time.Millisecond

// publishUserMust is publishUser for an access change or a token revocation.
func (s *System) publishUserMust(ue *userEvent) {
	s.deliverUser(ue)
	p := encodeUserEvent(s.cfg.NodeID, ue)
	if s.postUserOnce(ue, p) {
		go s.postUserUntil(ue, p, time.Now().Add(mustPostFor))
	}
}

// postUserOnce posts p and reports whether it is worth trying again (the queue was full).
func (s *System) postUserOnce(ue *userEvent, p []byte) (retry bool) {
	err := s.bus.PostUser(ue.userID, p, func(err error) {
		if err != nil {
			s.met.cl.publishFailures.WithLabelValues("user").Inc()
		}
	})
	switch {
	case err == nil:
		return false
	case errors.Is(err, cluster.ErrPostQueueFull):
		return true
	default:
		s.met.cl.publishFailures.WithLabelValues("user").Inc()
		s.log.Warn("bus: post access change", "user", ue.userID, "err", err)
		return false
	}
}

func (s *System) postUserUntil(ue *userEvent, p []byte, deadline time.Time) {
	pause := mustPostRetry
	t := time.NewTimer(pause)
	defer t.Stop()
	for range t.C {
		if !s.postUserOnce(ue, p) {
			return
		}
		if time.Now().After(deadline) {
			s.met.cl.publishFailures.WithLabelValues("user").Inc()
			s.log.Error("bus: an access change could not be posted: the post queue stayed full; the user's sessions on other nodes keep what they had until they reconnect",
				"user", ue.userID, "for", mustPostFor)
			return
		}
		pause = min(2*pause, 100*time.Millisecond)
		t.Reset(pause)
	}
}
