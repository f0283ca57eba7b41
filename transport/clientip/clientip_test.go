package clientip

import (
	"net/http"
	"testing"
)

func TestIP(t *testing.T) {
	r, err := New([]string{"10.0.0.0/8", "192.168.1.1"})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, peer string
		xff        []string
		want       string
	}{
		{"direct", "203.0.113.7:5555", nil, "203.0.113.7"},
		{"untrusted peer's header is ignored", "203.0.113.7:5555", []string{"1.2.3.4"}, "203.0.113.7"},
		{"trusted proxy", "10.1.2.3:80", []string{"198.51.100.9"}, "198.51.100.9"},
		{"right-most untrusted hop", "10.1.2.3:80", []string{"6.6.6.6, 198.51.100.9, 10.9.9.9"}, "198.51.100.9"},
		{"several headers", "192.168.1.1:80", []string{"6.6.6.6", "198.51.100.9"}, "198.51.100.9"},
		{"all trusted", "10.1.2.3:80", []string{"10.4.4.4"}, "10.4.4.4"},
		{"malformed chain", "10.1.2.3:80", []string{"nonsense"}, "10.1.2.3"},
		{"ipv4-mapped", "[::ffff:203.0.113.7]:1", nil, "203.0.113.7"},
	}
	for _, c := range cases {
		req := &http.Request{RemoteAddr: c.peer, Header: http.Header{}}
		for _, v := range c.xff {
			req.Header.Add("X-Forwarded-For", v)
		}
		if got := r.IP(req).String(); got != c.want {
			t.Errorf("%s: got %s, want %s", c.name, got, c.want)
		}
	}
	var none *Resolver
	if got := none.IP(&http.Request{RemoteAddr: "10.1.2.3:80", Header: http.Header{"X-Forwarded-For": {"1.1.1.1"}}}).String(); got != "10.1.2.3" {
		t.Errorf("nil resolver: got %s", got)
	}
	if _, err := New([]string{"not-an-ip"}); err == nil {
		t.Error("New accepted a bad prefix")
	}
}
