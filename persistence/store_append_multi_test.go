package persistence_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/parley-chat/parley/persistence"
)

// addChannels creates n more public channels in the fixture's workspace, every user a member.
func (f *fixture) addChannels(t testing.TB, n int) []int64 {
	t.Helper()
	var out []int64
	for i := range n {
		id := f.ch + int64(i+1)*1000
		f.exec(t, `INSERT INTO channels (id, workspace_id, name, type, created_by) VALUES ($1, $2, $3, 'public', $4)`,
			id, f.ws, fmt.Sprintf("c%d", i), f.users["alice"])
		f.exec(t, `INSERT INTO channel_members (channel_id, user_id) SELECT $1, user_id FROM workspace_members WHERE workspace_id = $2`, id, f.ws)
		out = append(out, id)
	}
	return out
}

// Batches of several channels without replies or mentions are one statement; each channel
// keeps its own gapless seqs and its posters' read markers.
func TestAppendBatchesOneStatement(t *testing.T) {
	t.Parallel()
	st := &statements{}
	f := newTracedFixture(t, st, "alice", "bob")
	alice, bob := f.users["alice"], f.users["bob"]
	chans := append([]int64{f.ch}, f.addChannels(t, 2)...)
	if _, err := f.store.AppendMessages(f.ctx, chans[1], []persistence.NewMessage{{UserID: bob, Content: "earlier"}}); err != nil {
		t.Fatal(err)
	}
	before := st.n.Load()
	res, errs := f.store.AppendBatches(f.ctx, []persistence.ChannelBatch{
		{ChannelID: chans[0], Messages: []persistence.NewMessage{{UserID: alice, Content: "a1", ClientMsgID: "x"}, {UserID: bob, Content: "a2"}}},
		{ChannelID: chans[1], Messages: []persistence.NewMessage{{UserID: alice, Content: "b1", ClientMsgID: "x"}, {UserID: alice, Content: "b1 again", ClientMsgID: "x"}}},
		{ChannelID: chans[2], Messages: []persistence.NewMessage{{UserID: bob, Content: ""}, {UserID: bob, Content: "c1"}}},
	})
	if n := st.n.Load() - before; n != 1 {
		t.Fatalf("%d statements, want 1", n)
	}
	for i, err := range errs {
		if err != nil {
			t.Fatalf("channel %d: %v", i, err)
		}
	}
	if res[0][0].Message.Seq != 1 || res[0][1].Message.Seq != 2 || res[0][1].Message.ChannelID != chans[0] {
		t.Fatalf("channel 0: %+v", res[0])
	}
	if res[1][0].Message.Seq != 2 || !res[1][1].Duplicate || res[1][1].Message.ID != res[1][0].Message.ID {
		t.Fatalf("channel 1: %+v", res[1])
	}
	if !errors.Is(res[2][0].Err, persistence.ErrInvalid) || res[2][1].Message.Seq != 1 {
		t.Fatalf("channel 2: %+v", res[2])
	}
	for i, want := range []int64{2, 2, 1} {
		if n := f.count(t, `SELECT last_seq FROM channels WHERE id = $1`, chans[i]); n != want {
			t.Fatalf("channel %d last_seq = %d, want %d", i, n, want)
		}
		if n := f.count(t, `SELECT count(*) FROM messages WHERE channel_id = $1`, chans[i]); n != want {
			t.Fatalf("channel %d holds %d messages, want %d", i, n, want)
		}
	}
	if n := f.count(t, `SELECT last_read_seq FROM read_receipts WHERE user_id = $1 AND channel_id = $2`, alice, chans[1]); n != 2 {
		t.Fatalf("alice's marker in channel 1 = %d, want 2", n)
	}
	stored, err := f.store.MessagesAfter(f.ctx, chans[0], 0, 10)
	if err != nil || len(stored) != 2 || !sameMessage(stored[1], res[0][1].Message) {
		t.Fatalf("stored %v %+v, want what AppendBatches returned", err, stored)
	}
}

