package cluster

import (
	"fmt"
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2"
)

// EmbeddedRedis is an in-process Redis (miniredis) for the one-command demo. miniredis only
// expires keys when its clock is advanced, so a ticker advances it in step with the wall
// clock: without it node-id leases and other TTLs would never lapse.
type EmbeddedRedis struct {
	mr   *miniredis.Miniredis
	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// StartEmbeddedRedis listens on addr ("" or "127.0.0.1:0" for a free port).
func StartEmbeddedRedis(addr string) (*EmbeddedRedis, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	mr := miniredis.NewMiniRedis()
	if err := mr.StartAddr(addr); err != nil {
		return nil, fmt.Errorf("start embedded redis on %s: %w", addr, err)
	}
	e := &EmbeddedRedis{mr: mr, stop: make(chan struct{}), done: make(chan struct{})}
	go e.tick()
	return e, nil
}

func (e *EmbeddedRedis) tick() {
	defer close(e.done)
	const step = 100 * time.Millisecond
	t := time.NewTicker(step)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-e.stop:
			return
		case now := <-t.C:
			e.mr.FastForward(now.Sub(last))
			last = now
		}
	}
}

// Addr is host:port of the embedded server.
func (e *EmbeddedRedis) Addr() string { return e.mr.Addr() }

// URL is a redis:// URL of the embedded server.
func (e *EmbeddedRedis) URL() string { return "redis://" + e.mr.Addr() }

// Close stops the server. Safe to call more than once.
func (e *EmbeddedRedis) Close() {
	e.once.Do(func() {
		close(e.stop)
		<-e.done
		e.mr.Close()
	})
}
