package persistence_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/parley-chat/parley/persistence"
	"github.com/parley-chat/parley/persistence/pgtest"
)

// The pool's statistics reach /metrics: connections held now, and acquires that waited.
func TestPoolMetrics(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewPool(t, nil)
	reg := prometheus.NewRegistry()
	if err := persistence.RegisterPoolMetrics(reg, pool, "pool"); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	held := make([]interface{ Release() }, 0, pool.Config().MaxConns)
	for range pool.Config().MaxConns {
		c, err := pool.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	if got := metricValue(t, reg, "parley_db_pool_acquired_conns"); got != float64(len(held)) {
		t.Errorf("acquired_conns %v with %d held", got, len(held))
	}
	// One more must wait: released after 50 ms.
	go func() { time.Sleep(50 * time.Millisecond); held[0].Release() }()
	c, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c.Release()
	for _, h := range held[1:] {
		h.Release()
	}
	if got := metricValue(t, reg, "parley_db_pool_empty_acquires_total"); got < 1 {
		t.Errorf("empty_acquires_total %v after an acquire that waited", got)
	}
	if got := metricValue(t, reg, "parley_db_pool_acquire_wait_seconds_total"); got < 0.04 {
		t.Errorf("acquire_wait_seconds_total %v after a 50 ms wait", got)
	}
}

// metricValue is the value of the one metric called name in reg.
func metricValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			m := mf.GetMetric()[0]
			return m.GetGauge().GetValue() + m.GetCounter().GetValue()
		}
	}
	t.Fatalf("no %s in %d families", name, len(mfs))
	return 0
}
