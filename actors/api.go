package actors

import (
	"context"
	"encoding/json"

	"github.com/parley-chat/parley/persistence"
	"github.com/parley-chat/parley/stomp"
)

// The System implements api.Poster and api.Events, so that REST writes take the same path
// as STOMP sends: the channel actor's group commit, then one fan-out.

// userEvent is an event for one user's queue, encoded once for all their sessions.
type userEvent struct {
	userID int64
	dest   string
	ev     event
}

func newUserEvent(sys *System, userID int64, dest string, v any) *userEvent {
	body, err := json.Marshal(v)
	if err != nil {
		sys.log.Error("encode user event", "dest", dest, "err", err)
		return nil
	}
	id := sys.nextEventID()
	return &userEvent{userID: userID, dest: dest, ev: event{
		tpl: stomp.NewMessageTemplate(dest, contentJSON, nil, body), msgID: id, body: body}}
}

// Post appends m for userID through channelID's actor and returns once it is committed (or
// refused). The caller has checked that userID may post there. A per-message rejection
// (ErrBadParent, validation) is returned as the error, with the result.
func (s *System) Post(ctx context.Context, userID, channelID int64, m persistence.NewMessage) (persistence.AppendResult, error) {
	if err := ctx.Err(); err != nil {
		// Not handed to the actor, whose commit does not see ctx: the caller, told the post
		// failed, must not find it posted (internal/contract's ContextDone).
		return persistence.AppendResult{}, err
	}
	if s.draining.Load() {
		return persistence.AppendResult{}, ErrShuttingDown
	}
	m.UserID = userID
	if m.ID == 0 {
		m.ID = s.ids.Next()
	}
	ch := make(chan *postResult, 1)
	s.post(channelID, &postReq{msg: m, reply: func(r *postResult) { ch <- r }})
	select {
	case r := <-ch:
		return r.res, r.err
	case <-ctx.Done():
		// The message may still commit and be delivered; a retry with the same
		// clientMsgId finds it.
		return persistence.AppendResult{}, ctx.Err()
	}
}

// post hands r to the channel's actor, or refuses it once the node drains. The count goes
// up before draining is read, and Shutdown sets draining before it reads the count, so a
// post either is refused or is waited for: a send that passed its own draining check before
// an access lookup cannot slip past the drain (seen in ws.TestShutdownDrains).
func (s *System) post(channelID int64, r *postReq) {
	s.pendingPosts.Add(1)
	if s.draining.Load() {
		s.pendingPosts.Add(-1)
		r.reply(&postResult{err: ErrShuttingDown})
		return
	}
	s.toChannel(channelID, r)
}

// ChannelEvent delivers ev (a persistence event struct) to /topic/channel.{channelID}: to
// local subscribers through the channel's actor when it has one here, and to other nodes
// through the bus (carrying no seq, it goes out as it comes). It never blocks.
func (s *System) ChannelEvent(channelID int64, ev any) {
	body, err := json.Marshal(ev)
	if err != nil {
		s.log.Error("encode channel event", "channel", channelID, "err", err)
		return
	}
	_, read := ev.(persistence.ReadEvent)
	e := &event{
		tpl:   stomp.NewMessageTemplate(ChannelDestination(channelID), contentJSON, nil, body),
		msgID: s.nextEventID(), body: body, lazy: read,
	}
	if !s.toLiveChannel(channelID, &eventReq{ev: e}) {
		s.publishEvents(channelID, e)
	}
}

// UserEvent delivers ev to dest (e.g. persistence.QueueMentions) of every session of userID
// that subscribed to it. It never blocks.
func (s *System) UserEvent(userID int64, dest string, ev any) {
	if ue := newUserEvent(s, userID, dest, ev); ue != nil {
		s.publishUser(ue)
	}
}

// deliverUser hands ue to the connection actors of its user on this node.
func (s *System) deliverUser(ue *userEvent) {
	s.smu.Lock()
	defer s.smu.Unlock()
	for sess := range s.users[ue.userID] {
		s.root.Send(sess.pid, ue)
	}
}
