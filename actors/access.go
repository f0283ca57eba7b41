package actors

import (
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/parley-chat/parley/persistence"
)

// Live subscriptions and cached access checks outlive the access that allowed them:
// SUBSCRIBE checks once, a SEND trusts a check for AccessTTL. When REST takes someone out of
// a channel or a workspace, or makes them a guest, every session of theirs, on every node,
// forgets its cached checks of the channels concerned, subscribed to or only posted in, and
// checks its subscriptions of them again, ending those it may no longer read (ERROR code
// forbidden or not_found, naming the destination; the session stays open). The change
// travels like a user-queue event, on an internal destination no client can subscribe to:
// the user's sessions on a node are already indexed by user (System.users), and every node
// with one of them holds the user's bus topic (ADR 0009, ADR 0027).

// accessDest marks a userEvent that is an access change; its body is the channel id
// ("0": every channel).
const accessDest = "\x00access"

// AccessChanged implements api.Events: userID may have lost access to channelID (0: to
// every channel). Call it after the change is committed.
func (s *System) AccessChanged(userID, channelID int64) {
	s.publishUserMust(&userEvent{userID: userID, dest: accessDest, ev: event{
		msgID: s.nextEventID(), body: strconv.AppendInt(nil, channelID, 10)}})
}

// recheckAccess forgets the session's cached access to the channels the change concerns,
// so that the next operation on any of them asks PostgreSQL, and queues a check of each of
// them it is subscribed to. Operations on those channels wait behind that check (a SEND
// from a subscribed session included: it trusts the subscription only while no check of
// its channel is queued), so none issued after the change was heard passes on the old
// answer.
func (c *connActor) recheckAccess(body []byte) {
	channelID, err := strconv.ParseInt(string(body), 10, 64)
	if err != nil {
		return
	}
	if channelID == 0 {
		c.access.expireAll()
	} else {
		c.access.expire(channelID)
	}
	var seen []int64
	for _, sub := range c.subs.list {
		cid := sub.channelID
		if cid == 0 || (channelID != 0 && cid != channelID) || slices.Contains(seen, cid) {
			continue
		}
		seen = append(seen, cid)
		c.withAccess(cid, func(acc persistence.Access, err error) { c.accessRechecked(cid, acc, err) })
	}
}

// accessRechecked ends the session's subscriptions to channelID when it may no longer read
// it. A check that failed for another reason (PostgreSQL away) leaves them: the session's
// next operation on the channel checks again.
func (c *connActor) accessRechecked(channelID int64, acc persistence.Access, err error) {
	if err == nil {
		err = acc.CanRead()
	}
	if err == nil || !(errors.Is(err, persistence.ErrForbidden) || errors.Is(err, persistence.ErrNotFound)) {
		return
	}
	for _, sub := range slices.Clone(c.subs.list) {
		if sub.channelID != channelID {
			continue
		}
		c.subs.remove(sub.id)
		if sub.sent {
			c.sys.toLiveChannel(sub.channelID, &unsubscribeReq{out: c.out, subID: sub.id})
		}
		c.fail(fmt.Errorf("subscription %s ended: %w", sub.id, err), "", sub.dest())
	}
}
