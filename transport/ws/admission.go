package ws

import (
	"errors"
	"fmt"
	"net/netip"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// Reasons an upgrade is refused with 503, the label of parley_ws_upgrades_refused_total.
const (
	refusedUnauthenticated      = "unauthenticated"        // MaxUnauthenticated reached
	refusedUnauthenticatedPerIP = "unauthenticated_per_ip" // MaxUnauthenticatedPerIP reached
	refusedPerIP                = "per_ip"                 // MaxSocketsPerIP reached
)

// admission counts sockets before they cost a file descriptor: the node's unauthenticated
// ones (upgraded, CONNECT not yet accepted) and each client address's, both kinds. An
// upgrade past a cap is refused with 503 before the connection is hijacked (ADR 0025).
type admission struct {
	maxUnauth, maxUnauthPerIP, maxPerIP int
	metrics                             admissionMetrics

	mu     sync.Mutex
	unauth int
	perIP  map[netip.Addr]ipSockets
}

// ipSockets are one client address's sockets: all of them, and those not yet authenticated.
type ipSockets struct{ all, unauth int }

func newAdmission(cfg Config, m admissionMetrics) *admission {
	return &admission{maxUnauth: cfg.MaxUnauthenticated, maxUnauthPerIP: cfg.MaxUnauthenticatedPerIP,
		maxPerIP: cfg.MaxSocketsPerIP, metrics: m, perIP: make(map[netip.Addr]ipSockets)}
}

// addressKey is the key an address is counted under: IPv4 addresses themselves, IPv6 ones
// by their /64, which one subscriber usually holds whole. The zero Addr (a peer address
// that did not parse) is one shared key.
func addressKey(a netip.Addr) netip.Addr {
	if a.Is6() && !a.Is4In6() {
		p, _ := a.Prefix(64)
		return p.Addr()
	}
	return a.Unmap()
}

// admit takes an unauthenticated slot for a socket from ip, or says which cap refuses it.
func (a *admission) admit(ip netip.Addr) (*slot, string) {
	key := addressKey(ip)
	a.mu.Lock()
	defer a.mu.Unlock()
	n := a.perIP[key]
	var reason string
	switch {
	case n.all >= a.maxPerIP:
		reason = refusedPerIP
	case n.unauth >= a.maxUnauthPerIP:
		reason = refusedUnauthenticatedPerIP
	case a.unauth >= a.maxUnauth:
		reason = refusedUnauthenticated
	}
	if reason != "" {
		a.metrics.refused.WithLabelValues(reason).Inc()
		return nil, reason
	}
	n.all++
	n.unauth++
	a.perIP[key] = n
	a.unauth++
	a.metrics.unauth.Inc()
	return &slot{a: a, key: key, unauth: true}, ""
}

// slot is one admitted socket's place in the counts. Its methods may be called from any
// goroutine, in any order, any number of times: each count is given back once.
type slot struct {
	a        *admission
	key      netip.Addr
	unauth   bool // guarded by a.mu
	released bool // guarded by a.mu
}

// authenticated moves the socket from the unauthenticated counts once its session is open;
// it still counts against its address's MaxSocketsPerIP.
func (s *slot) authenticated() {
	s.a.mu.Lock()
	defer s.a.mu.Unlock()
	if s.released || !s.unauth {
		return
	}
	s.unauth = false
	s.a.dropUnauth(s.key)
}

// release gives the slot back: the socket is closed (refused, timed out, ended).
func (s *slot) release() {
	s.a.mu.Lock()
	defer s.a.mu.Unlock()
	if s.released {
		return
	}
	s.released = true
	if s.unauth {
		s.unauth = false
		s.a.dropUnauth(s.key)
	}
	n := s.a.perIP[s.key]
	if n.all--; n.all <= 0 {
		delete(s.a.perIP, s.key)
		return
	}
	s.a.perIP[s.key] = n
}

// dropUnauth takes one socket of key off the unauthenticated counts; a.mu is held.
func (a *admission) dropUnauth(key netip.Addr) {
	n := a.perIP[key]
	n.unauth--
	a.perIP[key] = n
	a.unauth--
	a.metrics.unauth.Dec()
}

// counts reports the unauthenticated sockets and the addresses with any socket (tests).
func (a *admission) counts() (unauth, addresses int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.unauth, len(a.perIP)
}

// admissionMetrics are the handler's metrics of refusals and unauthenticated sockets.
type admissionMetrics struct {
	refused         *prometheus.CounterVec
	unauth          prometheus.Gauge
	connectTimeouts prometheus.Counter
}

func newAdmissionMetrics(reg prometheus.Registerer) (admissionMetrics, error) {
	m := admissionMetrics{
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_ws_upgrades_refused_total",
			Help: "WebSocket upgrades refused with 503 by a socket cap, by reason: unauthenticated, unauthenticated_per_ip, per_ip."},
			[]string{"reason"}),
		unauth: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "parley_ws_unauthenticated_sockets", Help: "WebSockets upgraded whose CONNECT is not yet accepted."}),
		connectTimeouts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_ws_connect_timeouts_total", Help: "WebSockets closed for sending no CONNECT within the connect timeout."}),
	}
	for _, r := range []string{refusedUnauthenticated, refusedUnauthenticatedPerIP, refusedPerIP} {
		m.refused.WithLabelValues(r) // every reason exported from the start, at 0
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.refused, m.unauth, m.connectTimeouts} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				return admissionMetrics{}, fmt.Errorf("ws: metrics already registered (two handlers on one registerer?): %w", err)
			}
			return admissionMetrics{}, fmt.Errorf("ws: metrics: %w", err)
		}
	}
	return m, nil
}
