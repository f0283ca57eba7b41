package actors

import (
	"fmt"
	"slices"

	"github.com/parley-chat/parley/errcode"
	"github.com/parley-chat/parley/persistence"
	"github.com/parley-chat/parley/stomp"
)

// Presence destinations (SPEC "Presence").
const (
	DestPresenceSet   = "/app/presence.set"
	DestPresenceWatch = "/app/presence.watch"
)

type (
	presenceSetBody struct {
		Status string `json:"status"`
	}
	presenceWatchBody struct {
		UserIDs *[]flexID `json:"userIds"`
	}
	// watchChecked is a presence.watch whose list was access-checked off the actor.
	watchChecked struct {
		gen     uint64
		ids     []int64
		receipt string
		err     error
	}
)

// errNoPresence answers presence frames on a node without presence (no Redis).
var errNoPresence = fmt.Errorf("%w: presence is not available on this node", errcode.ErrUnavailable)

// userActivity counts a client frame as user activity for presence: sends, subscriptions,
// acknowledgements; not heart-beats (never seen here), nor the presence frames themselves.
func (c *connActor) userActivity(f *stomp.Frame) {
	h := c.sys.presence
	if h == nil {
		return
	}
	switch f.Command {
	case stomp.CmdSend:
		switch f.Value(stomp.HdrDestination) {
		case DestPresenceSet, DestPresenceWatch:
			return
		}
	case stomp.CmdSubscribe, stomp.CmdUnsubscribe, stomp.CmdAck, stomp.CmdNack:
	default:
		return
	}
	h.activity(c.sess)
}

// presenceSet is /app/presence.set {status:"away"|"online"}. An "away" holds until the
// client says "online", whatever else it sends; the user is away only while every one of
// their sessions is away or idle.
func (c *connActor) presenceSet(body []byte, receipt string) {
	const dest = DestPresenceSet
	var b presenceSetBody
	err := decodeJSON(body, &b)
	if err == nil && b.Status != "away" && b.Status != "online" {
		err = &persistence.ValidationError{Field: "status", Reason: `must be "away" or "online"`}
	}
	if err == nil && c.sys.presence == nil {
		err = errNoPresence
	}
	if err != nil {
		c.fail(err, receipt, dest)
		return
	}
	c.sys.presence.setAway(c.sess, b.Status == "away")
	c.receipt(receipt)
}

// presenceWatch is /app/presence.watch {userIds}: the list replaces the session's, at most
// MaxPresenceWatch users. Users who share no workspace with the caller are dropped
// silently (ADR 0033); the RECEIPT comes once the list is in force.
func (c *connActor) presenceWatch(body []byte, receipt string) {
	const dest = DestPresenceWatch
	var b presenceWatchBody
	err := decodeJSON(body, &b)
	if err == nil && b.UserIDs == nil {
		err = &persistence.ValidationError{Field: "userIds", Reason: "required (an empty list watches no one)"}
	}
	if err == nil && len(*b.UserIDs) > c.sys.cfg.MaxPresenceWatch {
		err = &persistence.ValidationError{Field: "userIds", Reason: fmt.Sprintf("at most %d users", c.sys.cfg.MaxPresenceWatch)}
	}
	var ids []int64
	if err == nil {
		for _, id := range *b.UserIDs {
			if id <= 0 {
				err = &persistence.ValidationError{Field: "userIds", Reason: "ids must be positive"}
				break
			}
			ids = append(ids, int64(id))
		}
	}
	if err == nil && c.sys.presence == nil {
		err = errNoPresence
	}
	if err != nil {
		c.fail(err, receipt, dest)
		return
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	c.watchGen++
	gen, sys, self, ctx, uid := c.watchGen, c.sys, c.sess.pid, c.opCtx(), c.info.UserID
	c.begin()
	sys.goWork(func() {
		var ok []int64
		var err error
		if len(ids) > 0 {
			ok, err = sys.presence.peers.WorkspacePeers(ctx, uid, ids)
		}
		sys.root.Send(self, &watchChecked{gen: gen, ids: ok, receipt: receipt, err: err})
	})
}

// watchChecked applies a checked watch list unless a later presence.watch replaced it.
func (c *connActor) watchChecked(m *watchChecked) {
	defer c.end()
	if m.err != nil {
		c.fail(m.err, m.receipt, DestPresenceWatch)
		return
	}
	if m.gen == c.watchGen {
		c.sys.presence.setWatch(c.sess, m.ids)
	}
	c.receipt(m.receipt)
}

// decodeJSON decodes a SEND body that names no channel.
func decodeJSON(body []byte, v any) error {
	return decodeBody(body, v, func() flexID { return 1 })
}
