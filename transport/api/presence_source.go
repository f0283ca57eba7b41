package api

import "context"

// PresenceSource reads users' presence statuses, "online", "away" or "offline"
// (cluster.Presence implements it). Every id asked for is in the answer.
// The members lists show "offline" for a user it leaves out, and for everyone when it is
// nil or fails.
type PresenceSource interface {
	Statuses(ctx context.Context, userIDs []int64) (map[int64]string, error)
}
