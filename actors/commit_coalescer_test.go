package actors

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/parley-chat/parley/cluster"
	"github.com/parley-chat/parley/persistence"
	"github.com/parley-chat/parley/persistence/pgtest"
)

// coalesceEnv is a node on a real PostgreSQL store with nChannels channels and two users.
type coalesceEnv struct {
	sys          *System
	store        *persistence.Store
	chans        []int64
	alice, bob   int64
	ctx          context.Context
	transactions *prometheus.CounterVec
}

func newCoalesceEnv(t *testing.T, nChannels int, tune func(*Config)) *coalesceEnv {
	t.Helper()
	pool, _ := pgtest.NewPool(t, nil)
	ids, err := cluster.NewIDGenerator(1, nil)
	if err != nil {
		t.Fatal(err)
	}
	e := &coalesceEnv{store: persistence.NewStore(pool, ids, persistence.StoreConfig{}), ctx: context.Background()}
	for i, name := range []string{"alice", "bob"} {
		u, err := e.store.UpsertUser(e.ctx, persistence.Identity{Subject: "sub-" + name, Username: name})
		if err != nil {
			t.Fatal(err)
		}
		*[]*int64{&e.alice, &e.bob}[i] = u.ID
	}
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := pool.Exec(e.ctx, sql, args...); err != nil {
			t.Fatal(err)
		}
	}
	ws := ids.Next()
	exec(`INSERT INTO workspaces (id, name, created_by) VALUES ($1, 'ws', $2)`, ws, e.alice)
	exec(`INSERT INTO workspace_members (workspace_id, user_id, role) VALUES ($1, $2, 'owner'), ($1, $3, 'member')`, ws, e.alice, e.bob)
	for i := range nChannels {
		ch := ids.Next()
		exec(`INSERT INTO channels (id, workspace_id, name, type, created_by) VALUES ($1, $2, $3, 'public', $4)`, ch, ws, fmt.Sprintf("c%d", i), e.alice)
		exec(`INSERT INTO channel_members (channel_id, user_id) VALUES ($1, $2), ($1, $3)`, ch, e.alice, e.bob)
		e.chans = append(e.chans, ch)
	}
	reg := prometheus.NewRegistry()
	cfg := Config{NodeID: 1, NoHeartBeat: true}
	if tune != nil {
		tune(&cfg)
	}
	sys, err := New(cfg, Deps{Store: e.store, ReadMarks: unreachableReadMarks{}, IDs: ids, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = sys.Shutdown(ctx)
	})
	e.sys, e.transactions = sys, sys.met.tx.commits
	return e
}

