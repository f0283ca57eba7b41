package transport

import (
	"context"
	"sync/atomic"

	"github.com/parley-chat/parley/cluster"
)

// presenceRef lets the store ask about presence (for @here, ADR 0034) although the store
// is made before the presence service, which needs the bus and Redis. Until set, or when
// the node runs without presence, nobody is online.
type presenceRef struct {
	p atomic.Pointer[cluster.Presence]
}

func (r *presenceRef) set(p *cluster.Presence) { r.p.Store(p) }

// Statuses implements persistence.Presence.
func (r *presenceRef) Statuses(ctx context.Context, userIDs []int64) (map[int64]string, error) {
	p := r.p.Load()
	if p == nil {
		return map[int64]string{}, nil
	}
	return p.Statuses(ctx, userIDs)
}
