package attacks_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/parley-chat/parley/persistence/pgtest"
	"github.com/parley-chat/parley/stomp"
	"github.com/parley-chat/parley/stomp/stompclient"
	"github.com/parley-chat/parley/transport"
)

func TestMain(m *testing.M) {
	// Every session, socket and node of every attack must be gone by now.
	goleak.VerifyTestMain(m)
}

// node is one real parley server on a loopback port with its own PostgreSQL database and
// embedded Redis and Kafka, plus the test's own pool on that database to check what was
// written.
type node struct {
	t    *testing.T
	srv  *transport.Server
	base string // http://127.0.0.1:port
	ws   string // ws://127.0.0.1:port/ws
	db   *pgxpool.Pool
	reg  *prometheus.Registry
	http *http.Client
}

// startNode starts a node; mutate adjusts the configuration first. It stops at cleanup.
func startNode(t *testing.T, mutate func(*transport.Config)) *node {
	t.Helper()
	cfg := transport.DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.NodeID = 1
	cfg.DatabaseURL = pgtest.NewDatabase(t)
	cfg.DrainTimeout = 10 * time.Second
	if mutate != nil {
		mutate(&cfg)
	}
	logger := slog.New(slog.DiscardHandler)
	if os.Getenv("PARLEY_TEST_LOG") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	reg := prometheus.NewRegistry()
	ctx := context.Background()
	srv, err := transport.New(ctx, cfg, logger.With("test", t.Name()), reg)
	if err != nil {
		t.Fatalf("start node: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	n := &node{t: t, srv: srv, base: "http://" + srv.Addr().String(), ws: "ws://" + srv.Addr().String() + "/ws",
		reg: reg, http: &http.Client{Transport: &http.Transport{}, Timeout: 20 * time.Second}}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
		n.http.CloseIdleConnections()
	})
	n.db, err = pgxpool.New(ctx, cfg.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.db.Close)
	return n
}

// user is a caller with a token of the node's dev secret.
type user struct {
	name  string
	id    int64
	token string
}

// user creates (on first use, as the API does) a user called name with an hour's token.
func (n *node) user(name string) *user { return n.userFor(name, time.Hour) }

func (n *node) userFor(name string, ttl time.Duration) *user {
	n.t.Helper()
	tok, _, err := n.srv.Verifier().Issue(name, ttl)
	if err != nil {
		n.t.Fatal(err)
	}
	u := &user{name: name, token: tok}
	var me struct {
		ID int64 `json:"id,string"`
	}
	n.must(http.MethodGet, "/api/users/me", u, nil, &me)
	u.id = me.ID
	return u
}

