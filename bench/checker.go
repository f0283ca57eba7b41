package bench

import (
	"fmt"
	"sort"
	"sync"
)

// The checker is Jepsen's total-queue checker adapted to a broadcast log: the acknowledged
// sends say what must exist (channel, seq, message id); each receiver's delivery log says
// what it got, in arrival order. Every receiver that stayed subscribed must have received
// every acknowledged message of its channels after its subscription point exactly once, and
// in strictly increasing seq.
//
// A Tracker keeps one receiver's log compactly (the id per seq, not a list of deliveries),
// so a worker can check millions of deliveries; summaries of trackers from every worker are
// combined by Check.

// Ack is a message acknowledged to its sender (RECEIPT or 201): committed with this seq.
type Ack struct {
	Channel   int64
	Seq       int64
	MessageID int64
}

// Delivery is one message as a receiver got it.
type Delivery struct {
	Channel   int64
	Seq       int64
	MessageID int64
}

// maxSeqSpan bounds how far past its subscription point a receiver's log grows, so that a
// corrupt seq cannot allocate gigabytes; beyond it a delivery counts as unexpected.
const maxSeqSpan = 50_000_000

// Tracker is one receiver's delivery log. Observe is called from the receiver's read
// goroutine; the mutex only orders it against Summary and Last.
type Tracker struct {
	mu         sync.Mutex
	chans      map[int64]*chanLog
	unexpected int64 // deliveries on channels not subscribed
	dropped    bool
}

type chanLog struct {
	from int64   // every seq > from is expected
	ids  []int64 // ids[seq-from-1]: the id delivered with seq; 0 not yet
	max  int64   // highest seq delivered
	hash uint64  // FNV-1a over ids in arrival order: equal hashes, same sequence

	delivered, duplicates, reordered, conflicts, unexpected int64
}

// NewTracker returns an empty log.
func NewTracker() *Tracker { return &Tracker{chans: make(map[int64]*chanLog)} }

// Expect records a subscription: every message of channel with seq > from must arrive. A
// second call for the same channel (a resume with since-seq) keeps the log.
func (t *Tracker) Expect(channel, from int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.chans[channel]; !ok {
		t.chans[channel] = &chanLog{from: from, hash: fnvOffset}
	}
}

// Observe records one delivery and reports whether it was new (not a duplicate).
func (t *Tracker) Observe(channel, seq, id int64) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	l := t.chans[channel]
	if l == nil {
		t.unexpected++
		return false
	}
	l.delivered++
	l.hash = fnvAdd(l.hash, id)
	i := seq - l.from - 1
	if i < 0 || i >= maxSeqSpan {
		l.unexpected++
		return false
	}
	if i >= int64(len(l.ids)) {
		if i >= int64(cap(l.ids)) {
			// From 4, doubling: 10,000 users × 20 channels with a few messages each made a
			// 64-entry start 100 MB of garbage per run.
			grown := make([]int64, i+1, max(2*cap(l.ids), int(i+1), 4))
			copy(grown, l.ids)
			l.ids = grown
		} else {
			l.ids = l.ids[:i+1]
		}
	}
	if prev := l.ids[i]; prev != 0 {
		l.duplicates++
		if prev != id {
			l.conflicts++
		}
		return false
	}
	l.ids[i] = id
	if seq < l.max {
		l.reordered++
	} else {
		l.max = seq
	}
	return true
}

// Last is the highest seq delivered on channel (its subscription point if none): where a
// resume with since-seq starts.
func (t *Tracker) Last(channel int64) int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	if l := t.chans[channel]; l != nil {
		return max(l.max, l.from)
	}
	return 0
}

// Drop marks the receiver as gone before the end (its losses are not counted).
func (t *Tracker) Drop() {
	t.mu.Lock()
	t.dropped = true
	t.mu.Unlock()
}

// ReceiverSummary is a Tracker's outcome, small enough to cross a pipe.
type ReceiverSummary struct {
	Receiver   int
	Dropped    bool             `json:",omitempty"`
	Unexpected int64            `json:",omitempty"` // deliveries on channels not subscribed
	Channels   []ChannelSummary `json:",omitempty"`
}

