package stomp

import (
	"errors"
	"testing"
	"time"
)

const ms = time.Millisecond

func TestParseHeartBeat(t *testing.T) {
	cases := []struct {
		in   string
		want HeartBeat
		err  bool
	}{
		{in: "", want: HeartBeat{}},
		{in: "0,0", want: HeartBeat{}},
		{in: "10000,5000", want: HeartBeat{Send: 10000 * ms, Recv: 5000 * ms}},
		{in: " 10 , 20 ", want: HeartBeat{Send: 10 * ms, Recv: 20 * ms}},
		{in: "2147483647,0", want: HeartBeat{Send: 2147483647 * ms}},
		{in: "2147483648,0", err: true},
		{in: "10", err: true},
		{in: "a,b", err: true},
		{in: "-1,0", err: true},
		{in: "+1,0", err: true},
		{in: "1,2,3", err: true},
		{in: ",", err: true},
	}
	for _, tc := range cases {
		got, err := ParseHeartBeat(tc.in)
		if tc.err {
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("ParseHeartBeat(%q) err = %v, want ErrMalformed", tc.in, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseHeartBeat(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestHeartBeatString(t *testing.T) {
	for _, tc := range []struct {
		hb   HeartBeat
		want string
	}{
		{HeartBeat{}, "0,0"},
		{HeartBeat{Send: 10 * time.Second, Recv: 250 * ms}, "10000,250"},
		{HeartBeat{Send: time.Microsecond}, "1,0"}, // never rounds down to "none"
	} {
		if got := tc.hb.String(); got != tc.want {
			t.Errorf("%#v.String() = %q, want %q", tc.hb, got, tc.want)
		}
	}
}

func TestNegotiate(t *testing.T) {
	cases := []struct {
		name           string
		client, server HeartBeat
		cSend, sSend   time.Duration
	}{
		{name: "none", client: HeartBeat{}, server: HeartBeat{Send: 10 * ms, Recv: 10 * ms}},
		{
			name:   "larger of the two wins",
			client: HeartBeat{Send: 10 * ms, Recv: 30 * ms}, server: HeartBeat{Send: 20 * ms, Recv: 5 * ms},
			cSend: 10 * ms, sSend: 30 * ms,
		},
		{
			name:   "client cannot send",
			client: HeartBeat{Recv: 30 * ms}, server: HeartBeat{Send: 40 * ms, Recv: 5 * ms},
			sSend: 40 * ms,
		},
		{
			name:   "server does not want",
			client: HeartBeat{Send: 10 * ms}, server: HeartBeat{Send: 40 * ms},
		},
	}
	for _, tc := range cases {
		c, s := Negotiate(tc.client, tc.server)
		if c != tc.cSend || s != tc.sSend {
			t.Errorf("%s: Negotiate = %v, %v; want %v, %v", tc.name, c, s, tc.cSend, tc.sSend)
		}
	}
}