// do makes one REST call as u (nil: anonymous). body is sent as is when it is []byte or
// string, as JSON otherwise.
func (n *node) do(method, path string, u *user, body any) (int, []byte) {
	n.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			n.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, n.base+path, rd)
	if err != nil {
		n.t.Fatalf("%s %s: %v", method, path, err)
	}
	if u != nil {
		req.Header.Set("Authorization", "Bearer "+u.token)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := n.http.Do(req)
	if err != nil {
		n.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw
}

// must makes a REST call that has to succeed, decoding the answer into out (if not nil).
func (n *node) must(method, path string, u *user, body, out any) {
	n.t.Helper()
	status, raw := n.do(method, path, u, body)
	if status/100 != 2 {
		n.t.Fatalf("%s %s as %s: %d %s", method, path, u.name, status, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			n.t.Fatalf("%s %s: decode %s: %v", method, path, raw, err)
		}
	}
}

// space is a workspace with its general channel.
type space struct {
	id, general int64
}

// workspace creates a workspace owned by owner and makes every member a member (by
// invitation and acceptance).
func (n *node) workspace(owner *user, name string, members ...*user) space {
	n.t.Helper()
	var w struct {
		ID int64 `json:"id,string"`
	}
	n.must(http.MethodPost, "/api/workspaces", owner, map[string]string{"name": name}, &w)
	var chans struct {
		Items []struct {
			ID   int64  `json:"id,string"`
			Name string `json:"name"`
		} `json:"items"`
	}
	n.must(http.MethodGet, fmt.Sprintf("/api/workspaces/%d/channels", w.ID), owner, nil, &chans)
	s := space{id: w.ID}
	for _, c := range chans.Items {
		if c.Name == "general" {
			s.general = c.ID
		}
	}
	if s.general == 0 {
		n.t.Fatalf("workspace %s has no general channel: %+v", name, chans)
	}
	for _, m := range members {
		var inv struct {
			Token string `json:"token"`
		}
		n.must(http.MethodPost, fmt.Sprintf("/api/workspaces/%d/invitations", w.ID), owner,
			map[string]string{"username": m.name}, &inv)
		n.must(http.MethodPost, "/api/invitations/accept", m, map[string]string{"token": inv.Token}, nil)
	}
	return s
}

// channel creates a channel in workspace wid.
func (n *node) channel(as *user, wid int64, name, typ string) int64 {
	n.t.Helper()
	var c struct {
		ID int64 `json:"id,string"`
	}
	n.must(http.MethodPost, fmt.Sprintf("/api/workspaces/%d/channels", wid), as, map[string]string{"name": name, "type": typ}, &c)
	return c.ID
}

// message is what the tests need of an API message.
type message struct {
	ID      int64  `json:"id,string"`
	Seq     int64  `json:"seq"`
	Content string `json:"content"`
}

// post posts content to channel cid over REST.
func (n *node) post(as *user, cid int64, content string) message {
	n.t.Helper()
	var m message
	n.must(http.MethodPost, fmt.Sprintf("/api/channels/%d/messages", cid), as, map[string]string{"content": content}, &m)
	return m
}

// dial opens a STOMP session for u with package stompclient.
func (n *node) dial(u *user) *stompclient.Client {
	n.t.Helper()
	c, err := n.tryDial(u)
	if err != nil {
		n.t.Fatalf("dial as %s: %v", u.name, err)
	}
	return c
}

func (n *node) tryDial(u *user) (*stompclient.Client, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := stompclient.Dial(ctx, n.ws, stompclient.ClientOptions{Token: u.token, SubscriptionBuffer: 8192})
	if err != nil {
		return nil, err
	}
	n.t.Cleanup(func() { _ = c.Close() })
	return c, nil
}

// tables are the ones a request can change (users only gain rows on first use).
var tables = []string{"workspaces", "workspace_members", "invitations", "channels", "channel_members",
	"messages", "threads", "reactions", "mentions", "read_receipts"}

// snapshot fingerprints every table's rows, to show that an attack changed nothing.
func (n *node) snapshot() map[string]string {
	n.t.Helper()
	out := make(map[string]string, len(tables))
	for _, tbl := range tables {
		var count int64
		var sum string
		err := n.db.QueryRow(context.Background(), `SELECT count(*), coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '')
			FROM `+tbl+` t`).Scan(&count, &sum)
		if err != nil {
			n.t.Fatalf("snapshot %s: %v", tbl, err)
		}
		out[tbl] = strconv.FormatInt(count, 10) + ":" + sum
	}
	return out
}

// unchanged fails the test for every table whose rows differ from before.
func (n *node) unchanged(before map[string]string, what string) {
	n.t.Helper()
	after := n.snapshot()
	for _, tbl := range tables {
		if before[tbl] != after[tbl] {
			n.t.Errorf("%s changed table %s: %s → %s", what, tbl, before[tbl], after[tbl])
		}
	}
}

// count returns a single integer from the node's database.
func (n *node) count(q string, args ...any) int64 {
	n.t.Helper()
	var v int64
	if err := n.db.QueryRow(context.Background(), q, args...).Scan(&v); err != nil {
		n.t.Fatalf("%s: %v", q, err)
	}
	return v
}

// metric sums a counter or gauge over its labels.
func (n *node) metric(name string) float64 {
	n.t.Helper()
	mfs, err := n.reg.Gather()
	if err != nil {
		n.t.Fatal(err)
	}
	var v float64
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				v += m.GetCounter().GetValue() + m.GetGauge().GetValue()
			}
		}
	}
	return v
}

// healthy fails unless /readyz answers 200.
func (n *node) healthy() {
	n.t.Helper()
	if status, raw := n.do(http.MethodGet, "/readyz", nil, nil); status != http.StatusOK {
		n.t.Fatalf("/readyz: %d %s", status, raw)
	}
}

// waitFor polls cond until it holds or d has passed.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// nextOn returns the next MESSAGE of a subscription of the stomp client, failing after 10 s.
func nextOn(t *testing.T, s *stompclient.Subscription) *stomp.Frame {
	t.Helper()
	select {
	case f, ok := <-s.C:
		if !ok {
			t.Fatalf("subscription to %s ended", s.Destination)
		}
		return f
	case <-time.After(10 * time.Second):
		t.Fatalf("nothing on %s within 10 s", s.Destination)
	}
	return nil
}

func destOf(cid int64) string { return "/topic/channel." + strconv.FormatInt(cid, 10) }

func sendBody(cid int64, content string) []byte {
	return []byte(`{"channelId":"` + strconv.FormatInt(cid, 10) + `","content":` + strconv.Quote(content) + `}`)
}
