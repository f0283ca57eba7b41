package bench

import (
	"testing"
)

// acksFor acknowledges seqs 1..n of channel c with ids c*1000+seq.
func acksFor(c int64, n int) []Ack {
	out := make([]Ack, n)
	for i := range out {
		s := int64(i + 1)
		out[i] = Ack{Channel: c, Seq: s, MessageID: c*1000 + s}
	}
	return out
}

// inOrder delivers seqs of channel c in the given order.
func deliver(c int64, seqs ...int64) []Delivery {
	out := make([]Delivery, len(seqs))
	for i, s := range seqs {
		out[i] = Delivery{Channel: c, Seq: s, MessageID: c*1000 + s}
	}
	return out
}

func TestCheckerClean(t *testing.T) {
	acks := append(acksFor(1, 5), acksFor(2, 3)...)
	r := CheckLogs(acks, []ReceiverLog{
		{Channels: []int64{1, 2}, Deliveries: append(deliver(1, 1, 2, 3), append(deliver(2, 1, 2, 3), deliver(1, 4, 5)...)...)},
		{Channels: []int64{1}, Deliveries: deliver(1, 1, 2, 3, 4, 5)},
	})
	if r.Failed() {
		t.Fatalf("clean logs failed: %+v", r)
	}
	if r.Acked != 8 || r.Expected != 13 || r.Deliveries != 13 || r.Receivers != 2 {
		t.Fatalf("counts: %+v", r)
	}
}

func TestCheckerDetectsLost(t *testing.T) {
	r := CheckLogs(acksFor(1, 5), []ReceiverLog{
		{Channels: []int64{1}, Deliveries: deliver(1, 1, 2, 3, 4, 5)},
		{Channels: []int64{1}, Deliveries: deliver(1, 1, 2, 4, 5)}, // 3 missing
	})
	if r.Lost != 1 || r.LostMessages != 1 || r.Gaps != 1 || !r.Failed() {
		t.Fatalf("lost message not reported: %+v", r)
	}
	if r.Duplicated != 0 || r.Reordered != 0 {
		t.Fatalf("false positives: %+v", r)
	}
	if len(r.Examples) == 0 {
		t.Fatal("no example given")
	}
}

func TestCheckerDetectsLostTail(t *testing.T) {
	// The last acknowledged message never arrives: no gap between deliveries shows it.
	r := CheckLogs(acksFor(1, 5), []ReceiverLog{{Channels: []int64{1}, Deliveries: deliver(1, 1, 2, 3, 4)}})
	if r.Lost != 1 || !r.Failed() {
		t.Fatalf("lost tail not reported: %+v", r)
	}
}

func TestCheckerDetectsDuplicate(t *testing.T) {
	r := CheckLogs(acksFor(1, 3), []ReceiverLog{{Channels: []int64{1}, Deliveries: deliver(1, 1, 2, 2, 3)}})
	if r.Duplicated != 1 || !r.Failed() {
		t.Fatalf("duplicate not reported: %+v", r)
	}
	if r.Lost != 0 || r.Reordered != 0 || r.Conflicts != 0 {
		t.Fatalf("false positives: %+v", r)
	}
}

func TestCheckerDetectsReordered(t *testing.T) {
	r := CheckLogs(acksFor(1, 4), []ReceiverLog{{Channels: []int64{1}, Deliveries: deliver(1, 1, 3, 2, 4)}})
	if r.Reordered != 1 || !r.Failed() {
		t.Fatalf("reordering not reported: %+v", r)
	}
	if r.Lost != 0 || r.Duplicated != 0 || r.Gaps != 0 {
		t.Fatalf("false positives: %+v", r)
	}
}

func TestCheckerDetectsUnackedGap(t *testing.T) {
	// seq 2 was committed (another receiver got it) but its sender never saw the RECEIPT:
	// receiver 1 still had to get it.
	acks := []Ack{{1, 1, 1001}, {1, 3, 1003}}
	r := CheckLogs(acks, []ReceiverLog{
		{Channels: []int64{1}, Deliveries: deliver(1, 1, 2, 3)},
		{Channels: []int64{1}, Deliveries: deliver(1, 1, 3)},
	})
	if r.Lost != 0 || r.Gaps != 1 || !r.Failed() {
		t.Fatalf("gap not reported: %+v", r)
	}
}

