package persistence_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/parley-chat/parley/errcode"
	"github.com/parley-chat/parley/persistence"
	"github.com/parley-chat/parley/transport/api"
)

// appendSQL counts the executions of the two append statements: the one-channel fast
// path's and the multi-channel one's.
type appendSQL struct {
	mu          sync.Mutex
	fast, multi int
}

func (a *appendSQL) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	a.mu.Lock()
	defer a.mu.Unlock()
	switch {
	case strings.Contains(d.SQL, "unnest($4::bigint[], $5::bigint[])"):
		a.multi++
	case strings.Contains(d.SQL, "UPDATE channels SET last_seq = last_seq + $2"):
		a.fast++
	}
	return ctx
}
func (a *appendSQL) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (a *appendSQL) counts() (fast, multi int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.fast, a.multi
}

// One channel whose check fails inside the shared statement (its batch repeats a stored
// clientMsgId) is left out and answered on its own, as AppendMessages answers it; the
// other channels are written by the shared statement, once. All or nothing would have
// thrown their write away and written each on its own.
func TestAppendBatchesOneChannelFailsItsCheck(t *testing.T) {
	t.Parallel()
	tr := &appendSQL{}
	f := newTracedFixture(t, tr, "alice", "bob")
	alice, bob := f.users["alice"], f.users["bob"]
	chans := append([]int64{f.ch}, f.addChannels(t, 3)...)
	first, err := f.store.AppendMessages(f.ctx, chans[1], []persistence.NewMessage{{UserID: alice, Content: "stored", ClientMsgID: "s"}})
	if err != nil {
		t.Fatal(err)
	}
	fast0, multi0 := tr.counts()
	res, errs := f.store.AppendBatches(f.ctx, []persistence.ChannelBatch{
		{ChannelID: chans[0], Messages: []persistence.NewMessage{{UserID: alice, Content: "a"}}},
		{ChannelID: chans[1], Messages: []persistence.NewMessage{{UserID: bob, Content: "new"}, {UserID: alice, Content: "retry", ClientMsgID: "s"}}},
		{ChannelID: chans[2], Messages: []persistence.NewMessage{{UserID: bob, Content: "b"}}},
		{ChannelID: chans[3], Messages: []persistence.NewMessage{{UserID: alice, Content: "c", ClientMsgID: "s"}, {UserID: bob, Content: "d"}}},
	})
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	fast, multi := tr.counts()
	// Two shared: the first, which looks nothing up (ADR 0052), meets the stored clientMsgId
	// in the unique index and rolls back; the second looks them up and leaves channel 1 out.
	if multi-multi0 != 2 || fast-fast0 != 1 {
		t.Fatalf("%d shared and %d one-channel statements, want 2 and 1 (channel 1's fallback)", multi-multi0, fast-fast0)
	}
	if res[1][0].Message.Seq != 2 || !res[1][1].Duplicate || res[1][1].Message.ID != first[0].Message.ID {
		t.Fatalf("channel 1: %+v", res[1])
	}
	if res[0][0].Message.Seq != 1 || res[2][0].Message.Seq != 1 || res[3][0].Message.Seq != 1 || res[3][1].Message.Seq != 2 {
		t.Fatalf("channels 0, 2, 3: %+v %+v %+v", res[0], res[2], res[3])
	}
	for i, want := range []int64{1, 2, 1, 2} {
		if n := f.count(t, `SELECT count(*) FROM messages WHERE channel_id = $1`, chans[i]); n != want {
			t.Fatalf("channel %d holds %d messages, want %d", i, n, want)
		}
		if n := f.count(t, `SELECT last_seq FROM channels WHERE id = $1`, chans[i]); n != want {
			t.Fatalf("channel %d last_seq = %d, want %d", i, n, want)
		}
	}
}

