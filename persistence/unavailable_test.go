package persistence_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/rs/zerolog"

	"github.com/parley-chat/parley/persistence"
	"github.com/parley-chat/parley/persistence/pgtest"
)

// PostgreSQL out of reach is Unavailable (a 503 to retry), whether no connection can be
// made or the one in use breaks; an error PostgreSQL answers for a statement is not.
func TestUnavailable(t *testing.T) {
	t.Parallel()
	_, dbURL := pgtest.NewPool(t, nil)
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := toxiproxy.NewProxy(toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop()), "pg", "127.0.0.1:0", u.Host)
	if err := proxy.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proxy.Stop)
	u.Host = proxy.Listen
	ctx := context.Background()
	pool, err := persistence.OpenDB(ctx, persistence.DBConfig{URL: u.String(), MaxConns: 2}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)

	// A statement PostgreSQL refuses, a missing row and a cancelled caller are not outages.
	_, syntaxErr := pool.Exec(ctx, `SELEC 1`)
	var n int
	noRows := pool.QueryRow(ctx, `SELECT 1 WHERE false`).Scan(&n)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, cancelled := pool.Exec(cctx, `SELECT 1`)
	for name, err := range map[string]error{"syntax error": syntaxErr, "no rows": noRows, "cancelled": cancelled,
		"nil": nil, "io.EOF alone": io.EOF, "plain error": errors.New("boom")} {
		if persistence.Unavailable(err) {
			t.Errorf("%s (%v) counted as unavailable", name, err)
		}
	}

	// The connection in use breaks in the middle of a statement.
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	go func() { time.Sleep(200 * time.Millisecond); proxy.Stop() }()
	_, broken := conn.Exec(ctx, `SELECT pg_sleep(2)`)
	conn.Release()
	// No new connection can be made.
	_, refused := pool.Exec(ctx, `SELECT 1`)
	// A connection that never answers, until the caller's deadline.
	if err := proxy.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := proxy.Toxics.AddToxicJson(strings.NewReader(`{"name":"stall","type":"timeout","attributes":{"timeout":0}}`)); err != nil {
		t.Fatal(err)
	}
	pool.Reset()
	tctx, tcancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer tcancel()
	_, stalled := pool.Exec(tctx, `SELECT 1`)
	for name, err := range map[string]error{"broken mid-statement": broken, "refused": refused, "stalled": stalled} {
		if err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		if !persistence.Unavailable(err) {
			t.Errorf("%s (%v, %T) not counted as unavailable", name, err, errors.Unwrap(err))
		}
	}
}
