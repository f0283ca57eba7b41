package actors

import (
	"bytes"
	"math/rand/v2"
	"strconv"
	"testing"
)

func ev(seq int64) *event { return &event{seq: seq, msgID: strconv.FormatInt(seq, 10)} }

// Messages from several sources, shuffled and partly duplicated, leave in seq order, each
// once, starting after the baseline.
func TestReorderReleasesInSeqOrderOnce(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 50 {
		var r reorder
		base := int64(rng.IntN(5))
		var in []*event
		for s := int64(1); s <= 40; s++ {
			in = append(in, ev(s))
			if rng.IntN(3) == 0 {
				in = append(in, ev(s)) // duplicate (bus retry, or fill and live)
			}
		}
		rng.Shuffle(len(in), func(i, j int) { in[i], in[j] = in[j], in[i] })
		split := rng.IntN(len(in))
		for _, e := range in[:split] { // some arrive before the baseline is known
			r.add(e)
		}
		if r.pop() != nil {
			t.Fatal("released before the baseline")
		}
		r.setBase(base)
		var out []int64
		drain := func() {
			for e := r.pop(); e != nil; e = r.pop() {
				out = append(out, e.seq)
			}
		}
		drain()
		for _, e := range in[split:] {
			r.add(e)
			drain()
		}
		if len(out) != int(40-base) {
			t.Fatalf("round %d: released %d, want %d: %v", round, len(out), 40-base, out)
		}
		for i, s := range out {
			if s != base+1+int64(i) {
				t.Fatalf("round %d: out of order: %v", round, out)
			}
		}
		if r.gap() || r.held() != 0 {
			t.Fatalf("round %d: gap left: last %d head %d held %d", round, r.last, r.head, r.held())
		}
	}
}

func TestReorderGapAndAnnouncement(t *testing.T) {
	var r reorder
	r.setBase(10)
	if r.gap() {
		t.Fatal("gap at baseline")
	}
	r.announce(12) // another node committed up to 12; nothing here yet
	if !r.gap() {
		t.Fatal("announced seq not seen as a gap")
	}
	if r.add(ev(10)) || r.add(ev(9)) {
		t.Fatal("accepted a seq at or below the baseline")
	}
	r.add(ev(12))
	if r.pop() != nil || r.held() != 1 {
		t.Fatal("released across the gap")
	}
	r.add(ev(11))
	if e := r.pop(); e == nil || e.seq != 11 {
		t.Fatalf("pop %v", e)
	}
	if e := r.pop(); e == nil || e.seq != 12 {
		t.Fatalf("pop %v", e)
	}
	if r.gap() {
		t.Fatal("gap after everything arrived")
	}
	r.reset()
	if r.known || r.gap() || r.add(ev(0)) {
		t.Fatal("reset left state")
	}
}

func TestWireChannelBatchRoundTripAndSplit(t *testing.T) {
	big := bytes.Repeat([]byte("x"), 100<<10)
	var evs []*event
	for s := int64(1); s <= 12; s++ {
		evs = append(evs, &event{seq: s, msgID: strconv.FormatInt(1000+s, 10), body: append([]byte(`{"n":`+strconv.FormatInt(s, 10)+`}`), big...)})
	}
	ps := encodeChannelBatches(7, 42, 0, evs)
	if len(ps) < 3 {
		t.Fatalf("1.2 MB in %d payloads", len(ps))
	}
	var seqs []int64
	for _, p := range ps {
		if len(p) > maxWirePayload+1024 {
			t.Fatalf("payload of %d bytes", len(p))
		}
		b, err := decodeChannelBatch(p)
		if err != nil {
			t.Fatal(err)
		}
		if b.node != 7 || b.channel != 42 || b.head != b.events[len(b.events)-1].seq {
			t.Fatalf("batch %d/%d head %d", b.node, b.channel, b.head)
		}
		for _, e := range b.events {
			if e.msgID != strconv.FormatInt(1000+e.seq, 10) || !bytes.Equal(e.body, evs[e.seq-1].body) {
				t.Fatalf("event %d garbled", e.seq)
			}
			var buf bytes.Buffer
			buf.Write(e.tpl.AppendTo(nil, "sub-1", e.msgID))
			if !bytes.Contains(buf.Bytes(), []byte("\nseq:"+strconv.FormatInt(e.seq, 10)+"\n")) ||
				!bytes.Contains(buf.Bytes(), []byte("destination:/topic/channel.42\n")) {
				t.Fatalf("frame %.200q", buf.Bytes())
			}
			seqs = append(seqs, e.seq)
		}
	}
	if len(seqs) != 12 || seqs[0] != 1 || seqs[11] != 12 {
		t.Fatalf("seqs %v", seqs)
	}

	ann := encodeChannelBatches(3, 42, 99, nil)
	if len(ann) != 1 {
		t.Fatalf("announcement in %d payloads", len(ann))
	}
	if b, err := decodeChannelBatch(ann[0]); err != nil || b.head != 99 || len(b.events) != 0 {
		t.Fatalf("announcement %+v %v", b, err)
	}
}

func TestWireRejectsMalformedPayloads(t *testing.T) {
	good := encodeChannelBatches(1, 5, 0, []*event{ev(3), {msgID: "e1-1", body: []byte(`{"type":"typing"}`)}})[0]
	for i := range len(good) {
		if _, err := decodeChannelBatch(good[:i]); err == nil {
			t.Fatalf("truncated at %d accepted", i)
		}
	}
	if _, err := decodeChannelBatch(append(append([]byte(nil), good...), 0)); err == nil {
		t.Fatal("trailing byte accepted")
	}
	ue := &userEvent{userID: 9, dest: "/user/queue/mentions", ev: event{msgID: "e1-2", body: []byte(`{}`)}}
	p := encodeUserEvent(1, ue)
	got, err := decodeUserEvent(p)
	if err != nil || got.userID != 9 || got.dest != ue.dest || got.ev.msgID != "e1-2" {
		t.Fatalf("user event %+v %v", got, err)
	}
	if _, err := decodeChannelBatch(p); err == nil {
		t.Fatal("a user event decoded as a channel batch")
	}
	if _, err := decodeUserEvent(good); err == nil {
		t.Fatal("a channel batch decoded as a user event")
	}
}
