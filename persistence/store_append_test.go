package persistence_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/parley-chat/parley/cluster"
	"github.com/parley-chat/parley/persistence"
	"github.com/parley-chat/parley/persistence/pgtest"
)

// fixture is a workspace with a public channel and a few users, made with raw SQL so the
// append tests do not depend on the rest of the store.
type fixture struct {
	store  *persistence.Store
	ctx    context.Context
	ws, ch int64
	users  map[string]int64
}

func newFixture(t testing.TB, names ...string) *fixture {
	t.Helper()
	return newTracedFixture(t, nil, names...)
}

func newTracedFixture(t testing.TB, tracer pgx.QueryTracer, names ...string) *fixture {
	t.Helper()
	pool, _ := pgtest.NewPool(t, tracer)
	ids, err := cluster.NewIDGenerator(1, nil)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{store: persistence.NewStore(pool, ids, persistence.StoreConfig{}), ctx: context.Background(), users: map[string]int64{}}
	for i, n := range names {
		u, err := f.store.UpsertUser(f.ctx, persistence.Identity{Subject: "sub-" + n, Username: n})
		if err != nil {
			t.Fatal(err)
		}
		f.users[n] = u.ID
		if i == 0 {
			f.ws = ids.Next()
			f.exec(t, `INSERT INTO workspaces (id, name, created_by) VALUES ($1, 'ws', $2)`, f.ws, u.ID)
			f.exec(t, `INSERT INTO workspace_members (workspace_id, user_id, role) VALUES ($1, $2, 'owner')`, f.ws, u.ID)
			f.ch = ids.Next()
			f.exec(t, `INSERT INTO channels (id, workspace_id, name, type, created_by) VALUES ($1, $2, 'general', 'public', $3)`, f.ch, f.ws, u.ID)
		} else {
			f.exec(t, `INSERT INTO workspace_members (workspace_id, user_id, role) VALUES ($1, $2, 'member')`, f.ws, u.ID)
		}
		f.exec(t, `INSERT INTO channel_members (channel_id, user_id) VALUES ($1, $2)`, f.ch, u.ID)
	}
	return f
}

