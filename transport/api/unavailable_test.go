package api_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/parley-chat/parley/cluster"
	"github.com/parley-chat/parley/errcode"
	"github.com/parley-chat/parley/persistence"
	"github.com/parley-chat/parley/transport/api"
	"github.com/parley-chat/parley/transport/auth"
)

// PostgreSQL out of reach is 503 unavailable with Retry-After, not 500 internal: the
// request was fine and may be retried (issue 9's PostgreSQL outage found the 500).
func TestDatabaseDownIs503(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now: every connection is refused
	pool, err := pgxpool.New(context.Background(), "postgres://postgres@"+addr+"/parley?sslmode=disable&connect_timeout=2")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	ids, err := cluster.NewIDGenerator(7, nil)
	if err != nil {
		t.Fatal(err)
	}
	verify, err := auth.New(auth.Config{HS256Secret: testSecret}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = verify.Close() })
	a, err := api.New(api.Config{}, api.Deps{Store: persistence.NewStore(pool, ids, persistence.StoreConfig{}), Verifier: verify, IDs: ids, Events: &recorder{}})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	a.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	tok, _, err := verify.Issue("alice", 0)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/users/me", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var p api.Problem
	_ = json.NewDecoder(resp.Body).Decode(&p)
	if resp.StatusCode != http.StatusServiceUnavailable || p.Code != errcode.Unavailable ||
		resp.Header.Get("Content-Type") != "application/problem+json" || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("database down: %d %s %+v (Retry-After %q), want 503 problem+json unavailable with Retry-After",
			resp.StatusCode, resp.Header.Get("Content-Type"), p, resp.Header.Get("Retry-After"))
	}
}
