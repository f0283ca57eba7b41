package persistence_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/parley-chat/parley/persistence"
)

// groupCommits records each group-commit statement: how many clientMsgIds it looked up
// first, and whether it failed.
type groupCommits struct {
	mu  sync.Mutex
	got []groupCommit
}

type groupCommit struct {
	lookups int
	failed  bool
}

func (g *groupCommits) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	if len(d.Args) == 15 { // appendMultiSQL's arity
		ids, _ := d.Args[2].([]string)
		g.mu.Lock()
		g.got = append(g.got, groupCommit{lookups: len(ids)})
		g.mu.Unlock()
		return context.WithValue(ctx, g, len(g.got)-1)
	}
	return ctx
}

func (g *groupCommits) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryEndData) {
	if i, ok := ctx.Value(g).(int); ok && d.Err != nil {
		g.mu.Lock()
		g.got[i].failed = true
		g.mu.Unlock()
	}
}

func (g *groupCommits) take() []groupCommit {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := g.got
	g.got = nil
	return out
}

// A group commit does not look its clientMsgIds up before inserting (ADR 0052): the unique
// index finds a stored one, and only then does the statement run again with the lookups,
// which leave out the retried channel alone. For a while after a retry, group commits look
// first; then they are optimistic again.
func TestAppendBatchesLooksUpClientMsgIdsOnlyAfterARetry(t *testing.T) {
	t.Parallel()
	g := &groupCommits{}
	f := newTracedFixture(t, g, "alice", "bob")
	alice, bob := f.users["alice"], f.users["bob"]
	chans := append([]int64{f.ch}, f.addChannels(t, 2)...)
	clock := time.Now()
	f.store.SetNow(func() time.Time { return clock })
	group := func(tag string, retryIn1 bool) ([][]persistence.AppendResult, []error) {
		b1 := []persistence.NewMessage{{UserID: bob, Content: "b " + tag, ClientMsgID: "b-" + tag}}
		if retryIn1 {
			b1 = append(b1, persistence.NewMessage{UserID: alice, Content: "retry", ClientMsgID: "first"})
		}
		return f.store.AppendBatches(f.ctx, []persistence.ChannelBatch{
			{ChannelID: chans[0], Messages: []persistence.NewMessage{{UserID: alice, Content: "a " + tag, ClientMsgID: "a-" + tag}}},
			{ChannelID: chans[1], Messages: b1},
			{ChannelID: chans[2], Messages: []persistence.NewMessage{{UserID: bob, Content: "c " + tag, ClientMsgID: "c-" + tag}}},
		})
	}
	mustOK := func(errs []error) {
		t.Helper()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("channel %d: %v", i, err)
			}
		}
	}
	first, err := f.store.AppendMessages(f.ctx, chans[1], []persistence.NewMessage{{UserID: alice, Content: "stored", ClientMsgID: "first"}})
	if err != nil {
		t.Fatal(err)
	}

	_, errs := group("1", false)
	mustOK(errs)
	if got := g.take(); len(got) != 1 || got[0] != (groupCommit{lookups: 0}) {
		t.Fatalf("no retry: statements %+v, want one without lookups", got)
	}

	res, errs := group("2", true)
	mustOK(errs)
	if got := g.take(); len(got) != 2 || got[0] != (groupCommit{lookups: 0, failed: true}) || got[1] != (groupCommit{lookups: 4}) {
		t.Fatalf("a retry: statements %+v, want a failed optimistic one, then one with 4 lookups", got)
	}
	if !res[1][1].Duplicate || res[1][1].Message.ID != first[0].Message.ID || res[1][0].Message.Seq != 3 {
		t.Fatalf("retried channel: %+v", res[1])
	}
	for i, want := range []int64{2, 3, 2} {
		if n := f.count(t, `SELECT count(*) FROM messages WHERE channel_id = $1`, chans[i]); n != want {
			t.Fatalf("channel %d holds %d messages, want %d", i, n, want)
		}
		if n := f.count(t, `SELECT last_seq FROM channels WHERE id = $1`, chans[i]); n != want {
			t.Fatalf("channel %d last_seq = %d, want %d", i, n, want)
		}
	}

	clock = clock.Add(time.Second)
	_, errs = group("3", false)
	mustOK(errs)
	if got := g.take(); len(got) != 1 || got[0] != (groupCommit{lookups: 3}) {
		t.Fatalf("1 s after a retry: statements %+v, want one with 3 lookups", got)
	}

	clock = clock.Add(time.Minute)
	_, errs = group("4", false)
	mustOK(errs)
	if got := g.take(); len(got) != 1 || got[0] != (groupCommit{lookups: 0}) {
		t.Fatalf("a minute later: statements %+v, want one without lookups again", got)
	}
}
