package api

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/parley-chat/parley/errcode"
	"github.com/parley-chat/parley/ratelimit"
	"github.com/parley-chat/parley/transport/clientip"
)

// Limit is a token bucket: Rate requests a second sustained, Burst at once.
type Limit struct {
	Rate  float64
	Burst int
}

// Limits are the REST rate limits. Each node counts on its own: a cluster of N nodes
// behind a balancer allows up to N times as much (ADR 0026). Zero fields take the defaults.
type Limits struct {
	// Messages: POST /api/channels/{cid}/messages per user. Default 20/s, burst 50, as
	// STOMP SENDs (the server passes its Realtime.SendRate and SendBurst).
	Messages Limit
	// Reactions: PUT and DELETE /api/messages/{mid}/reactions/{emoji} per user. Default
	// 5/s, burst 30.
	Reactions Limit
	// Search: GET /api/workspaces/{wid}/search per user. Default 2/s, burst 10.
	Search Limit
	// Writes: every other POST, PUT, PATCH and DELETE per user. Default 10/s, burst 100.
	Writes Limit
	// Unauthenticated: public routes and requests without valid credentials, per client
	// address (an IPv6 address by its /64). Default 10/s, burst 100.
	Unauthenticated Limit
	// DevLogin: POST /api/auth/dev/login per client address, on top of Unauthenticated.
	// Default 1/s, burst 10.
	DevLogin Limit
	// IncomingWebhook: POST /hooks/{id}/{secret} per hook, on top of Unauthenticated per
	// address (ADR 0036). Default 10/s, burst 30 (Slack allows about 1/s with bursts).
	IncomingWebhook Limit
	// MaxKeys bounds the buckets (users or addresses) each limit keeps; past it idle ones
	// are forgotten first. Default 100,000.
	MaxKeys int
}

// Defaults of Limits.
var (
	DefaultMessagesLimit        = Limit{Rate: 20, Burst: 50}
	DefaultReactionsLimit       = Limit{Rate: 5, Burst: 30}
	DefaultSearchLimit          = Limit{Rate: 2, Burst: 10}
	DefaultWritesLimit          = Limit{Rate: 10, Burst: 100}
	DefaultUnauthenticatedLimit = Limit{Rate: 10, Burst: 100}
	DefaultDevLoginLimit        = Limit{Rate: 1, Burst: 10}
	DefaultIncomingWebhookLimit = Limit{Rate: 10, Burst: 30}
)

func (l Limits) withDefaults() Limits {
	for _, d := range []struct {
		p   *Limit
		def Limit
	}{{&l.Messages, DefaultMessagesLimit}, {&l.Reactions, DefaultReactionsLimit}, {&l.Search, DefaultSearchLimit},
		{&l.Writes, DefaultWritesLimit}, {&l.Unauthenticated, DefaultUnauthenticatedLimit}, {&l.DevLogin, DefaultDevLoginLimit},
		{&l.IncomingWebhook, DefaultIncomingWebhookLimit}} {
		if d.p.Rate == 0 {
			d.p.Rate = d.def.Rate
		}
		if d.p.Burst == 0 {
			d.p.Burst = d.def.Burst
		}
	}
	if l.MaxKeys == 0 {
		l.MaxKeys = ratelimit.DefaultMaxKeys
	}
	return l
}

// limitClass says which bucket a route spends. Routes name theirs in the route table;
// the others are classed by method (limitFor).
type limitClass int8

const (
	limitNone limitClass = iota
	limitMessages
	limitReactions
	limitSearch
	limitWrites
	limitUnauthenticated
	limitDevLogin
	limitIncomingWebhook // keyed by hook id (byUser holds it: an int64 key)
	limitClasses
)

// limitNames are the limit label values of parley_rate_limited_total.
var limitNames = [limitClasses]string{"", "rest_messages", "rest_reactions", "rest_search", "rest_writes",
	"unauthenticated", "dev_login", "incoming_webhook"}

// limiters holds a bucket store per class: by user id, or by client address for the
// unauthenticated ones.
type limiters struct {
	byUser  [limitClasses]*ratelimit.Keyed[int64]
	byAddr  [limitClasses]*ratelimit.Keyed[netip.Addr]
	what    [limitClasses]string // "messages a second (burst 50) per user"
	ip      *clientip.Resolver
	limited *prometheus.CounterVec
}

