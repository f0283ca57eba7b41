package persistence_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/parley-chat/parley/cluster"
	"github.com/parley-chat/parley/persistence"
	"github.com/parley-chat/parley/persistence/pgtest"
)

// replicaFixture is a store on a real primary with one real streaming replica (ADR 0044):
// alice writes, bob reads.
type replicaFixture struct {
	*fixture
	reps    *persistence.Replicas
	reg     *prometheus.Registry
	replica *pgtest.Server
	db      string
}

func newReplicaFixture(t *testing.T, cfg persistence.ReplicaConfig) *replicaFixture {
	t.Helper()
	p := pgtest.SharedPrimary(t)
	db := p.NewDatabase(t)
	ctx := context.Background()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	pool, err := persistence.OpenDB(ctx, persistence.DBConfig{URL: p.URL(db)}, logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if err := persistence.Migrate(ctx, pool, logger); err != nil {
		t.Fatal(err)
	}
	replica := p.NewReplica(t)
	reg := prometheus.NewRegistry()
	cfg.URLs = []string{replica.URL(db)}
	reps, err := persistence.NewReplicas(ctx, cfg, slog.New(slog.NewTextHandler(t.Output(), nil)), reg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(reps.Close)
	ids, err := cluster.NewIDGenerator(1, nil)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{store: persistence.NewStore(pool, ids, persistence.StoreConfig{Replicas: reps}), ctx: ctx, users: map[string]int64{}}
	for i, n := range []string{"alice", "bob"} {
		u, err := f.store.UpsertUser(ctx, persistence.Identity{Subject: "sub-" + n, Username: n})
		if err != nil {
			t.Fatal(err)
		}
		f.users[n] = u.ID
		if i == 0 {
			f.ws, f.ch = ids.Next(), ids.Next()
			f.exec(t, `INSERT INTO workspaces (id, name, created_by) VALUES ($1, 'ws', $2)`, f.ws, u.ID)
			f.exec(t, `INSERT INTO channels (id, workspace_id, name, type, created_by) VALUES ($1, $2, 'general', 'public', $3)`, f.ch, f.ws, u.ID)
		}
		f.exec(t, `INSERT INTO workspace_members (workspace_id, user_id, role) VALUES ($1, $2, 'member')`, f.ws, u.ID)
		f.exec(t, `INSERT INTO channel_members (channel_id, user_id) VALUES ($1, $2)`, f.ch, u.ID)
	}
	rf := &replicaFixture{fixture: f, reps: reps, reg: reg, replica: replica, db: db}
	rcptWaitFor(t, 30*time.Second, "the replica in rotation", func() bool { return reps.InRotation() == 1 })
	return rf
}

// post appends a message by alice and returns its content.
func (rf *replicaFixture) post(t *testing.T, content string) {
	t.Helper()
	res, err := rf.store.AppendMessages(rf.ctx, rf.ch, []persistence.NewMessage{{UserID: rf.users["alice"], Content: content}})
	if err != nil || res[0].Err != nil {
		t.Fatalf("append: %v %v", err, res)
	}
}

// history is name's newest page of the channel, as contents, read through the store.
func (rf *replicaFixture) history(t *testing.T, name string) map[string]bool {
	t.Helper()
	ms, err := rf.store.ChannelMessages(persistence.ForUser(rf.ctx, rf.users[name]), rf.users[name], rf.ch, 0, -1, 50)
	if err != nil {
		t.Fatalf("history for %s: %v", name, err)
	}
	out := map[string]bool{}
	for _, m := range ms {
		out[m.Content] = true
	}
	return out
}

// onReplica runs sql on the replica itself.
func (rf *replicaFixture) onReplica(t *testing.T, sql string) string {
	t.Helper()
	conn, err := pgx.Connect(rf.ctx, rf.replica.URL(rf.db))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var out string
	if err := conn.QueryRow(rf.ctx, sql).Scan(&out); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return out
}

func (rf *replicaFixture) pauseReplay(t *testing.T) {
	t.Helper()
	rf.onReplica(t, `SELECT pg_wal_replay_pause()::text`)
	rcptWaitFor(t, 10*time.Second, "replay paused", func() bool {
		return rf.onReplica(t, `SELECT pg_get_wal_replay_pause_state()`) == "paused"
	})
}

// replicaMetric sums the series of name having a label with value want ("" for any).
func replicaMetric(t *testing.T, reg *prometheus.Registry, name, want string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			match := want == ""
			for _, l := range m.GetLabel() {
				match = match || l.GetValue() == want
			}
			if match {
				sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
			}
		}
	}
	return sum
}

