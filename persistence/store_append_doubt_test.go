package persistence_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/jackc/pgx/v5"
	"github.com/rs/zerolog"

	"github.com/parley-chat/parley/cluster"
	"github.com/parley-chat/parley/errcode"
	"github.com/parley-chat/parley/persistence"
	"github.com/parley-chat/parley/transport/api"
)

// cutter is a pgx tracer that makes the statement carrying an append's commit lose its
// way through toxiproxy: when that statement starts it adds a toxic (stream "downstream":
// the answer is dropped after PostgreSQL committed; "upstream": the statement never
// arrives), and when the caller gets its error the toxic goes again, if lift says so.
type cutter struct {
	proxy  *toxiproxy.Proxy
	stream string
	lift   bool

	mu    sync.Mutex
	armed bool
	cut   bool // the toxic is in place
}

func (c *cutter) arm() { c.mu.Lock(); c.armed = true; c.mu.Unlock() }

func (c *cutter) start(commits bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.armed || !commits {
		return
	}
	c.armed = false
	js := `{"name":"cut","type":"timeout","stream":"` + c.stream + `","attributes":{"timeout":0}}`
	if _, err := c.proxy.Toxics.AddToxicJson(strings.NewReader(js)); err != nil {
		panic(err)
	}
	c.cut = true
}

func (c *cutter) end(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cut && err != nil && c.lift {
		c.cut = false
		if err := c.proxy.Toxics.RemoveToxic(context.Background(), "cut"); err != nil {
			panic(err)
		}
	}
}

func (c *cutter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	c.start(strings.Contains(d.SQL, "INSERT INTO messages"))
	return ctx
}

func (c *cutter) TraceQueryEnd(_ context.Context, _ *pgx.Conn, d pgx.TraceQueryEndData) { c.end(d.Err) }

func (c *cutter) TraceBatchStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceBatchStartData) context.Context {
	commits := false
	for _, q := range d.Batch.QueuedQueries {
		commits = commits || q.SQL == "COMMIT"
	}
	c.start(commits)
	return ctx
}

func (c *cutter) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}

func (c *cutter) TraceBatchEnd(_ context.Context, _ *pgx.Conn, d pgx.TraceBatchEndData) { c.end(d.Err) }

// doubtFixture is a fixture whose proxied store runs every append through c.
func doubtFixture(t *testing.T, stream string, lift bool, wait time.Duration) (*fixture, *persistence.Store, *cutter) {
	t.Helper()
	f := newFixture(t, "alice", "bob")
	var dbName string
	if err := f.store.Pool().QueryRow(f.ctx, `SELECT current_database()`).Scan(&dbName); err != nil {
		t.Fatal(err)
	}
	cfg := f.store.Pool().Config().ConnConfig
	proxy := toxiproxy.NewProxy(toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop()), "pg", "127.0.0.1:0",
		net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port))))
	if err := proxy.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proxy.Stop)
	c := &cutter{proxy: proxy, stream: stream, lift: lift}
	u := url.URL{Scheme: "postgres", User: url.User(cfg.User), Host: proxy.Listen, Path: "/" + dbName, RawQuery: "sslmode=disable"}
	pool, err := persistence.OpenDB(f.ctx, persistence.DBConfig{URL: u.String(), MaxConns: 2, Tracer: c}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	ids, err := cluster.NewIDGenerator(2, nil)
	if err != nil {
		t.Fatal(err)
	}
	return f, persistence.NewStore(pool, ids, persistence.StoreConfig{InDoubtWait: wait}), c
}

