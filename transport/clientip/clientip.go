// Package clientip says which address a request comes from, for the limits keyed by source
// address (unauthenticated sockets, unauthenticated REST, dev login). Behind a reverse proxy
// every request's peer is the proxy, so the proxy's X-Forwarded-For is believed — but only
// when the peer is one of the configured trusted proxies: any client can write that header.
package clientip

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Resolver finds a request's client address. The zero value trusts no proxy.
type Resolver struct {
	trusted []netip.Prefix
}

// New returns a resolver that believes X-Forwarded-For from peers inside trusted, given as
// CIDR prefixes or single addresses ("10.0.0.0/8", "172.18.0.5"). Empty: trust no proxy.
func New(trusted []string) (*Resolver, error) {
	r := &Resolver{}
	for _, s := range trusted {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !strings.Contains(s, "/") {
			a, err := netip.ParseAddr(s)
			if err != nil {
				return nil, fmt.Errorf("trusted proxy %q: want an address or CIDR prefix", s)
			}
			r.trusted = append(r.trusted, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q: want an address or CIDR prefix", s)
		}
		r.trusted = append(r.trusted, p.Masked())
	}
	return r, nil
}

// IP is the request's client address: its peer's, or — when the peer is a trusted proxy —
// the right-most X-Forwarded-For entry that is not itself a trusted proxy. A request whose
// peer address cannot be parsed gets the zero Addr, which callers treat as one shared key.
func (r *Resolver) IP(req *http.Request) netip.Addr {
	peer := parseHostPort(req.RemoteAddr)
	if r == nil || !r.isTrusted(peer) {
		return peer
	}
	hops := req.Header.Values("X-Forwarded-For")
	for i := len(hops) - 1; i >= 0; i-- {
		parts := strings.Split(hops[i], ",")
		for j := len(parts) - 1; j >= 0; j-- {
			a, err := netip.ParseAddr(strings.TrimSpace(parts[j]))
			if err != nil {
				return peer // a malformed chain: trust nothing to the left of it
			}
			a = a.Unmap()
			if !r.isTrusted(a) {
				return a
			}
			peer = a
		}
	}
	return peer
}

func (r *Resolver) isTrusted(a netip.Addr) bool {
	if !a.IsValid() {
		return false
	}
	for _, p := range r.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func parseHostPort(s string) netip.Addr {
	host, _, err := net.SplitHostPort(s)
	if err != nil {
		host = s
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}
