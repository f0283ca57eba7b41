package actors

import (
	"slices"
	"strings"

	"github.com/parley-chat/parley/persistence"
)

// connSubs is a session's subscriptions: a short list (at most MaxSubscriptions, 100 by
// default, searched only on SUBSCRIBE and UNSUBSCRIBE) and the user queues it listens to.
// Two maps instead cost every idle session about half a KiB. The list holds values, not
// pointers: at 10,000 users with 20 subscriptions each, one object per subscription was
// 200,000 more for the collector to mark on every cycle.
type connSubs struct {
	list   []connSub
	queues [len(userQueueOrder)]string // subscription id per user queue; "" for none
	gen    uint32                      // of the last subscription added
}

// connSub is one subscription. Its id is a copy, so the SUBSCRIBE frame's header block is
// not kept alive for the life of the subscription; its destination is rebuilt (dest).
type connSub struct {
	id        string
	channelID int64  // 0 for a user queue
	gen       uint32 // tells a re-SUBSCRIBE with the same id from the one a check was for
	queue     int8   // index into userQueueOrder; -1 for a channel
	sent      bool   // registered with the channel actor
}

// userQueueOrder numbers the user queues for connSubs.queues.
var userQueueOrder = [...]string{persistence.QueueMentions, persistence.QueueErrors, persistence.QueueNotifications, QueueResend, QueuePresence,
	persistence.QueueEphemeral}

func (sub *connSub) dest() string {
	if sub.queue >= 0 {
		return userQueueOrder[sub.queue]
	}
	return ChannelDestination(sub.channelID)
}

// get returns subscription id, valid until the list next changes; nil when there is none.
func (s *connSubs) get(id string) *connSub {
	for i := range s.list {
		if s.list[i].id == id {
			return &s.list[i]
		}
	}
	return nil
}

// addChannel adds a subscription to channelID and returns its generation.
func (s *connSubs) addChannel(id string, channelID int64) uint32 {
	s.gen++
	s.list = append(s.list, connSub{id: strings.Clone(id), channelID: channelID, gen: s.gen, queue: -1})
	return s.gen
}

// addQueue adds a subscription to user queue dest (one of userQueueOrder).
func (s *connSubs) addQueue(id, dest string) {
	q := slices.Index(userQueueOrder[:], dest)
	if q < 0 {
		return
	}
	id = strings.Clone(id)
	s.gen++
	s.list = append(s.list, connSub{id: id, gen: s.gen, queue: int8(q)})
	s.queues[q] = id
}

// registered reports whether the session has a subscription to channelID that its channel
// actor has registered (its access was checked, and AccessChanged ends it when it goes).
func (s *connSubs) registered(channelID int64) bool {
	return slices.ContainsFunc(s.list, func(sub connSub) bool { return sub.channelID == channelID && sub.sent })
}

func (s *connSubs) len() int { return len(s.list) }

// remove drops subscription id (and its user queue) and returns it.
func (s *connSubs) remove(id string) (connSub, bool) {
	i := slices.IndexFunc(s.list, func(sub connSub) bool { return sub.id == id })
	if i < 0 {
		return connSub{}, false
	}
	sub := s.list[i]
	s.list = slices.Delete(s.list, i, i+1)
	if len(s.list) == 0 {
		s.list = nil
	}
	if sub.queue >= 0 && s.queues[sub.queue] == id {
		s.queues[sub.queue] = ""
	}
	return sub, true
}

// queue returns the id of the subscription to user queue dest.
func (s *connSubs) queue(dest string) (string, bool) {
	if i := slices.Index(userQueueOrder[:], dest); i >= 0 && s.queues[i] != "" {
		return s.queues[i], true
	}
	return "", false
}
