package bench

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"
)

// The ordering experiment (issue 6): senders on every node post to the same channels while
// receivers on every node record arrival order. It answers three questions:
//
//	(a) did any receiver see a channel out of seq order? (the checker's reordered count: must be 0)
//	(b) had a client ordered by timestamp id instead (the reference's approach), how often
//	    would it have shown two consecutive messages the wrong way round, were the nodes'
//	    clocks skewed by 0, 5 or 50 ms?
//	(c) did every receiver, whichever node, get the same sequence?
//
// (b) is computed, not staged: an id's top 41 bits are its node's clock in milliseconds, so
// skewing node k by k·d adds k·d to those bits. The committed order (seq) is what the
// server really decided; the question is how far a timestamp order strays from it.

// Id layout (SPEC "IDs and time"): 41 bits of milliseconds, 10 bits of node, 12 of sequence.
const (
	idSeqBits   = 12
	idNodeBits  = 10
	idTimeShift = idSeqBits + idNodeBits
)

func idNode(id int64) int64 { return (id >> idSeqBits) & (1<<idNodeBits - 1) }

// OrderingReport is the experiment's outcome.
type OrderingReport struct {
	Channels int     `json:"channels"`
	Messages int64   `json:"messages"`
	Nodes    []int64 `json:"nodeIds"` // node ids found in message ids
	// SeqInversions is deliveries below a seq already delivered, over every receiver (a).
	SeqInversions int64 `json:"seqInversions"`
	// Timestamp is (b), per simulated skew.
	Timestamp []SkewInversions `json:"timestampOrder"`
	// (c): channels where every receiver that stayed connected got the identical sequence.
	ChannelsCompared int `json:"channelsCompared"`
	ChannelsAgreeing int `json:"channelsAgreeing"`
	// ReceiversCompared counts subscriptions (a receiver of two channels counts twice).
	ReceiversCompared int      `json:"receiversCompared"`
	NodesCompared     int      `json:"nodesCompared"`
	Disagreements     []string `json:"disagreements,omitempty"`
}

// SkewInversions is how a timestamp-id order compares with seq order under one skew.
type SkewInversions struct {
	SkewMs float64 `json:"skewMs"`
	// Adjacent: consecutive messages (by seq) whose timestamp ids are in the other order.
	Adjacent     int64   `json:"adjacentInversions"`
	AdjacentRate float64 `json:"adjacentInversionPct"`
	// Pairs: all pairs of messages in a channel in the other order (Kendall distance).
	Pairs     int64   `json:"pairInversions"`
	PairsRate float64 `json:"pairInversionPct"`
}

func analyseOrdering(_ context.Context, r *runner, rep *Report) error {
	in := rep.checkInput
	o := &OrderingReport{SeqInversions: rep.Check.Reordered}
	// The committed order of each channel: acknowledged ids, else what receivers got.
	byChan := make(map[int64]map[int64]int64) // channel → seq → id
	for _, a := range in.Acks {
		if byChan[a.Channel] == nil {
			byChan[a.Channel] = make(map[int64]int64)
		}
		byChan[a.Channel][a.Seq] = a.MessageID
	}
	for c, d := range in.Delivered {
		if byChan[c] == nil {
			byChan[c] = make(map[int64]int64)
		}
		for i, id := range d.IDs {
			if s := d.From + 1 + int64(i); id != 0 && byChan[c][s] == 0 {
				byChan[c][s] = id
			}
		}
	}
	nodes := map[int64]bool{}
	orders := make([][]int64, 0, len(byChan))
	for _, m := range byChan {
		seqs := make([]int64, 0, len(m))
		for s := range m {
			seqs = append(seqs, s)
		}
		sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
		ids := make([]int64, len(seqs))
		for i, s := range seqs {
			ids[i] = m[s]
			nodes[idNode(ids[i])] = true
		}
		orders = append(orders, ids)
		o.Messages += int64(len(ids))
	}
	o.Channels = len(orders)
	for n := range nodes {
		o.Nodes = append(o.Nodes, n)
	}
	sort.Slice(o.Nodes, func(i, j int) bool { return o.Nodes[i] < o.Nodes[j] })
	for _, skew := range r.cfg.ClockSkews {
		o.Timestamp = append(o.Timestamp, timestampInversions(orders, o.Nodes, skew))
	}

	// (c) Same sequence everywhere: receivers of a channel from the same point agree on the
	// hash of their arrival order.
	type group struct {
		hashes map[uint64]int
		nodes  map[string]bool
		n      int
	}
	groups := map[[2]int64]*group{}
	for _, rs := range in.Receivers {
		if rs.Dropped {
			continue
		}
		for _, cs := range rs.Channels {
			k := [2]int64{cs.Channel, cs.From}
			g := groups[k]
			if g == nil {
				g = &group{hashes: map[uint64]int{}, nodes: map[string]bool{}}
				groups[k] = g
			}
			g.hashes[cs.Hash]++
			g.n++
			if rs.Receiver < len(r.specs) {
				g.nodes[r.specs[rs.Receiver].URL] = true
			}
		}
	}
	allNodes := map[string]bool{}
	for k, g := range groups {
		o.ChannelsCompared++
		o.ReceiversCompared += g.n
		for u := range g.nodes {
			allNodes[u] = true
		}
		if len(g.hashes) == 1 {
			o.ChannelsAgreeing++
		} else if len(o.Disagreements) < maxExamples {
			o.Disagreements = append(o.Disagreements, fmt.Sprintf("channel %d: %d receivers saw %d different sequences", k[0], g.n, len(g.hashes)))
		}
	}
	o.NodesCompared = len(allNodes)
	rep.Ordering = o
	if o.ChannelsAgreeing != o.ChannelsCompared {
		rep.Failures = append(rep.Failures, fmt.Sprintf("ordering: receivers disagree on the sequence of %d of %d channels",
			o.ChannelsCompared-o.ChannelsAgreeing, o.ChannelsCompared))
	}
	return nil
}