// The commit reached PostgreSQL and its answer was lost: the append must say what
// PostgreSQL did (stored, at this seq), not "unavailable", which promises it was not.
// Both write paths: the one-statement fast path and the general path (a reply with a
// mention), whose COMMIT ends a pipeline.
func TestAppendCommitAnswerLost(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, content string }{
		{"fast path", "hello"},
		{"general path", "hello @bob"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f, store, c := doubtFixture(t, "downstream", true, 10*time.Second)
			alice := f.users["alice"]
			// The same path once first, so that pgx has its statements prepared and the
			// cut falls on the round trip that commits, not on a prepare before it.
			if _, err := store.AppendMessages(f.ctx, f.ch, []persistence.NewMessage{{UserID: alice, Content: tc.content, ClientMsgID: "m0"}}); err != nil {
				t.Fatal(err)
			}
			c.arm()
			ctx, cancel := context.WithTimeout(f.ctx, 500*time.Millisecond)
			defer cancel()
			res, err := store.AppendMessages(ctx, f.ch, []persistence.NewMessage{
				{UserID: alice, Content: tc.content, ClientMsgID: "m1"},
				{UserID: alice, Content: tc.content + " again", ClientMsgID: "m2"},
			})
			if c.armed || c.cut {
				t.Fatalf("the commit was not cut (armed %v, cut %v)", c.armed, c.cut)
			}
			if err != nil {
				t.Fatalf("append whose commit happened but whose answer was lost: %v (unavailable=%v)", err, persistence.Unavailable(err))
			}
			for i, want := range []int64{2, 3} {
				if got := res[i].Message.Seq; got != want || res[i].Err != nil || res[i].Duplicate {
					t.Errorf("result %d: seq %d err %v duplicate %v; want seq %d", i, got, res[i].Err, res[i].Duplicate, want)
				}
				if n := f.count(t, `SELECT count(*) FROM messages WHERE id = $1 AND seq = $2`, res[i].Message.ID, want); n != 1 {
					t.Errorf("result %d (id %d, seq %d) is stored %d times", i, res[i].Message.ID, want, n)
				}
			}
			if n := f.count(t, `SELECT count(*) FROM messages WHERE channel_id = $1`, f.ch); n != 3 {
				t.Errorf("%d messages stored, want 3", n)
			}
			// The retry a client makes after the lost answer finds the originals.
			again, err := store.AppendMessages(f.ctx, f.ch, []persistence.NewMessage{{UserID: alice, Content: tc.content, ClientMsgID: "m1"}})
			if err != nil || !again[0].Duplicate || again[0].Message.ID != res[0].Message.ID {
				t.Errorf("retry: %+v, %v; want the original as a duplicate", again, err)
			}
		})
	}
}

// The statement never reached PostgreSQL: the append fails as unavailable (nothing was
// stored, so saying so is true), and the client's retry stores it once.
func TestAppendCommitNeverArrived(t *testing.T) {
	t.Parallel()
	f, store, c := doubtFixture(t, "upstream", true, 10*time.Second)
	alice := f.users["alice"]
	c.arm()
	ctx, cancel := context.WithTimeout(f.ctx, 500*time.Millisecond)
	defer cancel()
	_, err := store.AppendMessages(ctx, f.ch, []persistence.NewMessage{{UserID: alice, Content: "hi", ClientMsgID: "m1"}})
	if err == nil || errors.Is(err, persistence.ErrInDoubt) {
		t.Fatalf("append whose statement was lost: %v; want the connection's error", err)
	}
	if _, code := api.CodeOf(err); code != errcode.Unavailable {
		t.Errorf("code %q, want %q (%v)", code, errcode.Unavailable, err)
	}
	if n := f.count(t, `SELECT count(*) FROM messages WHERE channel_id = $1`, f.ch); n != 0 {
		t.Fatalf("%d messages stored after a refusal", n)
	}
	res, err := store.AppendMessages(f.ctx, f.ch, []persistence.NewMessage{{UserID: alice, Content: "hi", ClientMsgID: "m1"}})
	if err != nil || res[0].Duplicate || res[0].Message.Seq != 1 {
		t.Fatalf("retry: %+v, %v; want a new message at seq 1", res, err)
	}
}

// PostgreSQL stays out of reach after the cut: once InDoubtWait has passed the append says
// that the outcome is unknown (503 outcome_unknown), never "unavailable".
func TestAppendCommitUnresolved(t *testing.T) {
	t.Parallel()
	f, store, c := doubtFixture(t, "downstream", false, time.Second)
	c.arm()
	ctx, cancel := context.WithTimeout(f.ctx, 500*time.Millisecond)
	defer cancel()
	_, err := store.AppendMessages(ctx, f.ch, []persistence.NewMessage{{UserID: f.users["alice"], Content: "hi", ClientMsgID: "m1"}})
	if !errors.Is(err, persistence.ErrInDoubt) {
		t.Fatalf("append cut off with PostgreSQL still out of reach: %v; want ErrInDoubt", err)
	}
	if status, code := api.CodeOf(err); status != 503 || code != errcode.OutcomeUnknown {
		t.Errorf("answered %d %q, want 503 %q", status, code, errcode.OutcomeUnknown)
	}
}