func TestCheckerDetectsConflicts(t *testing.T) {
	acks := acksFor(1, 2)
	r := CheckLogs(acks, []ReceiverLog{{Channels: []int64{1}, Deliveries: []Delivery{{1, 1, 1001}, {1, 2, 9999}}}})
	if r.Conflicts != 1 || !r.Failed() {
		t.Fatalf("id conflict not reported: %+v", r)
	}
	r = CheckLogs(append(acks, Ack{1, 2, 7777}), nil)
	if r.AckConflicts != 1 {
		t.Fatalf("ack conflict not reported: %+v", r)
	}
}

func TestCheckerDroppedReceiverNotCountedLost(t *testing.T) {
	r := CheckLogs(acksFor(1, 5), []ReceiverLog{{Channels: []int64{1}, Deliveries: deliver(1, 1, 2), Dropped: true}})
	if r.Failed() || r.ReceiversDropped != 1 {
		t.Fatalf("dropped receiver: %+v", r)
	}
}

func TestCheckerUnexpected(t *testing.T) {
	r := CheckLogs(acksFor(1, 1), []ReceiverLog{{Channels: []int64{1}, Deliveries: append(deliver(1, 1), deliver(2, 1)...)}})
	if r.Unexpected != 1 || !r.Failed() {
		t.Fatalf("delivery on an unsubscribed channel not reported: %+v", r)
	}
}

func TestTrackerResumeFrom(t *testing.T) {
	tr := NewTracker()
	tr.Expect(7, 10) // subscribed with since-seq 10
	for _, s := range []int64{11, 12, 13} {
		tr.Observe(7, s, 7000+s)
	}
	tr.Expect(7, tr.Last(7)) // resume: keeps the log
	if tr.Last(7) != 13 {
		t.Fatalf("Last = %d", tr.Last(7))
	}
	tr.Observe(7, 13, 7013) // the server replayed one too many
	tr.Observe(7, 5, 7005)  // before the subscription point
	tr.Observe(7, 14, 7014)
	s := tr.Summary(0)
	cs := s.Channels[0]
	if cs.Duplicates != 1 || cs.Unexpected != 1 || len(cs.Ranges) != 1 || cs.Ranges[0] != [2]int64{11, 14} {
		t.Fatalf("summary: %+v", cs)
	}
	r := Check(CheckInput{Acks: []Ack{{7, 9, 7009}, {7, 14, 7014}}, Receivers: []ReceiverSummary{s}})
	if r.Expected != 1 || r.Lost != 0 || r.Duplicated != 1 || r.Unexpected != 1 {
		t.Fatalf("check: %+v", r)
	}
}

func TestSummaryRangesAndHash(t *testing.T) {
	a, b := NewTracker(), NewTracker()
	for _, tr := range []*Tracker{a, b} {
		tr.Expect(1, 0)
	}
	for _, s := range []int64{1, 2, 4, 5, 7} {
		a.Observe(1, s, s)
		b.Observe(1, s, s)
	}
	sa, sb := a.Summary(0), b.Summary(1)
	want := [][2]int64{{1, 2}, {4, 5}, {7, 7}}
	if got := sa.Channels[0].Ranges; len(got) != 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Fatalf("ranges %v, want %v", got, want)
	}
	if sa.Channels[0].Hash != sb.Channels[0].Hash {
		t.Fatal("same sequence, different hashes")
	}
	b.Observe(1, 3, 3)
	if b.Summary(1).Channels[0].Hash == sa.Channels[0].Hash {
		t.Fatal("different sequences, same hash")
	}
}

func TestMergeSeqIDs(t *testing.T) {
	dst := map[int64]*SeqIDs{}
	if c := mergeSeqIDs(dst, 1, 5, []int64{106, 107}); c != 0 {
		t.Fatal(c)
	}
	if c := mergeSeqIDs(dst, 1, 3, []int64{104, 0, 106, 999}); c != 1 {
		t.Fatalf("conflicts %d, want 1", c)
	}
	d := dst[1]
	if d.From != 3 || d.get(4) != 104 || d.get(6) != 106 || d.get(7) != 107 || d.get(5) != 0 {
		t.Fatalf("merged %+v", d)
	}
}