// TestReplicaServesReadsAndReadYourWrites: with replay paused (and a bound wide enough to
// keep the replica in rotation) another user's history, search, thread list, members and
// unreads come from the replica and miss the newest message, while its author, who just
// wrote, reads the primary and sees it.
func TestReplicaServesReadsAndReadYourWrites(t *testing.T) {
	rf := newReplicaFixture(t, persistence.ReplicaConfig{MaxLag: time.Hour, CheckInterval: 100 * time.Millisecond})
	rf.post(t, "first")
	rcptWaitFor(t, 10*time.Second, "the replica to replay the first message", func() bool { return rf.history(t, "bob")["first"] })
	if n := replicaMetric(t, rf.reg, "parley_db_routed_reads_total", fmt.Sprintf("127.0.0.1:%d", rf.replica.Port)); n == 0 {
		t.Fatal("no routed read counted on the replica")
	}

	rf.pauseReplay(t)
	rf.post(t, "second")
	if got := rf.history(t, "alice"); !got["second"] {
		t.Fatalf("alice just wrote and does not read her own message: %v", got)
	}
	if got := rf.history(t, "bob"); got["second"] || !got["first"] {
		t.Fatalf("bob's history did not come from the paused replica: %v", got)
	}
	bob := persistence.ForUser(rf.ctx, rf.users["bob"])
	wa, err := rf.store.WorkspaceAccess(rf.ctx, rf.users["bob"], rf.ws)
	if err != nil {
		t.Fatal(err)
	}
	sq, err := persistence.ParseSearch("second")
	if err != nil {
		t.Fatal(err)
	}
	found, err := rf.store.SearchMessages(bob, wa, sq, persistence.SearchOptions{Limit: 10})
	if err != nil || len(found) != 0 {
		t.Fatalf("bob's search should come from the paused replica: %v %v", found, err)
	}
	waAlice, err := rf.store.WorkspaceAccess(rf.ctx, rf.users["alice"], rf.ws)
	if err != nil {
		t.Fatal(err)
	}
	if found, err := rf.store.SearchMessages(persistence.ForUser(rf.ctx, rf.users["alice"]), waAlice, sq, persistence.SearchOptions{Limit: 10}); err != nil || len(found) != 1 {
		t.Fatalf("alice's search, on the primary after her write: %d hits, %v; want 1", len(found), err)
	}
	_, total, err := rf.store.Unreads(bob, rf.users["bob"], persistence.SortNewest, persistence.UnreadCursor{}, 10, nil)
	if err != nil || total != 1 {
		t.Fatalf("bob's unreads from the paused replica: total %d, %v; want 1 (first only)", total, err)
	}
	if _, err := rf.store.Threads(bob, rf.users["bob"], rf.ch, 0, 10); err != nil {
		t.Fatal(err)
	}
	if _, err := rf.store.ChannelMembers(bob, rf.ch, 0, 10); err != nil {
		t.Fatal(err)
	}
	// A catch-up page going forward is not a routed read: the primary has the second message.
	ms, err := rf.store.ChannelMessages(bob, rf.users["bob"], rf.ch, 0, 0, 50)
	if err != nil || len(ms) != 2 {
		t.Fatalf("catch-up page: %d messages, %v; want 2 from the primary", len(ms), err)
	}
}