// count reads parley_commit_transactions_total{kind}.
func (e *coalesceEnv) count(t *testing.T, kind string) float64 {
	t.Helper()
	var m dto.Metric
	if err := e.transactions.WithLabelValues(kind).Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// hold locks channel ch's row in a transaction of its own, so that the next commit writing
// ch waits in PostgreSQL, holding the coalescer's one writer; release lets it go.
func (e *coalesceEnv) hold(t *testing.T, ch int64) (release func()) {
	t.Helper()
	tx, err := e.store.Pool().Begin(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(e.ctx, `SELECT 1 FROM channels WHERE id = $1 FOR UPDATE`, ch); err != nil {
		t.Fatal(err)
	}
	return func() { _ = tx.Rollback(e.ctx) }
}

// waitQueued polls until the coalescer's writers are busy and n batches wait behind them
// (n = 0: none, the writer has taken what it commits).
func (e *coalesceEnv) waitQueued(t *testing.T, n int) {
	t.Helper()
	co := e.sys.coalescer
	deadline := time.Now().Add(10 * time.Second)
	for {
		co.mu.Lock()
		writers, queued := co.writers, len(co.queue)
		co.mu.Unlock()
		if writers == co.cfg.Writers && queued >= n && (n > 0 || queued == 0) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("coalescer: %d writers, %d queued; want %d and %d", writers, queued, co.cfg.Writers, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Many channels posting at once through one writer: the batches queued behind a commit in
// flight go out together, and every channel keeps its posters' order and gapless seqs,
// with the seqs PostgreSQL holds. Without the coalescer no transaction holds two channels.
func TestCoalescerKeepsOrderAcrossChannels(t *testing.T) {
	t.Parallel()
	const nChannels, posters, each = 24, 3, 15
	e := newCoalesceEnv(t, nChannels, func(c *Config) { c.Coalesce.On, c.Coalesce.Writers = true, 1; c.MaxBatch = 4 })
	if e.sys.coalescer == nil {
		t.Fatal("no coalescer on a persistence.Store")
	}
	release := e.hold(t, e.chans[0])
	first := make(chan error, 1)
	go func() {
		_, err := e.sys.Post(e.ctx, e.alice, e.chans[0], persistence.NewMessage{Content: "first"})
		first <- err
	}()
	e.waitQueued(t, 0)

	type posted struct {
		poster, i int
		res       persistence.AppendResult
	}
	var (
		mu   sync.Mutex
		got  = map[int64][]posted{}
		wg   sync.WaitGroup
		errc = make(chan error, nChannels*posters)
	)
	for _, ch := range e.chans[1:] {
		for p := range posters {
			wg.Go(func() {
				for i := range each {
					res, err := e.sys.Post(e.ctx, e.bob, ch, persistence.NewMessage{Content: fmt.Sprintf("%d/%d", p, i)})
					if err != nil {
						errc <- fmt.Errorf("channel %d poster %d message %d: %w", ch, p, i, err)
						return
					}
					mu.Lock()
					got[ch] = append(got[ch], posted{p, i, res})
					mu.Unlock()
				}
			})
		}
	}
	e.waitQueued(t, nChannels-1) // every other channel's first batch waits behind chans[0]
	release()
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	for _, ch := range e.chans[1:] {
		stored, err := e.store.MessagesAfter(e.ctx, ch, 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(stored) != posters*each {
			t.Fatalf("channel %d holds %d messages, want %d", ch, len(stored), posters*each)
		}
		next := make([]int, posters)
		bySeq := map[int64]int64{}
		for k, m := range stored {
			if m.Seq != int64(k+1) {
				t.Fatalf("channel %d: message %d has seq %d (gap or duplicate)", ch, k, m.Seq)
			}
			var p, i int
			if _, err := fmt.Sscanf(m.Content, "%d/%d", &p, &i); err != nil || i != next[p] {
				t.Fatalf("channel %d seq %d: %q out of its poster's order (want %d/%d)", ch, m.Seq, m.Content, p, next[p])
			}
			next[p]++
			bySeq[m.Seq] = m.ID
		}
		for _, g := range got[ch] {
			if bySeq[g.res.Message.Seq] != g.res.Message.ID {
				t.Fatalf("channel %d: %d/%d answered seq %d id %d, which PostgreSQL holds for id %d",
					ch, g.poster, g.i, g.res.Message.Seq, g.res.Message.ID, bySeq[g.res.Message.Seq])
			}
		}
	}
	if n := e.count(t, commitCoalescedMany); n == 0 {
		t.Fatal("no transaction wrote several channels")
	}
}

// Retries by clientMsgId coalesced with new posts: a channel whose batch repeats a stored
// clientMsgId fails its check in the shared statement and is answered on its own (the
// original, as a duplicate), while the channels beside it are committed exactly once.
func TestCoalescerDuplicateInOneChannel(t *testing.T) {
	t.Parallel()
	const nChannels = 6
	e := newCoalesceEnv(t, nChannels, func(c *Config) { c.Coalesce.On, c.Coalesce.Writers = true, 1 })
	orig, err := e.sys.Post(e.ctx, e.alice, e.chans[1], persistence.NewMessage{Content: "orig", ClientMsgID: "c-1"})
	if err != nil {
		t.Fatal(err)
	}
	release := e.hold(t, e.chans[0])
	first := make(chan error, 1)
	go func() {
		_, err := e.sys.Post(e.ctx, e.alice, e.chans[0], persistence.NewMessage{Content: "first"})
		first <- err
	}()
	e.waitQueued(t, 0)
	type answer struct {
		ch  int64
		res persistence.AppendResult
		err error
	}
	answers := make(chan answer, nChannels)
	for _, ch := range e.chans[1:] {
		go func() {
			m := persistence.NewMessage{Content: "new", ClientMsgID: "c-1"}
			if ch == e.chans[1] {
				m.Content = "retry"
			}
			res, err := e.sys.Post(e.ctx, e.alice, ch, m)
			answers <- answer{ch, res, err}
		}()
	}
	e.waitQueued(t, nChannels-1)
	release()
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	for range nChannels - 1 {
		a := <-answers
		switch {
		case a.err != nil:
			t.Fatalf("channel %d: %v", a.ch, a.err)
		case a.ch == e.chans[1] && (!a.res.Duplicate || a.res.Message.ID != orig.Message.ID):
			t.Fatalf("retry: %+v, want the original %d as a duplicate", a.res, orig.Message.ID)
		case a.ch != e.chans[1] && (a.res.Duplicate || a.res.Message.Seq != 1):
			t.Fatalf("channel %d: %+v, want a new message at seq 1", a.ch, a.res)
		}
	}
	for i, ch := range e.chans {
		var n, last int64
		if err := e.store.Pool().QueryRow(e.ctx, `SELECT (SELECT count(*) FROM messages WHERE channel_id = $1), last_seq FROM channels WHERE id = $1`, ch).Scan(&n, &last); err != nil {
			t.Fatal(err)
		}
		if n != 1 || last != 1 {
			t.Fatalf("channel %d (%d): %d messages, last_seq %d; want 1 and 1", i, ch, n, last)
		}
	}
	if n := e.count(t, commitCoalescedMany); n != 1 {
		t.Fatalf("%v multi-channel transactions, want 1", n)
	}
}

// The caps: one group takes at most MaxChannels batches and MaxMessages messages (the first
// batch always), in arrival order, and a channel queued twice waits for the next group.
func TestCoalescerTakeCaps(t *testing.T) {
	t.Parallel()
	c := &coalescer{cfg: CoalesceConfig{Writers: 1, MaxChannels: 3, MaxMessages: 5}.withDefaults(), writers: 1}
	req := func(ch int64, n int) *commitReq {
		return &commitReq{channel: ch, msgs: make([]persistence.NewMessage, n)}
	}
	c.queue = []*commitReq{req(1, 6), req(2, 1)}
	if g := c.take(); len(g) != 1 || g[0].channel != 1 {
		t.Fatalf("first group %v, want channel 1's oversized batch alone", g)
	}
	c.queue = []*commitReq{req(2, 1), req(2, 1), req(3, 2), req(4, 3), req(5, 1), req(6, 1)}
	var got []int64
	for _, r := range c.take() {
		got = append(got, r.channel)
	}
	if fmt.Sprint(got) != "[2 3 5]" {
		t.Fatalf("group %v, want [2 3 5] (2 once, 4 over MaxMessages, 6 over MaxChannels)", got)
	}
	got = got[:0]
	for _, r := range c.queue {
		got = append(got, r.channel)
	}
	if fmt.Sprint(got) != "[2 4 6]" {
		t.Fatalf("left %v, want [2 4 6] in order", got)
	}
	if err := (CoalesceConfig{Writers: -1}).withDefaults().validate(); err == nil {
		t.Fatal("negative Writers accepted")
	}
}
