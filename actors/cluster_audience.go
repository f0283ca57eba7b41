package actors

import (
	"encoding/binary"
	"encoding/json"
	"slices"

	"github.com/parley-chat/parley/stomp"
)

// A live-workspace notification goes to many users at once: everyone in a workspace, or
// everyone who can see a channel (transport/api/notify.go, ADR 0034). Posted per user, an
// audience of n cost n bus posts, and a workspace of a few thousand members filled the
// bus's post queue with three joins at once (ADR 0052), so that whatever else was posted
// meanwhile was refused. UsersEvent posts it once, with its audience, on the topic every
// node holds; each node hands it to the sessions of the listed users it has.

// maxAudiencePerPost is the most users one post names (~10 bytes each): well under
// maxWirePayload with a notification's body.
const maxAudiencePerPost = 10_000

// UsersEvent is UserEvent for each of userIDs, the event encoded once and posted to the
// other nodes once (per maxAudiencePerPost users). It never blocks.
func (s *System) UsersEvent(userIDs []int64, dest string, v any) {
	if len(userIDs) == 0 {
		return
	}
	body, err := json.Marshal(v)
	if err != nil {
		s.log.Error("encode user event", "dest", dest, "err", err)
		return
	}
	ev := event{tpl: stomp.NewMessageTemplate(dest, contentJSON, nil, body), msgID: s.nextEventID(), body: body}
	s.deliverUsers(userIDs, dest, ev)
	for ids := range slices.Chunk(userIDs, maxAudiencePerPost) {
		p := encodeUsersEvent(s.cfg.NodeID, ids, dest, ev)
		if err := s.bus.PostBroadcast(p, func(err error) {
			if err != nil {
				s.met.cl.publishFailures.WithLabelValues("users").Inc()
			}
		}); err != nil {
			s.met.cl.publishFailures.WithLabelValues("users").Inc()
			s.log.Debug("bus: post users' event", "users", len(ids), "err", err)
		}
	}
}

// deliverUsers hands ev to the connection actors of those of userIDs with a session here.
func (s *System) deliverUsers(userIDs []int64, dest string, ev event) {
	s.smu.Lock()
	defer s.smu.Unlock()
	for _, id := range userIDs {
		sessions := s.users[id]
		if len(sessions) == 0 {
			continue
		}
		ue := &userEvent{userID: id, dest: dest, ev: ev}
		for sess := range sessions {
			s.root.Send(sess.pid, ue)
		}
	}
}

// watchAudiences takes the node's interest in users' events; called once, by New.
func (s *System) watchAudiences() BusSubscription {
	return s.bus.SubscribeBroadcast(audienceHandler{sys: s})
}

// audienceHandler receives users' events from other nodes. Like a user event, one is not
// replayed after a resync: a notification describes a change the client sees on its next
// fetch.
type audienceHandler struct{ sys *System }

func (h audienceHandler) Deliver(payload []byte) {
	ids, dest, ev, err := decodeUsersEvent(payload)
	if err != nil || !userQueues[dest] {
		h.sys.met.cl.malformed.Inc()
		return
	}
	h.sys.met.cl.received.WithLabelValues("users").Inc()
	h.sys.deliverUsers(ids, dest, ev)
}

func (audienceHandler) Resync() {}

func encodeUsersEvent(node int, ids []int64, dest string, ev event) []byte {
	p := make([]byte, 0, 32+10*len(ids)+len(dest)+len(ev.msgID)+len(ev.body))
	p = append(p, wireVersion1Users)
	p = binary.AppendUvarint(p, uint64(node))
	p = binary.AppendUvarint(p, uint64(len(ids)))
	for _, id := range ids {
		p = binary.AppendUvarint(p, uint64(id))
	}
	p = appendBytes(p, []byte(dest))
	p = appendBytes(p, []byte(ev.msgID))
	return appendBytes(p, ev.body)
}

func decodeUsersEvent(p []byte) (ids []int64, dest string, ev event, err error) {
	r := wireReader{p: p}
	if r.byte() != wireVersion1Users {
		return nil, "", event{}, errMalformed
	}
	_ = r.uvarint() // node
	n := r.uvarint()
	if n == 0 || n > maxAudiencePerPost {
		return nil, "", event{}, errMalformed
	}
	ids = make([]int64, 0, n)
	for range n {
		id := int64(r.uvarint())
		if id <= 0 {
			return nil, "", event{}, errMalformed
		}
		ids = append(ids, id)
	}
	dest = string(r.bytes())
	id := string(r.bytes())
	body := r.bytes()
	if r.err != nil || len(r.p) != 0 {
		return nil, "", event{}, errMalformed
	}
	return ids, dest, event{tpl: stomp.NewMessageTemplate(dest, contentJSON, nil, body), msgID: id, body: body}, nil
}
