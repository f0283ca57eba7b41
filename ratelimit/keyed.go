// Package ratelimit keeps token buckets (golang.org/x/time/rate) by key — a user, a source
// address — in bounded memory, and counts refusals in one metric. ADR 0026.
package ratelimit

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"
)

// DefaultMaxKeys bounds the buckets one Keyed holds.
const DefaultMaxKeys = 100_000

// Keyed is a token bucket per key: Rate tokens a second, Burst at most. A bucket that has
// filled up again is the same as a new one, so it is dropped: memory follows the keys
// active in the last Burst/Rate seconds. When MaxKeys buckets are active at once (an
// attacker rotating addresses), arbitrary ones are dropped: their keys start again with a
// full bucket, which a rotating attacker gets anyway from a new key.
type Keyed[K comparable] struct {
	limit   rate.Limit
	burst   int
	maxKeys int
	refill  time.Duration // an empty bucket is full again after this

	mu        sync.Mutex
	buckets   map[K]*rate.Limiter
	nextSweep time.Time
}

// New returns buckets of perSecond tokens a second and burst at most, for up to maxKeys
// keys (0: DefaultMaxKeys).
func New[K comparable](perSecond float64, burst, maxKeys int) (*Keyed[K], error) {
	if perSecond <= 0 || math.IsInf(perSecond, 0) || math.IsNaN(perSecond) || burst < 1 {
		return nil, fmt.Errorf("ratelimit: want a positive rate and burst, have %g/s burst %d", perSecond, burst)
	}
	if maxKeys == 0 {
		maxKeys = DefaultMaxKeys
	}
	if maxKeys < 1 {
		return nil, errors.New("ratelimit: maxKeys must be positive")
	}
	refill := time.Duration(float64(burst) / perSecond * float64(time.Second))
	return &Keyed[K]{limit: rate.Limit(perSecond), burst: burst, maxKeys: maxKeys,
		refill: max(refill, time.Millisecond), buckets: make(map[K]*rate.Limiter)}, nil
}

// Allow takes n tokens from key's bucket. When they are not there it takes none and
// returns false with how long until they would be (the Retry-After); n above Burst can
// never be had and waits for ever (math.MaxInt64).
func (k *Keyed[K]) Allow(key K, n int) (bool, time.Duration) {
	return k.AllowAt(key, n, time.Now())
}

// AllowAt is Allow at time now.
func (k *Keyed[K]) AllowAt(key K, n int, now time.Time) (bool, time.Duration) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if now.After(k.nextSweep) {
		k.sweep(now, false)
	}
	l := k.buckets[key]
	if l == nil {
		if len(k.buckets) >= k.maxKeys {
			k.sweep(now, true)
		}
		l = rate.NewLimiter(k.limit, k.burst)
		k.buckets[key] = l
	}
	r := l.ReserveN(now, n)
	if !r.OK() {
		return false, time.Duration(math.MaxInt64)
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// Len is how many buckets are held.
func (k *Keyed[K]) Len() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.buckets)
}

// Burst is the bucket size.
func (k *Keyed[K]) Burst() int { return k.burst }

// Rate is the refill rate, tokens per second.
func (k *Keyed[K]) Rate() float64 { return float64(k.limit) }

// sweep drops the buckets that are full again; when full is set and that freed less than
// an eighth of MaxKeys, arbitrary ones too, so that inserts at the cap stay cheap.
func (k *Keyed[K]) sweep(now time.Time, full bool) {
	k.nextSweep = now.Add(k.refill)
	for key, l := range k.buckets {
		if l.TokensAt(now) >= float64(k.burst) {
			delete(k.buckets, key)
		}
	}
	if !full {
		return
	}
	for key := range k.buckets {
		if len(k.buckets) <= k.maxKeys-max(k.maxKeys/8, 1) {
			break
		}
		delete(k.buckets, key)
	}
}

// NewCounter returns parley_rate_limited_total{limit}, registered on reg (nil: none); a
// second caller on the same registry shares the first one's.
func NewCounter(reg prometheus.Registerer) (*prometheus.CounterVec, error) {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "parley_rate_limited_total",
		Help: "Requests, frames and replayed messages refused by a rate limit, by limit.",
	}, []string{"limit"})
	if reg == nil {
		return c, nil
	}
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if !errors.As(err, &are) {
			return nil, fmt.Errorf("ratelimit: register metrics: %w", err)
		}
		return are.ExistingCollector.(*prometheus.CounterVec), nil
	}
	return c, nil
}
