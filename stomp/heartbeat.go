package stomp

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// HeartBeat is what one peer advertises in its heart-beat header, "cx,cy" in milliseconds.
type HeartBeat struct {
	// Send (cx) is the smallest interval at which the peer can send heart-beats; 0: it cannot.
	Send time.Duration
	// Recv (cy) is the interval at which the peer wants to receive them; 0: it does not.
	Recv time.Duration
}

// maxHeartBeatMillis bounds each field so that converting it to a Duration cannot overflow
// (about 24 days, far beyond any useful interval).
const maxHeartBeatMillis = 1<<31 - 1

// ParseHeartBeat parses a heart-beat header value. An empty value means "0,0", as a missing
// header does in STOMP 1.2. Errors match ErrMalformed.
func ParseHeartBeat(v string) (HeartBeat, error) {
	if v == "" {
		return HeartBeat{}, nil
	}
	cx, cy, ok := strings.Cut(v, ",")
	if !ok {
		return HeartBeat{}, fmt.Errorf("%w: heart-beat %.32q is not cx,cy", ErrMalformed, v)
	}
	x, errX := parseMillis(cx)
	y, errY := parseMillis(cy)
	if errX != nil || errY != nil {
		return HeartBeat{}, fmt.Errorf("%w: heart-beat %.32q", ErrMalformed, v)
	}
	return HeartBeat{Send: x, Recv: y}, nil
}

func parseMillis(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" || s[0] == '+' || s[0] == '-' {
		return 0, strconv.ErrSyntax
	}
	n, err := strconv.ParseUint(s, 10, 31)
	if err != nil || n > maxHeartBeatMillis {
		return 0, strconv.ErrRange
	}
	return time.Duration(n) * time.Millisecond, nil
}

// String returns the header value, "cx,cy" in whole milliseconds (sub-millisecond intervals
// are rounded up so that a small non-zero interval does not turn into "none").
func (h HeartBeat) String() string {
	var b [24]byte
	out := strconv.AppendInt(b[:0], millis(h.Send), 10)
	out = append(out, ',')
	out = strconv.AppendInt(out, millis(h.Recv), 10)
	return string(out)
}

func millis(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d + time.Millisecond - 1) / time.Millisecond)
}

// Negotiate applies STOMP 1.2 heart-beating to what the client sent in CONNECT and what the
// server sends in CONNECTED. clientSends is how often the client must send something
// (the server drops a client silent for about twice that); serverSends is how often the
// server must. Zero means no heart-beats that way.
func Negotiate(client, server HeartBeat) (clientSends, serverSends time.Duration) {
	if client.Send > 0 && server.Recv > 0 {
		clientSends = max(client.Send, server.Recv)
	}
	if server.Send > 0 && client.Recv > 0 {
		serverSends = max(server.Send, client.Recv)
	}
	return clientSends, serverSends
}