// ChannelSummary is one receiver's log of one channel.
type ChannelSummary struct {
	Channel int64
	From    int64
	Max     int64
	// Ranges are the seqs received, as sorted inclusive runs.
	Ranges                                                  [][2]int64
	Delivered, Duplicates, Reordered, Conflicts, Unexpected int64 `json:",omitempty"`
	Hash                                                    uint64
}

// Summary returns the log's outcome for receiver.
func (t *Tracker) Summary(receiver int) ReceiverSummary {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := ReceiverSummary{Receiver: receiver, Dropped: t.dropped, Unexpected: t.unexpected}
	chans := make([]int64, 0, len(t.chans))
	for c := range t.chans {
		chans = append(chans, c)
	}
	sort.Slice(chans, func(i, j int) bool { return chans[i] < chans[j] })
	for _, c := range chans {
		l := t.chans[c]
		cs := ChannelSummary{
			Channel: c, From: l.from, Max: l.max, Hash: l.hash,
			Delivered: l.delivered, Duplicates: l.duplicates, Reordered: l.reordered,
			Conflicts: l.conflicts, Unexpected: l.unexpected,
		}
		start := int64(-1)
		for i, id := range l.ids {
			switch {
			case id != 0 && start < 0:
				start = int64(i)
			case id == 0 && start >= 0:
				cs.Ranges = append(cs.Ranges, [2]int64{l.from + 1 + start, l.from + int64(i)})
				start = -1
			}
		}
		if start >= 0 {
			cs.Ranges = append(cs.Ranges, [2]int64{l.from + 1 + start, l.from + int64(len(l.ids))})
		}
		s.Channels = append(s.Channels, cs)
	}
	return s
}

// SeqIDs is a channel's seq → message id as delivered: IDs[i] is seq From+1+i (0: no one
// received it).
type SeqIDs struct {
	From int64
	IDs  []int64
}

func (s *SeqIDs) get(seq int64) int64 {
	if i := seq - s.From - 1; i >= 0 && i < int64(len(s.IDs)) {
		return s.IDs[i]
	}
	return 0
}

// mergeDelivered adds t's deliveries to dst (channel → SeqIDs) and returns how many seqs t
// received with another id than an earlier receiver did.
func mergeDelivered(dst map[int64]*SeqIDs, t *Tracker) (conflicts int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for c, l := range t.chans {
		conflicts += mergeSeqIDs(dst, c, l.from, l.ids)
	}
	return conflicts
}

func mergeSeqIDs(dst map[int64]*SeqIDs, channel, from int64, ids []int64) (conflicts int64) {
	d := dst[channel]
	if d == nil {
		d = &SeqIDs{From: from}
		dst[channel] = d
	}
	if from < d.From { // extend at the front
		grown := make([]int64, d.From-from+int64(len(d.IDs)))
		copy(grown[d.From-from:], d.IDs)
		d.IDs, d.From = grown, from
	}
	off := from - d.From
	if need := off + int64(len(ids)); need > int64(len(d.IDs)) {
		d.IDs = append(d.IDs, make([]int64, need-int64(len(d.IDs)))...)
	}
	for i, id := range ids {
		if id == 0 {
			continue
		}
		switch prev := d.IDs[off+int64(i)]; {
		case prev == 0:
			d.IDs[off+int64(i)] = id
		case prev != id:
			conflicts++
		}
	}
	return conflicts
}

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func fnvAdd(h uint64, v int64) uint64 {
	for i := 0; i < 8; i++ {
		h ^= uint64(byte(v >> (8 * i)))
		h *= fnvPrime
	}
	return h
}

// CheckInput is everything the checker needs from every worker.
type CheckInput struct {
	Acks      []Ack
	Receivers []ReceiverSummary
	// Delivered is channel → seq → id as received (merged over receivers); nil skips the
	// cross-check of delivered against acknowledged ids.
	Delivered map[int64]*SeqIDs
	// DeliveredConflicts are conflicts already found while merging Delivered.
	DeliveredConflicts int64
}

