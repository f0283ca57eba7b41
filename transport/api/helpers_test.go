package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/parley-chat/parley/cluster"
	"github.com/parley-chat/parley/files"
	"github.com/parley-chat/parley/persistence"
	"github.com/parley-chat/parley/persistence/pgtest"
	"github.com/parley-chat/parley/transport/api"
	"github.com/parley-chat/parley/transport/auth"
	"github.com/parley-chat/parley/transport/clientip"
)

const testSecret = "test-secret-test-secret-test-secret!"

// harness is a real API on a fresh database behind an httptest server.
type harness struct {
	t       testing.TB
	srv     *httptest.Server
	store   *persistence.Store
	verify  *auth.Verifier
	queries *queryCounter
	events  *recorder
	system  bool // messages are posted through actors.System (posters_test.go)
	blobs   files.Blobs
}

type harnessOpts struct {
	cfg         api.Config
	auth        auth.Config
	counts      bool
	readMarkers api.ReadMarkers
	markerCache api.MarkerCache
	registerer  prometheus.Registerer
	clientIP    *clientip.Resolver
	store       persistence.StoreConfig
	system      bool // post through actors.System instead of api.StorePoster
	presence    api.PresenceSource
	logger      *slog.Logger
	blobs       files.Blobs   // the file store; nil: a directory of the test's
	files       files.Config  // upload limits
	pool        *pgxpool.Pool // nil: a fresh database on the test server
}

func newHarness(t testing.TB, o harnessOpts) *harness {
	t.Helper()
	h := &harness{t: t, events: &recorder{}}
	var tracer pgx.QueryTracer
	if o.counts {
		h.queries = &queryCounter{}
		tracer = h.queries
	}
	pool := o.pool
	if pool == nil {
		pool, _ = pgtest.NewPool(t, tracer)
	}
	ids, err := cluster.NewIDGenerator(7, nil)
	if err != nil {
		t.Fatal(err)
	}
	h.store = persistence.NewStore(pool, ids, o.store)
	if o.auth.HS256Secret == "" {
		o.auth.HS256Secret = testSecret
	}
	h.verify, err = auth.New(o.auth, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.verify.Close() })
	var poster api.Poster // nil: the API's default, StorePoster
	if o.system {
		h.system = true
		poster = h.startSystem(ids)
	}
	h.blobs = o.blobs
	if h.blobs == nil {
		if h.blobs, err = files.NewDirBlobs(t.TempDir()); err != nil {
			t.Fatal(err)
		}
	}
	fsvc, err := files.New(o.files, h.blobs, h.store, o.logger)
	if err != nil {
		t.Fatal(err)
	}
	a, err := api.New(o.cfg, api.Deps{Store: h.store, Verifier: h.verify, IDs: ids, Events: h.events, Poster: poster,
		ReadMarkers: o.readMarkers, MarkerCache: o.markerCache, Registerer: o.registerer, ClientIP: o.clientIP,
		Presence: o.presence, Logger: o.logger, Files: fsvc})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	a.Register(mux)
	h.srv = httptest.NewServer(mux)
	t.Cleanup(h.srv.Close)
	return h
}

// client is a user of the harness with a token.
type client struct {
	h     *harness
	token string
	id    int64
	name  string
}

// user mints a token for name and makes the user exist (GET /api/users/me).
func (h *harness) user(name string) *client {
	h.t.Helper()
	tok, _, err := h.verify.Issue(name, 0)
	if err != nil {
		h.t.Fatal(err)
	}
	c := &client{h: h, token: tok, name: name}
	var me persistence.User
	c.ok("GET", "/api/users/me", nil, &me)
	c.id = me.ID
	return c
}

