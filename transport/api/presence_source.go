package api

import "context"

// PresenceSource tells the members lists who is online: the presence service (Redis) in
// production. Statuses answers "online", "away" or "offline" per user id; a user it leaves
// out is offline. A nil PresenceSource in Deps shows everyone offline.
type PresenceSource interface {
	Statuses(ctx context.Context, userIDs []int64) (map[int64]string, error)
}