func newLimiters(l Limits, ip *clientip.Resolver, reg prometheus.Registerer) (*limiters, error) {
	c, err := ratelimit.NewCounter(reg)
	if err != nil {
		return nil, err
	}
	ls := &limiters{ip: ip, limited: c}
	var errs []error
	perUser := func(class limitClass, lim Limit, noun string) {
		k, err := ratelimit.New[int64](lim.Rate, lim.Burst, l.MaxKeys)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s limit: %w", limitNames[class], err))
			return
		}
		ls.byUser[class] = k
		ls.what[class] = fmt.Sprintf("%g %s a second (burst %d) per user on this node", lim.Rate, noun, lim.Burst)
	}
	perAddr := func(class limitClass, lim Limit, noun string) {
		k, err := ratelimit.New[netip.Addr](lim.Rate, lim.Burst, l.MaxKeys)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s limit: %w", limitNames[class], err))
			return
		}
		ls.byAddr[class] = k
		ls.what[class] = fmt.Sprintf("%g %s a second (burst %d) per client address on this node", lim.Rate, noun, lim.Burst)
	}
	perUser(limitMessages, l.Messages, "messages")
	perUser(limitReactions, l.Reactions, "reaction changes")
	perUser(limitSearch, l.Search, "searches")
	perUser(limitWrites, l.Writes, "writes")
	perAddr(limitUnauthenticated, l.Unauthenticated, "unauthenticated requests")
	perAddr(limitDevLogin, l.DevLogin, "dev logins")
	perUser(limitIncomingWebhook, l.IncomingWebhook, "posts")
	ls.what[limitIncomingWebhook] = strings.Replace(ls.what[limitIncomingWebhook], "per user", "per incoming webhook", 1)
	return ls, errors.Join(errs...)
}

// limitFor is the per-user class of an authenticated route.
func limitFor(rt Route) limitClass {
	switch {
	case rt.limit != limitNone:
		return rt.limit
	case rt.Method != http.MethodGet && rt.Method != http.MethodHead:
		return limitWrites
	}
	return limitNone
}

// rateLimited is a refusal: an errcode.ErrRateLimited that knows when to come back.
type rateLimited struct {
	what  string
	retry time.Duration
}

func (e *rateLimited) Error() string { return "rate limited: at most " + e.what }

func (e *rateLimited) Unwrap() error { return errcode.ErrRateLimited }

// retryAfter is the Retry-After header value: whole seconds, at least 1.
func (e *rateLimited) retryAfter() string {
	s := math.Ceil(e.retry.Seconds())
	if s < 1 || math.IsNaN(s) {
		s = 1
	}
	return strconv.FormatInt(int64(min(s, 3600)), 10)
}

func (ls *limiters) refuse(class limitClass, retry time.Duration) error {
	ls.limited.WithLabelValues(limitNames[class]).Inc()
	return &rateLimited{what: ls.what[class], retry: retry}
}

// user spends one of userID's tokens of class; nil when allowed.
func (ls *limiters) user(class limitClass, userID int64) error {
	k := ls.byUser[class]
	if k == nil {
		return nil
	}
	if ok, retry := k.Allow(userID, 1); !ok {
		return ls.refuse(class, retry)
	}
	return nil
}

// hook spends one of incoming webhook id's tokens; nil when allowed.
func (ls *limiters) hook(id int64) error { return ls.user(limitIncomingWebhook, id) }

// addr spends one of the client address's tokens of class; nil when allowed.
func (ls *limiters) addr(class limitClass, r *http.Request) error {
	k := ls.byAddr[class]
	if k == nil {
		return nil
	}
	a := ls.ip.IP(r)
	if a.Is6() {
		// One host commonly holds a whole /64: keyed by address, it could rotate through
		// 2^64 buckets.
		p, _ := a.Prefix(64)
		a = p.Addr()
	}
	if ok, retry := k.Allow(a, 1); !ok {
		return ls.refuse(class, retry)
	}
	return nil
}

// writeLimited writes a 429 problem with its Retry-After.
func writeLimited(w http.ResponseWriter, r *http.Request, err error) {
	if rl, ok := errors.AsType[*rateLimited](err); ok {
		w.Header().Set("Retry-After", rl.retryAfter())
	}
	WriteProblem(w, r, err)
}
