package ws

import (
	"net/netip"
	"testing"
)

// IPv6 clients are counted by their /64 (one subscriber's network), IPv4 ones by address;
// an IPv4 address seen as IPv4-mapped IPv6 is the same client.
func TestAddressKey(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		same bool
	}{
		{"2001:db8:1:2::1", "2001:db8:1:2:ffff::9", true},
		{"2001:db8:1:2::1", "2001:db8:1:3::1", false},
		{"192.0.2.1", "::ffff:192.0.2.1", true},
		{"192.0.2.1", "192.0.2.2", false},
	} {
		a, b := addressKey(netip.MustParseAddr(tc.a)), addressKey(netip.MustParseAddr(tc.b))
		if (a == b) != tc.same {
			t.Errorf("%s and %s: keys %s and %s, same=%v", tc.a, tc.b, a, b, tc.same)
		}
	}
}

// A slot's counts are given back once, whatever is called how often and in which order.
func TestSlotReleasesOnce(t *testing.T) {
	m, err := newAdmissionMetrics(nil)
	if err != nil {
		t.Fatal(err)
	}
	a := newAdmission(Config{MaxUnauthenticated: 2, MaxUnauthenticatedPerIP: 2, MaxSocketsPerIP: 2}, m)
	ip := netip.MustParseAddr("192.0.2.1")
	s1, _ := a.admit(ip)
	s2, _ := a.admit(ip)
	if s, reason := a.admit(ip); s != nil || reason != refusedPerIP {
		t.Fatalf("third socket: %v %q, want refused %q", s, reason, refusedPerIP)
	}
	s1.authenticated()
	s1.authenticated()
	s1.release()
	s1.release()
	s1.authenticated()
	s2.release()
	s2.authenticated()
	if u, n := a.counts(); u != 0 || n != 0 {
		t.Fatalf("counts %d unauthenticated, %d addresses after every release", u, n)
	}
}
