package actors

import (
	"log/slog"
	"sync"

	"github.com/asynkron/protoactor-go/actor"
	cmap "github.com/orcaman/concurrent-map"
)

// registryShards sets concurrent-map's package variable SHARD_COUNT to 1, once, before the
// first actor system exists: protoactor's process registry is 1,024 of its maps, 66,585 heap
// objects per system at the default 32 shards and 3,103 at one, all marked by every
// collection (ADR 0013). protoactor is the package's only user (internal/archtest keeps it
// so) and every actor system is made by newActorSystem; ADR 0029 has the measurement.
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