// TestReplicaLagFallback: a replica whose replay is paused while the primary writes leaves
// rotation once its lag passes the bound; reads then go to the primary and see the write.
// Resumed, it comes back.
func TestReplicaLagFallback(t *testing.T) {
	rf := newReplicaFixture(t, persistence.ReplicaConfig{MaxLag: 300 * time.Millisecond, CheckInterval: 100 * time.Millisecond})
	rf.pauseReplay(t)
	rf.post(t, "while paused")
	start := time.Now()
	// Out for its lag (measured over the bound), not for a failed check.
	rcptWaitFor(t, 10*time.Second, "the lagging replica out of rotation", func() bool {
		return rf.reps.InRotation() == 0 && replicaMetric(t, rf.reg, "parley_db_replica_lag_seconds", "") >= 0.3
	})
	t.Logf("out of rotation %s after the write (bound 300ms, checks every 100ms)", time.Since(start).Round(time.Millisecond))
	if g := replicaMetric(t, rf.reg, "parley_db_replica_in_rotation", ""); g != 0 {
		t.Fatalf("parley_db_replica_in_rotation = %v, want 0", g)
	}
	if got := rf.history(t, "bob"); !got["while paused"] {
		t.Fatalf("with the replica out of rotation bob reads the primary and sees the write: %v", got)
	}
	rf.onReplica(t, `SELECT pg_wal_replay_resume()::text`)
	rcptWaitFor(t, 10*time.Second, "the caught-up replica back in rotation", func() bool { return rf.reps.InRotation() == 1 })
}

// TestReplicaLoss: a replica that dies between two checks fails the read that reaches it;
// the read is retried on the primary, so the user sees no error, and the replica leaves
// rotation at once.
func TestReplicaLoss(t *testing.T) {
	// A check interval longer than the test: only the failed read can take it out.
	rf := newReplicaFixture(t, persistence.ReplicaConfig{CheckInterval: time.Minute})
	rf.post(t, "before")
	if err := rf.replica.Stop(); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if got := rf.history(t, "bob"); !got["before"] {
			t.Fatalf("bob's history after the replica died: %v", got)
		}
	}
	if n := replicaMetric(t, rf.reg, "parley_db_replica_read_failures_total", ""); n != 1 {
		t.Fatalf("replica read failures = %v, want 1 (then out of rotation)", n)
	}
	if rf.reps.InRotation() != 0 {
		t.Fatal("the dead replica is still in rotation")
	}
}

// TestNewReplicasRejectsBadConfig: a bad setting is a clear error at start, and no URLs is
// no replicas (every read on the primary).
func TestNewReplicasRejectsBadConfig(t *testing.T) {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, c := range []struct {
		cfg  persistence.ReplicaConfig
		want string
	}{
		{persistence.ReplicaConfig{URLs: []string{"postgres://u:secret@127.0.0.1:notaport/db"}}, "database replica url 1"},
		{persistence.ReplicaConfig{URLs: []string{"postgres://127.0.0.1/db"}, MaxLag: -time.Second}, "replica max lag"},
		{persistence.ReplicaConfig{URLs: []string{"postgres://127.0.0.1/db"}, CheckInterval: time.Millisecond}, "replica check interval"},
	} {
		r, err := persistence.NewReplicas(context.Background(), c.cfg, logger, prometheus.NewRegistry())
		if err == nil {
			r.Close()
			t.Errorf("%+v: accepted", c.cfg)
			continue
		}
		if !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "secret") {
			t.Errorf("%+v: error %q, want one naming %q without the password", c.cfg, err, c.want)
		}
	}
	r, err := persistence.NewReplicas(context.Background(), persistence.ReplicaConfig{}, logger, prometheus.NewRegistry())
	if r != nil || err != nil {
		t.Fatalf("no URLs: %v, %v; want nil, nil", r, err)
	}
}
