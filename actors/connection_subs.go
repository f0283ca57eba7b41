package actors

import (
	"slices"

	"github.com/parley-chat/parley/persistence"
)

// connSubs is a session's subscriptions: a short list (at most MaxSubscriptions, 100 by
// default, searched only on SUBSCRIBE and UNSUBSCRIBE) and the user queues it listens to.
// Two maps instead cost every idle session about half a KiB.
type connSubs struct {
	list   []*connSub
	queues [len(userQueueOrder)]string // subscription id per user queue; "" for none
}

// userQueueOrder numbers the user queues for connSubs.queues.
var userQueueOrder = [...]string{persistence.QueueMentions, persistence.QueueErrors, persistence.QueueNotifications, QueueResend}

func (s *connSubs) get(id string) *connSub {
	for _, sub := range s.list {
		if sub.id == id {
			return sub
		}
	}
	return nil
}

func (s *connSubs) add(sub *connSub) { s.list = append(s.list, sub) }

// registered reports whether the session has a subscription to channelID that its channel
// actor has registered (its access was checked, and AccessChanged ends it when it goes).
func (s *connSubs) registered(channelID int64) bool {
	return slices.ContainsFunc(s.list, func(sub *connSub) bool { return sub.channelID == channelID && sub.sent })
}

func (s *connSubs) len() int { return len(s.list) }

// remove drops subscription id and returns it (nil when there is none).
func (s *connSubs) remove(id string) *connSub {
	i := slices.IndexFunc(s.list, func(sub *connSub) bool { return sub.id == id })
	if i < 0 {
		return nil
	}
	sub := s.list[i]
	s.list = slices.Delete(s.list, i, i+1)
	if len(s.list) == 0 {
		s.list = nil
	}
	return sub
}

// queue returns the id of the subscription to user queue dest.
func (s *connSubs) queue(dest string) (string, bool) {
	if i := slices.Index(userQueueOrder[:], dest); i >= 0 && s.queues[i] != "" {
		return s.queues[i], true
	}
	return "", false
}

// setQueue records id as the subscription to user queue dest ("" forgets it).
func (s *connSubs) setQueue(dest, id string) {
	if i := slices.Index(userQueueOrder[:], dest); i >= 0 {
		s.queues[i] = id
	}
}
