package api_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/parley-chat/parley/persistence"
	"github.com/parley-chat/parley/persistence/pgtest"
)

// TestRESTReadsAfterOwnWriteGoToThePrimary: with a real streaming replica in rotation, a
// user's history page comes from the replica, except right after that user's own write
// through the API (here an edit, which only the REST middleware notes; ADR 0044).
func TestRESTReadsAfterOwnWriteGoToThePrimary(t *testing.T) {
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
	reps, err := persistence.NewReplicas(ctx, persistence.ReplicaConfig{URLs: []string{replica.URL(db)},
		CheckInterval: 100 * time.Millisecond}, logger, reg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(reps.Close)
	tm := newTeam(t, harnessOpts{pool: pool, store: persistence.StoreConfig{Replicas: reps}})
	m := tm.post(tm.alice, "original")
	onReplica := fmt.Sprintf("127.0.0.1:%d", replica.Port)
	reads := func(pool string) float64 { return gauge(t, reg, "parley_db_routed_reads_total", pool) }
	history := func(c *client) {
		t.Helper()
		c.ok("GET", tm.msgs()+"?limit=20", nil, nil)
	}

	// Once the window of their setup writes has passed, each one's page comes from the replica.
	for _, c := range []*client{tm.bob, tm.alice} {
		deadline := time.Now().Add(15 * time.Second)
		for {
			before := reads(onReplica)
			history(c)
			if reads(onReplica) > before {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s's history never came from the replica", c.name)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	tm.alice.ok("PATCH", fmt.Sprintf("/api/messages/%d", m.ID), map[string]any{"content": "edited"}, nil)
	replicaBefore, primaryBefore := reads(onReplica), reads("primary")
	history(tm.alice)
	if reads(onReplica) != replicaBefore || reads("primary") <= primaryBefore {
		t.Fatalf("alice's page right after her edit: replica reads %v→%v, primary %v→%v; want the primary",
			replicaBefore, reads(onReplica), primaryBefore, reads("primary"))
	}
}

// gauge sums the series of a counter or gauge in reg having a label with value want.
func gauge(t *testing.T, reg *prometheus.Registry, name, want string) float64 {
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
			for _, l := range m.GetLabel() {
				if l.GetValue() == want {
					sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
				}
			}
		}
	}
	return sum
}
