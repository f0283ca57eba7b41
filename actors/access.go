package actors

import (
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/parley-chat/parley/persistence"
)

// Live subscriptions outlive the access that allowed them: SUBSCRIBE checks once. When REST
// takes someone out of a channel or a workspace, or makes them a guest, every session of
// theirs, on every node, checks its channel subscriptions again and ends those it may no
// longer read (ERROR code forbidden or not_found, naming the destination; the session stays
// open). The change travels like a user-queue event, on an internal destination no client
// can subscribe to.

// accessDest marks a userEvent that is an access change; its body is the channel id
// ("0": every channel).
const accessDest = "\x00access"

// AccessChanged implements api.Events: userID may have lost access to channelID (0: to
// every channel). Call it after the change is committed.
func (s *System) AccessChanged(userID, channelID int64) {
	s.publishUser(&userEvent{userID: userID, dest: accessDest, ev: event{
		msgID: s.nextEventID(), body: strconv.AppendInt(nil, channelID, 10)}})
}

// accessRechecked is a fresh access check of one channel for the session.
type accessRechecked struct {
	channelID int64
	acc       persistence.Access
	err       error
}

// recheckAccess forgets the session's cached access and checks again, off the actor, each
// channel it is subscribed to that the change concerns.
func (c *connActor) recheckAccess(body []byte) {
	channelID, err := strconv.ParseInt(string(body), 10, 64)
	if err != nil {
		return
	}
	seen := map[int64]bool{}
	for _, sub := range c.subs.list {
		cid := sub.channelID
		if cid == 0 || (channelID != 0 && cid != channelID) || seen[cid] {
			continue
		}
		seen[cid] = true
		c.access.expire(cid) // the next operation asks again
		sys, self, ctx, uid := c.sys, c.sess.pid, c.opCtx(), c.info.UserID
		sys.goWork(func() {
			acc, err := sys.store.ChannelAccess(ctx, uid, cid)
			sys.root.Send(self, &accessRechecked{channelID: cid, acc: acc, err: err})
		})
	}
}

// accessRechecked ends the session's subscriptions to m.channelID when it may no longer
// read it. A check that failed for another reason (PostgreSQL away) leaves them: the
// session's next operation on the channel checks again within AccessTTL.
func (c *connActor) accessRechecked(m *accessRechecked) {
	err := m.err
	if err == nil {
		err = m.acc.CanRead()
	}
	if err == nil || !(errors.Is(err, persistence.ErrForbidden) || errors.Is(err, persistence.ErrNotFound)) {
		return
	}
	for _, sub := range slices.Clone(c.subs.list) {
		if sub.channelID != m.channelID {
			continue
		}
		c.subs.remove(sub.id)
		if sub.sent {
			c.sys.toLiveChannel(sub.channelID, &unsubscribeReq{out: c.out, subID: sub.id})
		}
		c.fail(fmt.Errorf("subscription %s ended: %w", sub.id, err), "", sub.dest())
	}
}