func (f *fixture) exec(t testing.TB, sql string, args ...any) {
	t.Helper()
	if _, err := f.store.Pool().Exec(f.ctx, sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func (f *fixture) count(t testing.TB, sql string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := f.store.Pool().QueryRow(f.ctx, sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

func TestAppendMessagesBatch(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "alice", "bob", "carol")
	alice, bob := f.users["alice"], f.users["bob"]
	res, err := f.store.AppendMessages(f.ctx, f.ch, []persistence.NewMessage{
		{UserID: alice, Content: "hello @Bob and @carol. and @alice and @nobody", ClientMsgID: "a1"},
		{UserID: bob, Content: "hi"},
		{UserID: alice, Content: "retry", ClientMsgID: "a1"},
		{UserID: bob, Content: "bad parent", ParentID: 12345},
		{UserID: bob, Content: "   "},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Err != nil || res[0].Message.Seq != 1 || res[1].Message.Seq != 2 {
		t.Fatalf("seqs: %+v %+v", res[0], res[1])
	}
	if got := len(res[0].Mentions); got != 2 {
		t.Fatalf("mentions = %+v, want bob and carol", res[0].Mentions)
	}
	if !res[2].Duplicate || res[2].Message.ID != res[0].Message.ID {
		t.Fatalf("in-batch duplicate: %+v", res[2])
	}
	if !errors.Is(res[3].Err, persistence.ErrBadParent) {
		t.Fatalf("bad parent: %+v", res[3])
	}
	if !errors.Is(res[4].Err, persistence.ErrInvalid) {
		t.Fatalf("blank: %+v", res[4])
	}
	// A reply, and a retry of an already stored message.
	res2, err := f.store.AppendMessages(f.ctx, f.ch, []persistence.NewMessage{
		{UserID: bob, Content: "reply", ParentID: res[0].Message.ID},
		{UserID: alice, Content: "retry again", ClientMsgID: "a1"},
		{UserID: alice, Content: "reply to reply", ParentID: 0},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res2[0].Message.Seq != 3 || !res2[1].Duplicate || res2[1].Message.Content != res[0].Message.Content || res2[2].Message.Seq != 4 {
		t.Fatalf("second batch: %+v", res2)
	}
	res3, err := f.store.AppendMessages(f.ctx, f.ch, []persistence.NewMessage{{UserID: bob, Content: "x", ParentID: res2[0].Message.ID}})
	if err != nil || !errors.Is(res3[0].Err, persistence.ErrBadParent) {
		t.Fatalf("reply to a reply: %v %+v", err, res3)
	}
	if n := f.count(t, `SELECT last_seq FROM channels WHERE id = $1`, f.ch); n != 4 {
		t.Fatalf("last_seq = %d", n)
	}
	if n := f.count(t, `SELECT reply_count FROM threads WHERE root_id = $1`, res[0].Message.ID); n != 1 {
		t.Fatalf("reply_count = %d", n)
	}
	if n := f.count(t, `SELECT last_read_seq FROM read_receipts WHERE user_id = $1 AND channel_id = $2`, bob, f.ch); n != 3 {
		t.Fatalf("bob's marker = %d", n)
	}
	ms, err := f.store.MessagesAfter(f.ctx, f.ch, 1, 10)
	if err != nil || len(ms) != 3 || ms[0].Seq != 2 || ms[2].Seq != 4 {
		t.Fatalf("MessagesAfter: %v %+v", err, ms)
	}
	if _, err := f.store.AppendMessages(f.ctx, 999, []persistence.NewMessage{{UserID: bob, Content: "x"}}); !errors.Is(err, persistence.ErrNotFound) {
		t.Fatalf("missing channel: %v", err)
	}
	f.exec(t, `UPDATE channels SET archived = true WHERE id = $1`, f.ch)
	if _, err := f.store.AppendMessages(f.ctx, f.ch, []persistence.NewMessage{{UserID: bob, Content: "x"}}); !errors.Is(err, persistence.ErrArchived) {
		t.Fatalf("archived: %v", err)
	}
}

func TestAppendMessagesConcurrentGapless(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "alice", "bob")
	const writers, each = 8, 10
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				_, err := f.store.AppendMessages(f.ctx, f.ch, []persistence.NewMessage{
					{UserID: f.users["alice"], Content: fmt.Sprintf("w%d-%d", w, i), ClientMsgID: fmt.Sprintf("w%d-%d", w, i)},
					{UserID: f.users["bob"], Content: "b"},
				})
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	n := f.count(t, `SELECT count(*) FROM messages WHERE channel_id = $1`, f.ch)
	max := f.count(t, `SELECT max(seq) FROM messages WHERE channel_id = $1`, f.ch)
	if n != writers*each*2 || max != n {
		t.Fatalf("count %d, max seq %d: want both %d", n, max, writers*each*2)
	}
}

// statements counts every SQL statement sent, single or pipelined in a batch.
type statements struct{ n atomic.Int64 }

func (s *statements) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	s.n.Add(1)
	return ctx
}
func (s *statements) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}
func (s *statements) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	return ctx
}
func (s *statements) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) { s.n.Add(1) }
func (s *statements) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData)     {}

// The hot path sends the same number of statements for a batch of 1 and of 100.
func TestAppendMessagesStatementsIndependentOfBatchSize(t *testing.T) {
	t.Parallel()
	st := &statements{}
	f := newTracedFixture(t, st, "alice", "bob")
	root, err := f.store.AppendMessages(f.ctx, f.ch, []persistence.NewMessage{{UserID: f.users["alice"], Content: "root"}})
	if err != nil {
		t.Fatal(err)
	}
	batch := func(n int) []persistence.NewMessage {
		out := make([]persistence.NewMessage, n)
		for i := range out {
			out[i] = persistence.NewMessage{UserID: f.users["bob"], Content: fmt.Sprintf("@alice %d", i),
				ClientMsgID: fmt.Sprintf("%d-%d", n, i), ParentID: root[0].Message.ID}
		}
		return out
	}
	count := func(n int) int64 {
		before := st.n.Load()
		if _, err := f.store.AppendMessages(f.ctx, f.ch, batch(n)); err != nil {
			t.Fatal(err)
		}
		return st.n.Load() - before
	}
	one, hundred := count(1), count(100)
	if one != hundred {
		t.Fatalf("batch of 1: %d statements, batch of 100: %d", one, hundred)
	}
	t.Logf("%d statements per batch (including BEGIN and COMMIT)", one)
}

func BenchmarkAppendMessages(b *testing.B) {
	for _, size := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			f := newFixture(b, "alice", "bob")
			batch := make([]persistence.NewMessage, size)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for j := range batch {
					batch[j] = persistence.NewMessage{UserID: f.users["alice"], Content: "hello @bob, how are you?",
						ClientMsgID: fmt.Sprintf("%d-%d", i, j)}
				}
				if _, err := f.store.AppendMessages(f.ctx, f.ch, batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}