// CheckResult counts what went wrong; Failed says whether anything did.
type CheckResult struct {
	Acked            int64 `json:"acked"`
	Receivers        int   `json:"receivers"`
	ReceiversDropped int   `json:"receiversDropped"`
	Deliveries       int64 `json:"deliveries"`
	// Expected is the (receiver, acknowledged message) pairs that had to arrive.
	Expected int64 `json:"expected"`
	// Lost is expected pairs never delivered; LostMessages the distinct messages concerned.
	Lost         int64 `json:"lost"`
	LostMessages int64 `json:"lostMessages"`
	// Duplicated is deliveries of a seq the receiver already had.
	Duplicated int64 `json:"duplicated"`
	// Reordered is deliveries whose seq was below one already delivered.
	Reordered int64 `json:"reordered"`
	// Gaps is seqs a receiver never got although the channel reached them, acknowledged or
	// not (a committed message whose RECEIPT was lost still has to be delivered).
	Gaps int64 `json:"gaps"`
	// Conflicts is a seq seen with two message ids, or delivered with another id than its
	// sender was acknowledged.
	Conflicts int64 `json:"conflicts"`
	// Unexpected is deliveries before the subscription point or on a channel not subscribed.
	Unexpected int64 `json:"unexpected"`
	// AckConflicts is two acknowledgements of one (channel, seq) with different ids.
	AckConflicts int64 `json:"ackConflicts"`
	// DBChecked: the acknowledged ids were looked up in PostgreSQL; MissingInDB were not
	// found, DBMismatched were found in another channel or at another seq.
	DBChecked    bool  `json:"dbChecked"`
	MissingInDB  int64 `json:"missingInDb"`
	DBMismatched int64 `json:"dbMismatched"`
	// Examples describe the first problems found.
	Examples []string `json:"examples,omitempty"`
}

// Failed reports whether any guarantee was violated.
func (r CheckResult) Failed() bool {
	return r.Lost+r.Duplicated+r.Reordered+r.Gaps+r.Conflicts+r.Unexpected+r.AckConflicts+r.MissingInDB+r.DBMismatched > 0
}

const maxExamples = 10

func (r *CheckResult) example(format string, args ...any) {
	if len(r.Examples) < maxExamples {
		r.Examples = append(r.Examples, fmt.Sprintf(format, args...))
	}
}

