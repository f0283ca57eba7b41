package api

import (
	"container/list"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/parley-chat/parley/errcode"
	"github.com/parley-chat/parley/persistence"
	"github.com/parley-chat/parley/transport/auth"
)

// handlerFunc is an endpoint: it returns the success status and body (nil for none), or an
// error that becomes a problem+json response. me is the caller (zero on public routes).
type handlerFunc func(ctx context.Context, r *http.Request, me persistence.User) (int, any, error)

// wrap turns a route into an http.Handler: body limit, authentication, metrics, panics,
// and the rendering of results and errors.
func (a *API) wrap(rt Route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				a.log.Error("handler panic", "route", rt.Pattern, "panic", v, "stack", string(debug.Stack()))
				if rec.status == 0 {
					WriteProblem(rec, r, fmt.Errorf("panic: %v", v))
				}
			}
			a.metrics.observe(rt, rec.status, time.Since(start))
		}()
		if r.Body != nil {
			limit := a.cfg.MaxBodyBytes
			if rt.bodyLimit != nil {
				limit = max(limit, rt.bodyLimit())
			}
			r.Body = http.MaxBytesReader(rec, r.Body, limit)
		}
		me, err := a.admit(rt, r)
		if err != nil {
			if status, _ := CodeOf(err); status >= 500 { // a failed sign-in lookup, not a refusal
				a.log.Error("request failed", "method", r.Method, "route", rt.Pattern, "err", err)
			}
			writeLimited(rec, r, err)
			return
		}
		// The caller's routed reads may use a replica, except just after their own writes
		// (ADR 0044): a request that may write notes it, whatever its outcome.
		status, body, err := rt.handler(persistence.ForUser(r.Context(), me.ID), r, me)
		if me.ID != 0 && r.Method != http.MethodGet && r.Method != http.MethodHead {
			a.store.NoteWrite(me.ID)
		}
		if err != nil {
			if status, _ := CodeOf(err); status >= 500 {
				a.log.Error("request failed", "method", r.Method, "route", rt.Pattern, "err", err)
			}
			writeLimited(rec, r, err) // a handler's own limit (incoming webhooks) has a Retry-After too
			return
		}
		if fr, ok := body.(fileResponse); ok { // a download (files.go)
			fr.serve(rec, r)
			return
		}
		writeJSON(rec, status, body)
	})
}

// rawBody is a response body already encoded (the OpenAPI document, the docs page).
type rawBody struct {
	contentType string
	body        []byte
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	if body == nil {
		w.WriteHeader(status)
		return
	}
	if raw, ok := body.(rawBody); ok {
		w.Header().Set("Content-Type", raw.contentType)
		w.WriteHeader(status)
		_, _ = w.Write(raw.body)
		return
	}
	b, err := json.Marshal(body)
	if err != nil {
		WriteProblem(w, nil, fmt.Errorf("encode response: %w", err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// admit authenticates the caller of a route that needs it and applies the rate limits:
// per client address before a public route and after failed credentials, per user
// after the rest (ADR 0026).
func (a *API) admit(rt Route, r *http.Request) (persistence.User, error) {
	if rt.Public {
		if err := a.limits.addr(limitUnauthenticated, r); err != nil {
			return persistence.User{}, err
		}
		if rt.limit == limitDevLogin {
			return persistence.User{}, a.limits.addr(limitDevLogin, r)
		}
		return persistence.User{}, nil
	}
	me, err := a.authenticate(r)
	if err != nil {
		if status, _ := CodeOf(err); status == http.StatusUnauthorized {
			if lerr := a.limits.addr(limitUnauthenticated, r); lerr != nil {
				return me, lerr
			}
		}
		return me, err
	}
	return me, a.limits.user(limitFor(rt), me.ID)
}

// authenticate verifies the bearer token and finds (or creates) its user.
func (a *API) authenticate(r *http.Request) (persistence.User, error) {
	raw := auth.TokenFromRequest(r)
	if raw == "" {
		return persistence.User{}, errcode.ErrUnauthorized
	}
	if auth.IsAPIToken(raw) {
		// Looked up on every request, never cached: a revocation holds at once on every
		// node (ADR 0035).
		u, _, err := auth.VerifyAPIToken(r.Context(), a.store, raw, time.Now())
		return u, err
	}
	id, err := a.verify.Verify(r.Context(), raw)
	if err != nil {
		return persistence.User{}, err
	}
	if u, ok := a.users.get(id.Subject); ok {
		return u, nil
	}
	u, err := a.store.UpsertUser(r.Context(), id)
	if errors.Is(err, persistence.ErrBotSignIn) {
		// A login naming a bot: bad credentials (401), like any other (ADR 0036).
		return persistence.User{}, errBotSignIn
	}
	if err != nil {
		return persistence.User{}, err
	}
	a.users.put(id.Subject, u)
	return u, nil
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// userCache is a bounded LRU of subject → user: users are never deleted and the fields
// cached do not change after creation except the profile, which may lag.
type userCache struct {
	mu    sync.Mutex
	max   int
	order *list.List // front: most recent; values *cacheEntry
	items map[string]*list.Element
}

type cacheEntry struct {
	subject string
	user    persistence.User
}

func newUserCache(max int) *userCache {
	return &userCache{max: max, order: list.New(), items: make(map[string]*list.Element)}
}

func (c *userCache) get(subject string) (persistence.User, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[subject]; ok {
		c.order.MoveToFront(e)
		return e.Value.(*cacheEntry).user, true
	}
	return persistence.User{}, false
}

func (c *userCache) put(subject string, u persistence.User) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[subject]; ok {
		e.Value.(*cacheEntry).user = u
		c.order.MoveToFront(e)
		return
	}
	c.items[subject] = c.order.PushFront(&cacheEntry{subject: subject, user: u})
	for c.order.Len() > c.max {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.items, last.Value.(*cacheEntry).subject)
	}
}

type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_http_requests_total", Help: "REST requests by route and status.",
		}, []string{"method", "route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "parley_http_request_duration_seconds", Help: "REST request latency by route.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}, []string{"method", "route"}),
	}
	if reg == nil {
		return m, nil
	}
	// A second API on the same registry (tests, a restart in-process) shares the collectors.
	if err := reg.Register(m.requests); err != nil {
		var are prometheus.AlreadyRegisteredError
		if !errors.As(err, &are) {
			return nil, fmt.Errorf("register metrics: %w", err)
		}
		m.requests = are.ExistingCollector.(*prometheus.CounterVec)
	}
	if err := reg.Register(m.duration); err != nil {
		var are prometheus.AlreadyRegisteredError
		if !errors.As(err, &are) {
			return nil, fmt.Errorf("register metrics: %w", err)
		}
		m.duration = are.ExistingCollector.(*prometheus.HistogramVec)
	}
	return m, nil
}

func (m *metrics) observe(rt Route, status int, d time.Duration) {
	if status == 0 {
		status = http.StatusOK
	}
	m.requests.WithLabelValues(rt.Method, rt.Pattern, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(rt.Method, rt.Pattern).Observe(d.Seconds())
}
