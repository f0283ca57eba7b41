package persistence_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/parley-chat/parley/persistence"
	"github.com/parley-chat/parley/persistence/pgtest"
)

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestMigrateUpDownUp(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDatabase(t)
	ctx := context.Background()
	pool, err := persistence.OpenDB(ctx, persistence.DBConfig{URL: url}, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	m, err := persistence.NewMigrator(pool, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	tables := func() int {
		var n int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM information_schema.tables WHERE table_schema='public' AND table_name <> 'goose_db_version'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if _, err := m.Up(ctx); err != nil {
		t.Fatal(err)
	}
	if n := tables(); n < 11 {
		t.Fatalf("after up: %d tables, want at least 11", n)
	}
	if _, err := m.DownTo(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if n := tables(); n != 0 {
		t.Fatalf("after down to 0: %d tables remain", n)
	}
	if _, err := m.Up(ctx); err != nil {
		t.Fatal(err)
	}
	st, err := m.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range st {
		if s.State != "applied" {
			t.Fatalf("migration %d is %s after the second up", s.Source.Version, s.State)
		}
	}
}

// Several nodes starting together must not fail or apply a migration twice.
func TestMigrateConcurrentNodes(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDatabase(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pool, err := persistence.OpenDB(ctx, persistence.DBConfig{URL: url, MaxConns: 2}, quietLogger())
			if err != nil {
				errs <- err
				return
			}
			defer pool.Close()
			errs <- persistence.Migrate(ctx, pool, quietLogger())
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

// Nodes started together (`make cluster`) race to create the database; every one of them
// must start.
func TestOpenDBCreatesDatabase(t *testing.T) {
	t.Parallel()
	name := fmt.Sprintf("parley_test_create_%d", time.Now().UnixNano())
	url := fmt.Sprintf("postgres://postgres@127.0.0.1:5432/%s?sslmode=disable", name)
	ctx := context.Background()
	const nodes = 6
	errs := make(chan error, nodes)
	start := make(chan struct{})
	for range nodes {
		go func() {
			<-start
			pool, err := persistence.OpenDB(ctx, persistence.DBConfig{URL: url, CreateDatabase: true}, quietLogger())
			if err == nil {
				pool.Close()
			}
			errs <- err
		}()
	}
	close(start)
	for range nodes {
		if err := <-errs; err != nil {
			t.Errorf("a node starting with the others: %v", err)
		}
	}
	admin, err := persistence.OpenDB(ctx, persistence.DBConfig{URL: pgtest.ServerURL()}, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
		t.Fatal(err)
	}
}