// The shared statement's answer is lost after PostgreSQL committed: each channel gets what
// PostgreSQL did (its messages at their seqs), the channel whose check failed is answered
// on its own afterwards, and retries find the originals.
func TestAppendBatchesCommitAnswerLost(t *testing.T) {
	t.Parallel()
	f, store, c := doubtFixture(t, "downstream", true, 10*time.Second)
	alice, bob := f.users["alice"], f.users["bob"]
	chans := append([]int64{f.ch}, f.addChannels(t, 2)...)
	// Once first, so that pgx has the shared statement prepared and the cut falls on the
	// round trip that commits; it stores a clientMsgId in channel 2 too.
	var warm []persistence.ChannelBatch
	for _, ch := range chans {
		warm = append(warm, persistence.ChannelBatch{ChannelID: ch, Messages: []persistence.NewMessage{{UserID: alice, Content: "0", ClientMsgID: "s"}}})
	}
	if _, errs := store.AppendBatches(f.ctx, warm); errors.Join(errs...) != nil {
		t.Fatal(errors.Join(errs...))
	}
	// Twice: the retries make the next group commits look clientMsgIds up first (ADR 0052),
	// so that the cut falls on the statement that commits, not on one the unique index
	// rolls back.
	if res, errs := store.AppendBatches(f.ctx, warm); errors.Join(errs...) != nil || !res[0][0].Duplicate {
		t.Fatal(errors.Join(errs...), res)
	}
	c.arm()
	ctx, cancel := context.WithTimeout(f.ctx, 500*time.Millisecond)
	defer cancel()
	batches := []persistence.ChannelBatch{
		{ChannelID: chans[0], Messages: []persistence.NewMessage{{UserID: alice, Content: "a1", ClientMsgID: "m1"}, {UserID: bob, Content: "a2"}}},
		{ChannelID: chans[1], Messages: []persistence.NewMessage{{UserID: bob, Content: "b1", ClientMsgID: "m1"}}},
		{ChannelID: chans[2], Messages: []persistence.NewMessage{{UserID: alice, Content: "retry", ClientMsgID: "s"}, {UserID: bob, Content: "c1"}}},
	}
	res, errs := store.AppendBatches(ctx, batches)
	if c.armed || c.cut {
		t.Fatalf("the commit was not cut (armed %v, cut %v)", c.armed, c.cut)
	}
	for i, err := range errs {
		if err != nil {
			t.Fatalf("channel %d, whose commit happened but whose answer was lost: %v (unavailable=%v)", i, err, persistence.Unavailable(err))
		}
	}
	want := [][]int64{{2, 3}, {2}, {1, 2}}
	for i := range batches {
		for j, seq := range want[i] {
			r := res[i][j]
			if r.Message.Seq != seq || r.Err != nil {
				t.Fatalf("channel %d result %d: seq %d err %v; want seq %d", i, j, r.Message.Seq, r.Err, seq)
			}
			if n := f.count(t, `SELECT count(*) FROM messages WHERE id = $1 AND seq = $2`, r.Message.ID, seq); n != 1 {
				t.Fatalf("channel %d result %d (id %d, seq %d) is stored %d times", i, j, r.Message.ID, seq, n)
			}
		}
		if n, want := f.count(t, `SELECT count(*) FROM messages WHERE channel_id = $1`, chans[i]), []int64{3, 2, 2}[i]; n != want {
			t.Fatalf("channel %d holds %d messages, want %d", i, n, want)
		}
	}
	if !res[2][0].Duplicate || res[2][1].Duplicate || res[0][0].Duplicate {
		t.Fatalf("duplicates: %+v %+v", res[2], res[0])
	}
	// The retries clients make after a lost answer find the originals.
	again, errs := store.AppendBatches(f.ctx, batches[:2])
	if errors.Join(errs...) != nil || !again[0][0].Duplicate || again[0][0].Message.ID != res[0][0].Message.ID ||
		!again[1][0].Duplicate || again[1][0].Message.ID != res[1][0].Message.ID {
		t.Fatalf("retry: %+v, %v; want the originals as duplicates", again, errs)
	}
}

// The shared statement never reached PostgreSQL: every channel in it fails as unavailable,
// which is true, and nothing is stored.
func TestAppendBatchesCommitNeverArrived(t *testing.T) {
	t.Parallel()
	f, store, c := doubtFixture(t, "upstream", true, 10*time.Second)
	alice := f.users["alice"]
	chans := append([]int64{f.ch}, f.addChannels(t, 2)...)
	batch := func(cmid string) []persistence.ChannelBatch {
		var bs []persistence.ChannelBatch
		for _, ch := range chans {
			bs = append(bs, persistence.ChannelBatch{ChannelID: ch, Messages: []persistence.NewMessage{{UserID: alice, Content: "hi", ClientMsgID: cmid}}})
		}
		return bs
	}
	if _, errs := store.AppendBatches(f.ctx, batch("m0")); errors.Join(errs...) != nil {
		t.Fatal(errors.Join(errs...))
	}
	c.arm()
	ctx, cancel := context.WithTimeout(f.ctx, 500*time.Millisecond)
	defer cancel()
	_, errs := store.AppendBatches(ctx, batch("m1"))
	for i, err := range errs {
		if err == nil || errors.Is(err, persistence.ErrInDoubt) {
			t.Fatalf("channel %d, whose statement was lost: %v; want the connection's error", i, err)
		}
		if _, code := api.CodeOf(err); code != errcode.Unavailable {
			t.Errorf("channel %d: code %q, want %q (%v)", i, code, errcode.Unavailable, err)
		}
	}
	if n := f.count(t, `SELECT count(*) FROM messages`); n != int64(len(chans)) {
		t.Fatalf("%d messages stored, want the %d before the cut", n, len(chans))
	}
}
