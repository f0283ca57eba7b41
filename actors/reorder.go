package actors

// reorder is a channel actor's view of its channel's seq on this node: what it has
// delivered to local subscribers, and the new messages it holds back until the ones before
// them are here. Messages come from three places — this node's commits, other nodes through
// the bus, and PostgreSQL gap fills — in any order and possibly twice; they leave in seq
// order, each once. Owned by the actor; not safe for concurrent use.
type reorder struct {
	// known: last is settled (the baseline read from PostgreSQL when the first local
	// subscriber came). Before that nothing is released.
	known bool
	// last is the highest seq delivered: every seq ≤ last was delivered or predates the
	// baseline.
	last int64
	// head is the highest seq known to be committed (from batches, announcements, commits).
	head int64
	// buf holds messages with seq > last+1 (or any seq while !known), by seq.
	buf map[int64]*event
}

// reset forgets everything: the node no longer follows the channel.
func (r *reorder) reset() {
	r.known, r.last, r.head = false, 0, 0
	clear(r.buf)
}

// setBase settles last at base and drops what it already covers; it returns how many
// buffered messages were dropped.
func (r *reorder) setBase(base int64) int {
	r.known, r.last = true, base
	r.head = max(r.head, base)
	dropped := 0
	for s := range r.buf {
		if s <= base {
			delete(r.buf, s)
			dropped++
		}
	}
	return dropped
}

// add takes a new message and reports whether it was new: false for a seq already
// delivered or already held.
func (r *reorder) add(ev *event) bool {
	if ev.seq <= 0 || (r.known && ev.seq <= r.last) {
		return false
	}
	if _, held := r.buf[ev.seq]; held {
		return false
	}
	if r.buf == nil {
		r.buf = make(map[int64]*event)
	}
	r.buf[ev.seq] = ev
	r.head = max(r.head, ev.seq)
	return true
}

// announce records that seq is committed somewhere.
func (r *reorder) announce(seq int64) { r.head = max(r.head, seq) }

// pop returns the next message in seq order if it is here, else nil.
func (r *reorder) pop() *event {
	if !r.known {
		return nil
	}
	ev := r.buf[r.last+1]
	if ev == nil {
		return nil
	}
	delete(r.buf, ev.seq)
	r.last = ev.seq
	return ev
}

// gap reports whether messages are known to be missing: held back, or announced and not
// yet seen.
func (r *reorder) gap() bool { return r.known && (len(r.buf) > 0 || r.head > r.last) }

// held is how many messages wait behind a gap.
func (r *reorder) held() int { return len(r.buf) }
