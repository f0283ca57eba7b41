package actors

import (
	"log/slog"
	"sync"

	"github.com/asynkron/protoactor-go/actor"
	cmap "github.com/orcaman/concurrent-map"
)

// registryShards sets, once and before the first actor system exists, how many shards each
// bucket of protoactor's process registry has. The registry is 1,024 concurrent maps of
// concurrent-map's default 32 shards: 66,000 heap objects per actor system (measured with
// runtime.MemStats), fixed, and marked by every garbage-collection cycle — as many as 1,500
// sessions' worth (ADR 0013). With one shard per bucket the
// registry is still 1,024-way striped, which two cores do not contend. SHARD_COUNT is
// concurrent-map's package variable, read on every access; protoactor is its only user
// here, and every actor system is made by newActorSystem, after this has run.
var registryShards sync.Once

// Actors is a node's one protoactor system, shared by its System and its Receipts: one
// process registry, event stream and dead-letter process per node, not one per component
// (ADR 0029). Its owner shuts it down after both.
type Actors struct{ as *actor.ActorSystem }

// NewActors makes the actor system; log nil: discard.
func NewActors(log *slog.Logger) *Actors {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Actors{as: newActorSystem(log)}
}

// Shutdown stops the system. Call it once, after the System and Receipts using it have shut
// down.
func (a *Actors) Shutdown() { a.as.Shutdown() }

// newActorSystem makes a protoactor system that logs through log: its dead letters (a timer
// firing for an actor that has just stopped) are expected here, so they go to Debug.
func newActorSystem(log *slog.Logger) *actor.ActorSystem {
	registryShards.Do(func() { cmap.SHARD_COUNT = 1 })
	alog := slog.New(levelShift{log.Handler()}).With("lib", "protoactor")
	return actor.NewActorSystem(
		actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return alog }),
		actor.WithDeadLetterRequestLogging(false),
	)
}
