package persistence_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/parley-chat/parley/persistence"
)

// A batch with no replies and no mentions is one statement; a retry of a stored message
// falls back to the general path and finds it.
func TestAppendFastPath(t *testing.T) {
	t.Parallel()
	st := &statements{}
	f := newTracedFixture(t, st, "alice", "bob")
	alice, bob := f.users["alice"], f.users["bob"]
	if _, err := f.store.AppendMessages(f.ctx, f.ch, []persistence.NewMessage{{UserID: bob, Content: "first"}}); err != nil {
		t.Fatal(err)
	}
	before := st.n.Load()
	res, err := f.store.AppendMessages(f.ctx, f.ch, []persistence.NewMessage{
		{UserID: alice, Content: "one", ClientMsgID: "k1"},
		{UserID: bob, Content: "two"},
		{UserID: alice, Content: "one again", ClientMsgID: "k1"}, // in-batch retry
		{UserID: alice, Content: ""},                             // invalid
		{UserID: alice, Content: "three", ClientMsgID: "k3"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := st.n.Load() - before; n != 1 {
		t.Fatalf("fast path sent %d statements, want 1", n)
	}
	if res[0].Message.Seq != 2 || res[1].Message.Seq != 3 || res[4].Message.Seq != 4 {
		t.Fatalf("seqs %d %d %d, want 2 3 4", res[0].Message.Seq, res[1].Message.Seq, res[4].Message.Seq)
	}
	if !res[2].Duplicate || !sameMessage(res[2].Message, res[0].Message) {
		t.Fatalf("in-batch retry: %+v", res[2])
	}
	if res[3].Err == nil {
		t.Fatal("empty content accepted")
	}
	if n := f.count(t, `SELECT last_seq FROM channels WHERE id = $1`, f.ch); n != 4 {
		t.Fatalf("last_seq = %d", n)
	}
	if n := f.count(t, `SELECT last_read_seq FROM read_receipts WHERE user_id = $1 AND channel_id = $2`, alice, f.ch); n != 4 {
		t.Fatalf("alice's marker = %d, want 4", n)
	}
	stored, err := f.store.MessagesAfter(f.ctx, f.ch, 1, 10)
	if err != nil || len(stored) != 3 || !sameMessage(stored[0], res[0].Message) || !sameMessage(stored[2], res[4].Message) {
		t.Fatalf("stored %v %+v, want what AppendMessages returned", err, stored)
	}

	// A retry of a stored message: the statement writes nothing, the general path finds it.
	res2, err := f.store.AppendMessages(f.ctx, f.ch, []persistence.NewMessage{
		{UserID: bob, Content: "four"},
		{UserID: alice, Content: "retry", ClientMsgID: "k3"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res2[0].Message.Seq != 5 || !res2[1].Duplicate || res2[1].Message.ID != res[4].Message.ID {
		t.Fatalf("after fallback: %+v", res2)
	}
	if n := f.count(t, `SELECT count(*) FROM messages WHERE channel_id = $1`, f.ch); n != 5 {
		t.Fatalf("%d messages stored, want 5", n)
	}
}

// Retries of one clientMsgId racing each other store one message, and every result names it.
func TestAppendConcurrentRetries(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "alice", "bob")
	const racers = 6
	for round := range 15 {
		cmid := fmt.Sprintf("r%d", round)
		results := make([]persistence.AppendResult, racers)
		errs := make([]error, racers)
		var wg sync.WaitGroup
		for i := range racers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := f.store.AppendMessages(f.ctx, f.ch, []persistence.NewMessage{
					{UserID: f.users["bob"], Content: "other"},
					{UserID: f.users["alice"], Content: "same", ClientMsgID: cmid},
				})
				if err == nil {
					results[i] = res[1]
				}
				errs[i] = err
			}()
		}
		wg.Wait()
		fresh := 0
		for i, r := range results {
			if errs[i] != nil {
				t.Fatal(errs[i])
			}
			if r.Message.ID != results[0].Message.ID {
				t.Fatalf("round %d: results name messages %d and %d", round, r.Message.ID, results[0].Message.ID)
			}
			if !r.Duplicate {
				fresh++
			}
		}
		if fresh != 1 {
			t.Fatalf("round %d: %d results not marked duplicate, want 1", round, fresh)
		}
	}
	n := f.count(t, `SELECT count(*) FROM messages WHERE channel_id = $1`, f.ch)
	if max := f.count(t, `SELECT max(seq) FROM messages WHERE channel_id = $1`, f.ch); n != max || n != 15*(racers+1) {
		t.Fatalf("%d messages, max seq %d: want both %d", n, max, 15*(racers+1))
	}
}

func sameMessage(a, b persistence.Message) bool {
	return a.ID == b.ID && a.ChannelID == b.ChannelID && a.Seq == b.Seq && a.UserID == b.UserID &&
		a.Content == b.Content && a.ClientMsgID == b.ClientMsgID && a.CreatedAt.Equal(b.CreatedAt.Time) &&
		(a.ParentID == nil) == (b.ParentID == nil)
}
