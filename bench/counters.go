package bench

import (
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
)

// Counts are a worker's event counters. The W-prefixed ones count only messages sent in the
// measured window (after warmup, before the end), from which rates are computed.
type Counts struct {
	Sends             int64 `json:"sends"`
	Acks              int64 `json:"acks"`
	SendErrors        int64 `json:"sendErrors"`
	Skipped           int64 `json:"skipped"` // sends not made: too many unacknowledged, or behind schedule
	Deliveries        int64 `json:"deliveries"`
	Drops             int64 `json:"drops"` // connections that ended unasked
	Reconnects        int64 `json:"reconnects"`
	ReconnectFailures int64 `json:"reconnectFailures"`
	ReadMarks         int64 `json:"readMarks"`
	ReadAcks          int64 `json:"readAcks"`
	ReadErrors        int64 `json:"readErrors"`
	ReadEvents        int64 `json:"readEvents"`
	RESTCalls         int64 `json:"restCalls"`
	RESTErrors        int64 `json:"restErrors"`
	ServerErrors      int64 `json:"serverErrors"` // ERROR frames answering no request
	BadEvents         int64 `json:"badEvents"`    // event bodies that did not parse

	WSends      int64 `json:"windowSends"`
	WAcks       int64 `json:"windowAcks"`
	WDeliveries int64 `json:"windowDeliveries"`
	WReadMarks  int64 `json:"windowReadMarks"`
}

func (c *Counts) add(o Counts) {
	c.Sends += o.Sends
	c.Acks += o.Acks
	c.SendErrors += o.SendErrors
	c.Skipped += o.Skipped
	c.Deliveries += o.Deliveries
	c.Drops += o.Drops
	c.Reconnects += o.Reconnects
	c.ReconnectFailures += o.ReconnectFailures
	c.ReadMarks += o.ReadMarks
	c.ReadAcks += o.ReadAcks
	c.ReadErrors += o.ReadErrors
	c.ReadEvents += o.ReadEvents
	c.RESTCalls += o.RESTCalls
	c.RESTErrors += o.RESTErrors
	c.ServerErrors += o.ServerErrors
	c.BadEvents += o.BadEvents
	c.WSends += o.WSends
	c.WAcks += o.WAcks
	c.WDeliveries += o.WDeliveries
	c.WReadMarks += o.WReadMarks
}

func (c Counts) minus(o Counts) Counts {
	o.Sends, o.Acks, o.SendErrors, o.Skipped = -o.Sends, -o.Acks, -o.SendErrors, -o.Skipped
	o.Deliveries, o.Drops, o.Reconnects, o.ReconnectFailures = -o.Deliveries, -o.Drops, -o.Reconnects, -o.ReconnectFailures
	o.ReadMarks, o.ReadAcks, o.ReadErrors, o.ReadEvents = -o.ReadMarks, -o.ReadAcks, -o.ReadErrors, -o.ReadEvents
	o.RESTCalls, o.RESTErrors, o.ServerErrors, o.BadEvents = -o.RESTCalls, -o.RESTErrors, -o.ServerErrors, -o.BadEvents
	o.WSends, o.WAcks, o.WDeliveries, o.WReadMarks = -o.WSends, -o.WAcks, -o.WDeliveries, -o.WReadMarks
	c.add(o)
	return c
}

// counters is Counts updated concurrently.
type counters struct {
	sends, acks, sendErrors, skipped, deliveries, drops, reconnects, reconnectFailures atomic.Int64
	readMarks, readAcks, readErrors, readEvents, restCalls, restErrors, serverErrors   atomic.Int64
	badEvents, wSends, wAcks, wDeliveries, wReadMarks                                  atomic.Int64
}

func (c *counters) snapshot() Counts {
	return Counts{
		Sends: c.sends.Load(), Acks: c.acks.Load(), SendErrors: c.sendErrors.Load(), Skipped: c.skipped.Load(),
		Deliveries: c.deliveries.Load(), Drops: c.drops.Load(), Reconnects: c.reconnects.Load(),
		ReconnectFailures: c.reconnectFailures.Load(), ReadMarks: c.readMarks.Load(), ReadAcks: c.readAcks.Load(),
		ReadErrors: c.readErrors.Load(), ReadEvents: c.readEvents.Load(), RESTCalls: c.restCalls.Load(),
		RESTErrors: c.restErrors.Load(), ServerErrors: c.serverErrors.Load(), BadEvents: c.badEvents.Load(),
		WSends: c.wSends.Load(), WAcks: c.wAcks.Load(), WDeliveries: c.wDeliveries.Load(), WReadMarks: c.wReadMarks.Load(),
	}
}

// errorTally counts errors by kind: the message with addresses, ports and numbers blanked,
// so 19,000 "connection refused" from different ports are one line with a count.
type errorTally struct {
	mu sync.Mutex
	m  map[string]int64
}

var (
	reAddr   = regexp.MustCompile(`\d+\.\d+\.\d+\.\d+(:\d+)?|\[[0-9a-f:]+\](:\d+)?`)
	reNumber = regexp.MustCompile(`\d+`)
)

func errorKind(msg string) string {
	msg = reAddr.ReplaceAllString(msg, "ADDR")
	msg = reNumber.ReplaceAllString(msg, "N")
	if len(msg) > 160 {
		msg = msg[:160] + "…"
	}
	return msg
}

func (t *errorTally) add(err error) {
	if err == nil {
		return
	}
	t.addKind(errorKind(err.Error()), 1)
}

func (t *errorTally) addKind(kind string, n int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil {
		t.m = make(map[string]int64)
	}
	t.m[kind] += n
}

func (t *errorTally) snapshot() map[string]int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.m) == 0 {
		return nil
	}
	out := make(map[string]int64, len(t.m))
	for k, v := range t.m {
		out[k] = v
	}
	return out
}

func mergeTally(dst map[string]int64, src map[string]int64) map[string]int64 {
	if len(src) == 0 {
		return dst
	}
	if dst == nil {
		dst = make(map[string]int64)
	}
	for k, v := range src {
		dst[k] += v
	}
	return dst
}

// topKinds renders a tally as lines, most frequent first.
func topKinds(m map[string]int64, n int) []string {
	type kv struct {
		k string
		v int64
	}
	var all []kv
	for k, v := range m {
		all = append(all, kv{k, v})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].v > all[j].v || (all[i].v == all[j].v && all[i].k < all[j].k) })
	var out []string
	for i, e := range all {
		if i == n {
			out = append(out, "…")
			break
		}
		out = append(out, strings.TrimSpace(itoa(e.v)+" × "+e.k))
	}
	return out
}