// Check runs the checker.
func Check(in CheckInput) CheckResult {
	var r CheckResult
	acks := make(map[int64][]Ack) // channel → acks sorted by seq, deduplicated
	for _, a := range in.Acks {
		acks[a.Channel] = append(acks[a.Channel], a)
	}
	chanMax := make(map[int64]int64)
	for c, as := range acks {
		sort.Slice(as, func(i, j int) bool { return as[i].Seq < as[j].Seq })
		out := as[:0]
		for _, a := range as {
			if n := len(out); n > 0 && out[n-1].Seq == a.Seq {
				if out[n-1].MessageID != a.MessageID {
					r.AckConflicts++
					r.example("channel %d seq %d acknowledged as both message %d and %d", c, a.Seq, out[n-1].MessageID, a.MessageID)
				}
				continue
			}
			out = append(out, a)
		}
		acks[c] = out
		r.Acked += int64(len(out))
		if len(out) > 0 {
			chanMax[c] = out[len(out)-1].Seq
		}
	}
	for _, rs := range in.Receivers {
		for _, cs := range rs.Channels {
			chanMax[cs.Channel] = max(chanMax[cs.Channel], cs.Max)
		}
	}
	lost := make(map[int64]struct{}) // message ids lost somewhere
	r.Conflicts += in.DeliveredConflicts
	for _, rs := range in.Receivers {
		r.Receivers++
		r.Unexpected += rs.Unexpected
		if rs.Unexpected > 0 {
			r.example("receiver %d got %d messages on channels it did not subscribe to", rs.Receiver, rs.Unexpected)
		}
		if rs.Dropped {
			r.ReceiversDropped++
		}
		for _, cs := range rs.Channels {
			r.Deliveries += cs.Delivered
			r.Duplicated += cs.Duplicates
			r.Reordered += cs.Reordered
			r.Conflicts += cs.Conflicts
			r.Unexpected += cs.Unexpected
			if cs.Duplicates > 0 {
				r.example("receiver %d channel %d: %d duplicate deliveries", rs.Receiver, cs.Channel, cs.Duplicates)
			}
			if cs.Reordered > 0 {
				r.example("receiver %d channel %d: %d deliveries below a seq already delivered", rs.Receiver, cs.Channel, cs.Reordered)
			}
			if cs.Conflicts > 0 {
				r.example("receiver %d channel %d: %d seqs delivered with two different ids", rs.Receiver, cs.Channel, cs.Conflicts)
			}
			if cs.Unexpected > 0 {
				r.example("receiver %d channel %d: %d deliveries at or below its subscription point %d", rs.Receiver, cs.Channel, cs.Unexpected, cs.From)
			}
			if rs.Dropped {
				continue // it left: what it did not get is not lost
			}
			var distinct int64
			for _, rg := range cs.Ranges {
				distinct += rg[1] - rg[0] + 1
			}
			if top := chanMax[cs.Channel]; top > cs.From {
				if g := top - cs.From - distinct; g > 0 {
					r.Gaps += g
					r.example("receiver %d channel %d: %d of seqs %d..%d never delivered", rs.Receiver, cs.Channel, g, cs.From+1, top)
				}
			}
			as := acks[cs.Channel]
			first := sort.Search(len(as), func(i int) bool { return as[i].Seq > cs.From })
			window := as[first:]
			r.Expected += int64(len(window))
			covered := 0
			for _, rg := range cs.Ranges {
				lo := sort.Search(len(window), func(i int) bool { return window[i].Seq >= rg[0] })
				hi := sort.Search(len(window), func(i int) bool { return window[i].Seq > rg[1] })
				covered += hi - lo
			}
			if n := int64(len(window) - covered); n > 0 {
				r.Lost += n
				for _, a := range window {
					if !inRanges(cs.Ranges, a.Seq) {
						if _, seen := lost[a.MessageID]; !seen && len(r.Examples) < maxExamples {
							r.example("receiver %d channel %d: acknowledged message %d (seq %d) never delivered", rs.Receiver, cs.Channel, a.MessageID, a.Seq)
						}
						lost[a.MessageID] = struct{}{}
					}
				}
			}
		}
	}
	r.LostMessages = int64(len(lost))
	if in.Delivered != nil {
		for c, as := range acks {
			d := in.Delivered[c]
			if d == nil {
				continue
			}
			for _, a := range as {
				if got := d.get(a.Seq); got != 0 && got != a.MessageID {
					r.Conflicts++
					r.example("channel %d seq %d: acknowledged as message %d, delivered as %d", c, a.Seq, a.MessageID, got)
				}
			}
		}
	}
	return r
}

func inRanges(rs [][2]int64, seq int64) bool {
	i := sort.Search(len(rs), func(i int) bool { return rs[i][1] >= seq })
	return i < len(rs) && rs[i][0] <= seq
}

// ReceiverLog is a receiver's raw delivery log, for CheckLogs.
type ReceiverLog struct {
	// Channels are subscribed from seq 0 (every message expected).
	Channels   []int64
	Deliveries []Delivery
	Dropped    bool
}

// CheckLogs checks raw logs: the form Jepsen's checker takes, used by tests and by callers
// (issue 9's fault suite) that keep their own logs.
func CheckLogs(acks []Ack, logs []ReceiverLog) CheckResult {
	in := CheckInput{Acks: acks, Delivered: make(map[int64]*SeqIDs)}
	for i, l := range logs {
		t := NewTracker()
		for _, c := range l.Channels {
			t.Expect(c, 0)
		}
		for _, d := range l.Deliveries {
			t.Observe(d.Channel, d.Seq, d.MessageID)
		}
		if l.Dropped {
			t.Drop()
		}
		in.DeliveredConflicts += mergeDelivered(in.Delivered, t)
		in.Receivers = append(in.Receivers, t.Summary(i))
	}
	return Check(in)
}