// One channel that cannot take the statement (archived; a stored retry; a mention) costs
// the others nothing but the fallback: each gets what AppendMessages would have returned.
func TestAppendBatchesFallback(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "alice", "bob")
	alice, bob := f.users["alice"], f.users["bob"]
	chans := append([]int64{f.ch}, f.addChannels(t, 3)...)
	first, err := f.store.AppendMessages(f.ctx, chans[1], []persistence.NewMessage{{UserID: alice, Content: "stored", ClientMsgID: "s"}})
	if err != nil {
		t.Fatal(err)
	}
	f.exec(t, `UPDATE channels SET archived = true WHERE id = $1`, chans[3])
	res, errs := f.store.AppendBatches(f.ctx, []persistence.ChannelBatch{
		{ChannelID: chans[0], Messages: []persistence.NewMessage{{UserID: alice, Content: "hi @bob"}}},
		{ChannelID: chans[1], Messages: []persistence.NewMessage{{UserID: bob, Content: "new"}, {UserID: alice, Content: "retry", ClientMsgID: "s"}}},
		{ChannelID: chans[2], Messages: []persistence.NewMessage{{UserID: bob, Content: "plain"}}},
		{ChannelID: chans[3], Messages: []persistence.NewMessage{{UserID: bob, Content: "too late"}}},
		{ChannelID: 999, Messages: []persistence.NewMessage{{UserID: bob, Content: "nowhere"}}},
	})
	if errs[0] != nil || len(res[0][0].Mentions) != 1 || res[0][0].Message.Seq != 1 {
		t.Fatalf("mention: %v %+v", errs[0], res[0])
	}
	if errs[1] != nil || res[1][0].Message.Seq != 2 || !res[1][1].Duplicate || res[1][1].Message.ID != first[0].Message.ID {
		t.Fatalf("retry: %v %+v", errs[1], res[1])
	}
	if errs[2] != nil || res[2][0].Message.Seq != 1 {
		t.Fatalf("plain: %v %+v", errs[2], res[2])
	}
	if !errors.Is(errs[3], persistence.ErrArchived) || !errors.Is(errs[4], persistence.ErrNotFound) {
		t.Fatalf("archived: %v; missing: %v", errs[3], errs[4])
	}
	if n := f.count(t, `SELECT count(*) FROM messages`); n != 4 {
		t.Fatalf("%d messages stored, want 4", n)
	}
}

// Group commits over the same channels, listed in different orders, racing single-channel
// appends: no deadlock, and every channel's seqs stay gapless.
func TestAppendBatchesConcurrent(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "alice", "bob")
	chans := append([]int64{f.ch}, f.addChannels(t, 3)...)
	const rounds = 10
	errc := make(chan error, 8)
	for w := range 4 {
		go func() {
			for r := range rounds {
				var bs []persistence.ChannelBatch
				for k := range chans {
					ch := chans[(k+w)%len(chans)]
					bs = append(bs, persistence.ChannelBatch{ChannelID: ch, Messages: []persistence.NewMessage{
						{UserID: f.users["alice"], Content: "m", ClientMsgID: fmt.Sprintf("w%d-%d", w, r)},
						{UserID: f.users["bob"], Content: "n"}}})
				}
				_, errs := f.store.AppendBatches(f.ctx, bs)
				if err := errors.Join(errs...); err != nil {
					errc <- err
					return
				}
			}
			errc <- nil
		}()
		go func() {
			for r := range rounds {
				if _, err := f.store.AppendMessages(f.ctx, chans[w], []persistence.NewMessage{{UserID: f.users["bob"], Content: fmt.Sprint(r)}}); err != nil {
					errc <- err
					return
				}
			}
			errc <- nil
		}()
	}
	for range 8 {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	for _, ch := range chans {
		n := f.count(t, `SELECT count(*) FROM messages WHERE channel_id = $1`, ch)
		max := f.count(t, `SELECT max(seq) FROM messages WHERE channel_id = $1`, ch)
		if n != max || n != 4*rounds*2+rounds {
			t.Fatalf("channel %d: %d messages, max seq %d, want both %d", ch, n, max, 4*rounds*2+rounds)
		}
	}
}
