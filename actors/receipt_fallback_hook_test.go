package actors

import (
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"
)

// fallbackCrash is the supervision test's poison pill. It is declared here, in a test
// file, so that no message in the production set can make the fallback panic.
type fallbackCrash struct{}

// fallbackCrasher makes a fallback panic on fallbackCrash and counts its incarnations.
type fallbackCrasher struct {
	starts atomic.Int32 // *actor.Started seen: one per incarnation
}

// arm installs the crasher in r; call it before r.Start.
func (c *fallbackCrasher) arm(r *Receipts) {
	r.fallbackHook = func(msg any) {
		switch msg.(type) {
		case *actor.Started:
			c.starts.Add(1)
		case fallbackCrash:
			panic("receipt fallback: crash requested")
		}
	}
}
