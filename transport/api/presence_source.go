package api

import "context"

// PresenceSource reads users' presence statuses, "online", "away" or "offline"
// (cluster.Presence implements it). Every id asked for is in the answer.
type PresenceSource interface {
	Statuses(ctx context.Context, userIDs []int64) (map[int64]string, error)
}
