// Package cluster is what parley nodes share through Redis: node-id leases, the
// cross-node event bus with per-channel interest, and the read-marker cache.
package cluster

import (
	"fmt"
	"sync"
	"time"
)

// ID layout (SPEC "IDs and time"): 41 bits of milliseconds since Epoch, 10 bits of node
// id, 12 bits of sequence. 41 bits of milliseconds last about 69 years from Epoch.
const (
	nodeBits  = 10
	seqBits   = 12
	MaxNodeID = 1<<nodeBits - 1
	maxSeq    = 1<<seqBits - 1
)

// Epoch is the zero of the id's time field: 2024-01-01T00:00:00Z.
var Epoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// IDGenerator makes 64-bit time-ordered ids that are unique across nodes without
// coordination, given unique node ids (see Lease).
//
// Uniqueness never depends on the wall clock: the generator remembers the last millisecond
// it used and never goes below it. When the clock steps back it keeps counting from that
// millisecond (borrowing from the future) instead of waiting for the clock to catch up,
// which could stall sends for as long as the step. When 4,096 ids have been made in one
// millisecond of a clock that is not behind, it waits for the next millisecond.
type IDGenerator struct {
	node int64
	now  func() time.Time

	mu     sync.Mutex
	lastMS int64
	seq    int64
}

// NewIDGenerator returns a generator for node (0..1023). now may be nil (time.Now).
func NewIDGenerator(node int, now func() time.Time) (*IDGenerator, error) {
	if node < 0 || node > MaxNodeID {
		return nil, fmt.Errorf("node id %d out of range 0..%d", node, MaxNodeID)
	}
	if now == nil {
		now = time.Now
	}
	return &IDGenerator{node: int64(node), now: now, lastMS: -1}, nil
}

// Node returns the generator's node id.
func (g *IDGenerator) Node() int { return int(g.node) }

// Next returns a new id, strictly greater than every id this generator made before.
func (g *IDGenerator) Next() int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	for {
		ms := g.now().Sub(Epoch).Milliseconds()
		switch {
		case ms > g.lastMS:
			g.lastMS, g.seq = ms, 0
		case g.seq < maxSeq:
			g.seq++
		case ms == g.lastMS:
			// 4,096 ids this millisecond: wait for the next one.
			g.mu.Unlock()
			time.Sleep(50 * time.Microsecond)
			g.mu.Lock()
			continue
		default:
			// The clock is behind the last millisecond used and this one is full.
			g.lastMS, g.seq = g.lastMS+1, 0
		}
		return g.lastMS<<(nodeBits+seqBits) | g.node<<seqBits | g.seq
	}
}

// IDTime returns the millisecond an id was made in.
func IDTime(id int64) time.Time {
	return Epoch.Add(time.Duration(id>>(nodeBits+seqBits)) * time.Millisecond)
}

// IDNode returns the node id inside an id.
func IDNode(id int64) int { return int(id>>seqBits) & MaxNodeID }

// IDFloor returns the smallest id made in t's millisecond or later: every id made at or
// after t (by a clock that was not behind) is >= IDFloor(t). Search uses it to bound date
// filters on the primary key (ADR 0039).
func IDFloor(t time.Time) int64 {
	ms := t.Sub(Epoch).Milliseconds()
	if ms < 0 {
		return 0
	}
	return ms << (nodeBits + seqBits)
}