// timestampInversions compares each channel's seq order with the order of its (skewed)
// timestamp ids.
func timestampInversions(orders [][]int64, nodes []int64, skew time.Duration) SkewInversions {
	offset := map[int64]int64{}
	for k, n := range nodes {
		offset[n] = int64(k) * skew.Milliseconds()
	}
	res := SkewInversions{SkewMs: float64(skew) / float64(time.Millisecond)}
	var adjacentPairs, allPairs int64
	for _, ids := range orders {
		keys := make([]int64, len(ids))
		for i, id := range ids {
			keys[i] = id + offset[idNode(id)]<<idTimeShift
		}
		for i := 1; i < len(keys); i++ {
			if keys[i] < keys[i-1] {
				res.Adjacent++
			}
		}
		n := int64(len(keys))
		if n > 1 {
			adjacentPairs += n - 1
			allPairs += n * (n - 1) / 2
		}
		res.Pairs += countInversions(keys)
	}
	if adjacentPairs > 0 {
		res.AdjacentRate = 100 * float64(res.Adjacent) / float64(adjacentPairs)
	}
	if allPairs > 0 {
		res.PairsRate = 100 * float64(res.Pairs) / float64(allPairs)
	}
	return res
}

// countInversions counts pairs i < j with a[i] > a[j] (merge sort; a is not modified).
func countInversions(a []int64) int64 {
	buf := append([]int64(nil), a...)
	tmp := make([]int64, len(a))
	var sortCount func(lo, hi int) int64
	sortCount = func(lo, hi int) int64 {
		if hi-lo < 2 {
			return 0
		}
		mid := (lo + hi) / 2
		n := sortCount(lo, mid) + sortCount(mid, hi)
		i, j, k := lo, mid, lo
		for i < mid && j < hi {
			if buf[j] < buf[i] {
				n += int64(mid - i)
				tmp[k] = buf[j]
				j++
			} else {
				tmp[k] = buf[i]
				i++
			}
			k++
		}
		k += copy(tmp[k:], buf[i:mid])
		copy(tmp[k:], buf[j:hi])
		copy(buf[lo:hi], tmp[lo:hi])
		return n
	}
	return sortCount(0, len(buf))
}

func (o *OrderingReport) summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "ordering  %d messages in %d channels from nodes %v\n", o.Messages, o.Channels, o.Nodes)
	fmt.Fprintf(&b, "          (a) deliveries out of seq order: %d\n", o.SeqInversions)
	for _, t := range o.Timestamp {
		fmt.Fprintf(&b, "          (b) by timestamp id, skew %gms/node: %d adjacent inversions (%.3f%%), %d pair inversions (%.4f%%)\n",
			t.SkewMs, t.Adjacent, t.AdjacentRate, t.Pairs, t.PairsRate)
	}
	fmt.Fprintf(&b, "          (c) same sequence at every receiver: %d of %d channels (%d subscriptions on %d nodes)\n",
		o.ChannelsAgreeing, o.ChannelsCompared, o.ReceiversCompared, o.NodesCompared)
	for _, d := range o.Disagreements {
		fmt.Fprintf(&b, "          ! %s\n", d)
	}
	return b.String()
}
