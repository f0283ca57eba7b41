package ws_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/parley-chat/parley/actors"
	"github.com/parley-chat/parley/cluster"
	"github.com/parley-chat/parley/persistence"
	"github.com/parley-chat/parley/persistence/pgtest"
	"github.com/parley-chat/parley/stomp"
	"github.com/parley-chat/parley/stomp/stompclient"
	"github.com/parley-chat/parley/transport/api"
	"github.com/parley-chat/parley/transport/auth"
	"github.com/parley-chat/parley/transport/ws"
)

func TestMain(m *testing.M) {
	// Every session, actor, writer and replay of every test must be gone by now.
	goleak.VerifyTestMain(m)
}

const testSecret = "0123456789abcdef0123456789abcdef-test"

// env is one real node's real-time path on a loopback listener: PostgreSQL (its own
// database), the store, JWT verification, the actor system and the /ws handler.
type env struct {
	t        testing.TB
	store    *persistence.Store
	verifier *auth.Verifier
	sys      *actors.System
	reg      *prometheus.Registry
	h        *ws.Handler
	url      string
	ws       int64 // a workspace everyone in users() belongs to
	owner    int64
}

type envOptions struct {
	actors actors.Config
	ws     ws.Config
	tracer pgx.QueryTracer // sees every query of the node's pool; nil: none
	store  persistence.StoreConfig
	logger *slog.Logger // nil: discard (or stderr with PARLEY_TEST_LOG)
}

func newEnv(t testing.TB, o envOptions) *env {
	t.Helper()
	pool, _ := pgtest.NewPool(t, o.tracer)
	ids, err := cluster.NewIDGenerator(1, nil)
	if err != nil {
		t.Fatal(err)
	}
	store := persistence.NewStore(pool, ids, o.store)
	verifier, err := auth.New(auth.Config{HS256Secret: testSecret}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = verifier.Close() })
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("PARLEY_TEST_LOG") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if o.logger != nil {
		logger = o.logger
	}
	reg := prometheus.NewRegistry()
	o.actors.NodeID = 1
	sys, err := actors.New(o.actors, actors.Deps{
		Store: store, ReadMarks: api.StoreReadMarkers{Store: store}, IDs: ids, Logger: logger, Registerer: reg,
	})
	if err != nil {
		t.Fatal(err)
	}
	h, err := ws.New(o.ws, ws.Deps{Sessions: sys, Verifier: verifier, Users: store, Logger: logger, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /ws", h)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		if err := sys.Shutdown(ctx); err != nil {
			t.Errorf("actors shutdown: %v", err)
		}
	})
	e := &env{t: t, store: store, verifier: verifier, sys: sys, reg: reg, h: h, url: "ws://" + ln.Addr().String() + "/ws"}
	var tok string
	tok, e.owner = e.user("owner")
	_ = tok
	w, err := store.CreateWorkspace(context.Background(), e.owner, "acme")
	if err != nil {
		t.Fatal(err)
	}
	e.ws = w.ID
	return e
}

// user creates a workspace member (role member) and returns a token for them.
func (e *env) user(name string) (string, int64) {
	e.t.Helper()
	ctx := context.Background()
	tok, _, err := e.verifier.Issue(name, time.Hour)
	if err != nil {
		e.t.Fatal(err)
	}
	id, err := e.verifier.Verify(ctx, tok)
	if err != nil {
		e.t.Fatal(err)
	}
	u, err := e.store.UpsertUser(ctx, id)
	if err != nil {
		e.t.Fatal(err)
	}
	if e.ws != 0 {
		if _, err := e.store.Pool().Exec(ctx, `INSERT INTO workspace_members (workspace_id, user_id, role)
			VALUES ($1, $2, 'member') ON CONFLICT DO NOTHING`, e.ws, u.ID); err != nil {
			e.t.Fatal(err)
		}
	}
	return tok, u.ID
}

// outsider is a user of no workspace of env's.
func (e *env) outsider(name string) (string, int64) {
	ws := e.ws
	e.ws = 0
	defer func() { e.ws = ws }()
	return e.user(name)
}

func (e *env) channel(creator int64, name, typ string) int64 {
	e.t.Helper()
	c, err := e.store.CreateChannel(context.Background(), e.ws, creator, name, typ, "")
	if err != nil {
		e.t.Fatal(err)
	}
	return c.ID
}

func (e *env) dial(token string, opts ...func(*stompclient.ClientOptions)) *stompclient.Client {
	e.t.Helper()
	o := stompclient.ClientOptions{Token: token, SubscriptionBuffer: 4096}
	for _, f := range opts {
		f(&o)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := stompclient.Dial(ctx, e.url, o)
	if err != nil {
		e.t.Fatalf("dial: %v", err)
	}
	e.t.Cleanup(func() { _ = c.Close() })
	return c
}

func dest(cid int64) string { return "/topic/channel." + strconv.FormatInt(cid, 10) }

func sendBody(cid int64, content string) []byte {
	return []byte(`{"channelId":"` + strconv.FormatInt(cid, 10) + `","content":` + strconv.Quote(content) + `}`)
}

func ctxT(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// next waits for a MESSAGE on s.
func next(t *testing.T, s *stompclient.Subscription, d time.Duration) *stomp.Frame {
	t.Helper()
	select {
	case f, ok := <-s.C:
		if !ok {
			t.Fatalf("subscription %s closed", s.Destination)
		}
		return f
	case <-time.After(d):
		t.Fatalf("no message on %s within %v", s.Destination, d)
	}
	return nil
}

// serverError returns the ERROR frame inside err, failing the test if there is none.
func serverError(t *testing.T, err error) *stomp.Frame {
	t.Helper()
	var se *stompclient.ServerError
	if !errors.As(err, &se) {
		t.Fatalf("want a server ERROR, got %v", err)
	}
	return se.Frame
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// metric returns the value of a counter or gauge without labels (summed over labels).
func (e *env) metric(name string) float64 {
	e.t.Helper()
	mfs, err := e.reg.Gather()
	if err != nil {
		e.t.Fatal(err)
	}
	var v float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			v += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return v
}