// do sends a request with body (marshaled unless a string or []byte) and returns status and body.
func (c *client) do(method, path string, body any) (int, []byte) {
	c.h.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			c.h.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, c.h.srv.URL+path, rd)
	if err != nil {
		c.h.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.h.srv.Client().Do(req)
	if err != nil {
		c.h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	checkAgainstSpec(c.h.t, req, resp, b)
	if resp.StatusCode >= 400 && resp.Header.Get("Content-Type") != "application/problem+json" {
		c.h.t.Errorf("%s %s: %d with Content-Type %q, want problem+json", method, path, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	return resp.StatusCode, b
}

// ok sends a request that must succeed (2xx) and decodes the body into out (if non-nil).
func (c *client) ok(method, path string, body, out any) int {
	c.h.t.Helper()
	st, b := c.do(method, path, body)
	if st < 200 || st > 299 {
		c.h.t.Fatalf("%s %s as %s: %d %s", method, path, c.name, st, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			c.h.t.Fatalf("%s %s: decode %s: %v", method, path, b, err)
		}
	}
	return st
}

// expect sends a request and fails unless it answers status; for errors it checks the code.
func (c *client) expect(status int, method, path string, body any) []byte {
	c.h.t.Helper()
	st, b := c.do(method, path, body)
	if st != status {
		c.h.t.Fatalf("%s %s as %s: status %d, want %d: %s", method, path, c.name, st, status, b)
	}
	return b
}

func (h *harness) count(sql string, args ...any) int64 {
	h.t.Helper()
	var n int64
	if err := h.store.Pool().QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		h.t.Fatalf("%s: %v", sql, err)
	}
	return n
}

func id(v int64) string { return strconv.FormatInt(v, 10) }

// queryCounter counts the SQL statements sent (a pgx QueryTracer).
type queryCounter struct{ n atomic.Int64 }

func (q *queryCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	q.n.Add(1)
	return ctx
}

func (q *queryCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// recorder keeps every event the API emits.
type recorder struct {
	mu      sync.Mutex
	channel []chanEvent
	user    []userEvent
	access  [][2]int64 // AccessChanged calls: user, channel
	revoked [][2]int64 // TokenRevoked calls: user, token
}

type chanEvent struct {
	channelID int64
	ev        any
}

type userEvent struct {
	userID int64
	dest   string
	ev     any
}

func (r *recorder) ChannelEvent(channelID int64, ev any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.channel = append(r.channel, chanEvent{channelID, ev})
}

func (r *recorder) AccessChanged(userID, channelID int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.access = append(r.access, [2]int64{userID, channelID})
}

func (r *recorder) TokenRevoked(userID, tokenID int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.revoked = append(r.revoked, [2]int64{userID, tokenID})
}

func (r *recorder) revokedTokens() [][2]int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][2]int64(nil), r.revoked...)
}

func (r *recorder) UserEvent(userID int64, dest string, ev any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.user = append(r.user, userEvent{userID, dest, ev})
}

func (r *recorder) UsersEvent(userIDs []int64, dest string, ev any) {
	for _, id := range userIDs {
		r.UserEvent(id, dest, ev)
	}
}

// channelTypes returns the JSON "type" of every channel event of channelID so far.
func (r *recorder) channelTypes(channelID int64) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.channel {
		if e.channelID != channelID {
			continue
		}
		b, _ := json.Marshal(e.ev)
		var v struct{ Type string }
		_ = json.Unmarshal(b, &v)
		out = append(out, v.Type)
	}
	return out
}

func (r *recorder) userEvents(userID int64) []userEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []userEvent
	for _, e := range r.user {
		if e.userID == userID {
			out = append(out, e)
		}
	}
	return out
}

func mustIDs(t *testing.T) *cluster.IDGenerator {
	t.Helper()
	g, err := cluster.NewIDGenerator(8, nil)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// The OpenAPI document, loaded once, and a mux that maps a request to its route pattern.
var spec = sync.OnceValues(func() (*openapi3.T, error) {
	b, err := api.OpenAPIDocument()
	if err != nil {
		return nil, err
	}
	return openapi3.NewLoader().LoadFromData(b)
})

var patterns = sync.OnceValue(func() *http.ServeMux {
	mux := http.NewServeMux()
	for _, rt := range api.Routes() {
		mux.HandleFunc(rt.Method+" "+rt.Pattern, func(http.ResponseWriter, *http.Request) {})
	}
	return mux
})

// checkAgainstSpec fails the test when a response's status is not documented for its
// route, or its JSON body does not match the documented schema.
func checkAgainstSpec(t testing.TB, req *http.Request, resp *http.Response, body []byte) {
	t.Helper()
	doc, err := spec()
	if err != nil {
		t.Fatalf("openapi: %v", err)
	}
	_, pattern := patterns().Handler(req)
	if pattern == "" {
		return // 404/405 of the mux itself
	}
	method, path, _ := strings.Cut(pattern, " ")
	op := doc.Paths.Find(path).GetOperation(method)
	rr := op.Responses.Status(resp.StatusCode)
	if rr == nil || rr.Value == nil {
		t.Errorf("%s: status %d is not documented (%s)", pattern, resp.StatusCode, body)
		return
	}
	ct := resp.Header.Get("Content-Type")
	mt := rr.Value.Content.Get(ct)
	if len(body) == 0 || mt == nil || mt.Schema == nil || !strings.Contains(ct, "json") {
		return
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Errorf("%s: body is not JSON: %v", pattern, err)
		return
	}
	if err := mt.Schema.Value.VisitJSON(v, openapi3.EnableJSONSchema2020()); err != nil {
		t.Errorf("%s %d: body does not match the documented schema: %v\n%s", pattern, resp.StatusCode, err, body)
	}
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

func contains(ss []string, s string) bool {
	for _, v := range ss {
		if v == s {
			return true
		}
	}
	return false
}
