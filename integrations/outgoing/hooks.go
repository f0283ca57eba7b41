package outgoing

import (
	"context"
	"sync"
	"time"

	"github.com/parley-chat/parley/persistence"
)

// hookCache keeps the hooks deliveries read for HookCacheTTL, so that a busy hook's
// deliveries are not one PostgreSQL read each (a revocation takes effect within the TTL),
// and counts each hook's finished deliveries to trim its log every so many. Bounded by the
// hooks with deliveries in flight: entries expire on the next read after their TTL and
// the map is swept whenever it doubles.
type hookCache struct {
	store Store
	ttl   time.Duration
	now   func() time.Time

	mu       sync.Mutex
	entries  map[int64]cachedHook
	finishes map[int64]int
	sweepAt  int
}

type cachedHook struct {
	hook persistence.OutgoingWebhook
	at   time.Time
}

func newHookCache(store Store, ttl time.Duration) *hookCache {
	return &hookCache{store: store, ttl: ttl, now: time.Now, entries: map[int64]cachedHook{}, finishes: map[int64]int{}, sweepAt: 64}
}

// get returns the hook, from the cache when read less than ttl ago.
func (c *hookCache) get(ctx context.Context, id int64) (persistence.OutgoingWebhook, error) {
	now := c.now()
	c.mu.Lock()
	e, ok := c.entries[id]
	c.mu.Unlock()
	if ok && now.Sub(e.at) < c.ttl {
		return e.hook, nil
	}
	h, err := c.store.OutgoingWebhookByID(ctx, id)
	if err != nil {
		return h, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entries[id] = cachedHook{hook: h, at: now}
	if len(c.entries) >= c.sweepAt {
		for k, v := range c.entries {
			if now.Sub(v.at) >= c.ttl {
				delete(c.entries, k)
				delete(c.finishes, k)
			}
		}
		c.sweepAt = max(64, 2*len(c.entries))
	}
	return h, nil
}

// finished counts a finished delivery of hook id and says whether its log is due a trim
// (every n-th).
func (c *hookCache) finished(id int64, n int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.finishes[id]++
	if c.finishes[id] < n {
		return false
	}
	c.finishes[id] = 0
	return true
}
