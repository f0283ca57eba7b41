package faults

import (
	"context"
	"fmt"
	"sort"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/parley-chat/parley/stomp"
	"github.com/parley-chat/parley/stomp/stompclient"
)

// target is where the load's clients (re)connect; a test moves it to another node.
type target struct{ ws, base atomic.Pointer[string] }

func (tg *target) set(ws, base string) { tg.ws.Store(&ws); tg.base.Store(&base) }

func (tg *target) url(int) (string, string) { return *tg.ws.Load(), *tg.base.Load() }

// SPEC guarantee 5: `parley serve` gets SIGTERM under load (STOMP senders with receipts,
// a REST poster, receivers marking reads). Sends in flight finish and are acknowledged (or
// refused with shutting_down, never left committed but unanswered); every client gets an
// ERROR shutting_down before its connection closes; new connections are refused; the read
// markers the node acknowledged are flushed to Kafka or parked in Redis, so that another
// node started afterwards gets every one of them into PostgreSQL; the process exits 0
// within its drain timeout. The receivers then resume on that node with since-seq and the
// checker finds nothing lost or duplicated.
func TestSIGTERMDrain(t *testing.T) {
	requireFaults(t)
	const drainTimeout = 10 * time.Second
	e := newEnv(t)
	a := e.startChild(t, int(nextNodeID.Add(1)), "PARLEY_DRAIN_TIMEOUT="+drainTimeout.String())
	f := newFixture(t, a.base, "drain", 8, 2)
	tg := &target{}
	tg.set(a.wsURL(), a.base)
	l := startLoad(t, loadSpec{
		senders: f.users[:4], receivers: f.users[4:], channels: f.channels,
		rate: 20, readEvery: 100 * time.Millisecond, restEvery: 50 * time.Millisecond,
		url: tg.url, resume: true,
	})
	defer l.close()
	l.waitAcks(t, 200, time.Time{}, 20*time.Second)
	// PostgreSQL at 100 ms per round trip: each commit takes a few hundred ms, so SIGTERM
	// finds sends in flight (in channel actors and in REST handlers) for the drain to finish.
	addToxic(t, e.pg, `{"name":"latency","type":"latency","stream":"downstream","attributes":{"latency":100}}`)
	pace(time.Second)

	termAt := time.Now()
	a.signal(syscall.SIGTERM)
	// New connections are refused once the drain has begun.
	var refusedDial error
	waitFor(2*time.Second, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		c, err := stompclient.Dial(ctx, a.wsURL(), stompclient.ClientOptions{Token: f.users[0].token})
		if err == nil {
			_ = c.Close()
			return false
		}
		refusedDial = err
		return true
	})
	code, exited := a.wait(drainTimeout + 5*time.Second)
	drained := a.exitedAt.Sub(termAt)
	l.stopReads()   // what the drained node acknowledged is what must reach PostgreSQL
	l.stopSenders() // they stopped at their closed connections anyway
	want := l.markersWanted()

	// Every session was told, before its connection closed.
	hints := map[string]int{}
	var told, receivers int
	for _, r := range l.receivers {
		receivers++
		r.mu.Lock()
		for _, fr := range r.errs {
			hints[fmt.Sprintf("%s %q", fr.Value("code"), fr.Value(stomp.HdrMessage))]++
			if fr.Value("code") == "shutting_down" {
				told++
				break
			}
		}
		r.mu.Unlock()
	}
	l.mu.Lock()
	senderTold := 0
	for _, fr := range l.senderErrs {
		hints[fmt.Sprintf("%s %q", fr.Value("code"), fr.Value(stomp.HdrMessage))]++
		if fr.Value("code") == "shutting_down" {
			senderTold++
		}
	}
	l.mu.Unlock()

	// The sends in flight at SIGTERM (answered after it), and those made during the drain.
	type tally struct{ n, acked, refused, unanswered int }
	var inflight, later tally
	refusedCodes := map[string]int{}
	for _, r := range l.records() {
		tl := &later
		switch {
		case r.answered.Before(termAt):
			continue
		case r.start.Before(termAt):
			tl = &inflight
		}
		tl.n++
		switch r.result {
		case acked:
			tl.acked++
		case refused:
			tl.refused++
			k := r.code
			if r.rest {
				k = "rest " + r.detail + " " + r.code
			}
			refusedCodes[k]++
		case unanswered:
			tl.unanswered++
		}
	}

	// Another node takes over: its persister reads what the drained node flushed to Kafka,
	// its receipt fallback re-sends what it parked in Redis; the receivers resume on it.
	b := startNode(t, e.nodeConfig())
	bAt := time.Now()
	tg.set(b.wsURL(), b.base)
	var have map[[2]int64]int64
	caughtUp := waitFor(30*time.Second, func() bool {
		have = markersInDB(t, e.dbURL, f.channels)
		return len(markersBehind(have, want)) == 0
	})
	markersAfter := time.Since(bAt)
	resumed := waitFor(30*time.Second, func() bool {
		for _, r := range l.receivers {
			r.mu.Lock()
			n := r.reconnects
			r.mu.Unlock()
			if n == 0 {
				return false
			}
		}
		return true
	})
	settled := l.settle(15 * time.Second)
	l.stop()
	v := l.judge(t, e.dbURL, nil)

	keys := make([]string, 0, len(hints))
	for k, n := range hints {
		keys = append(keys, fmt.Sprintf("%s ×%d", k, n))
	}
	sort.Strings(keys)
	t.Logf("SIGTERM → exit %d after %s (drain timeout %s); a new connection during the drain: %v", code,
		drained.Round(time.Millisecond), drainTimeout, refusedDial)
	t.Logf("ERROR frames clients got: %v; receivers told shutting_down: %d of %d, senders: %d of %d",
		keys, told, receivers, senderTold, len(l.spec.senders))
	t.Logf("sends in flight at SIGTERM: %d — acknowledged %d, refused %d, unanswered %d; made during the drain: %d — acknowledged %d, refused %d, unanswered %d; refusals %v",
		inflight.n, inflight.acked, inflight.refused, inflight.unanswered, later.n, later.acked, later.refused, later.unanswered, refusedCodes)
	t.Logf("read markers acknowledged by the drained node: %d keys; all in PostgreSQL %s after the next node started",
		len(want), markersAfter.Round(100*time.Millisecond))
	t.Logf("verdict after the receivers resumed on the next node with since-seq (resumed=%v, settled=%v): %s", resumed, settled, v)
	v.requireClean(t)
	if !exited || code != 0 {
		t.Errorf("parley serve: exited=%v code %d after SIGTERM, want exit 0", exited, code)
	} else if drained > drainTimeout+time.Second {
		t.Errorf("the drain took %s, beyond its %s budget", drained.Round(time.Millisecond), drainTimeout)
	}
	if refusedDial == nil {
		t.Error("a new STOMP connection was accepted during the drain")
	}
	if told < receivers || senderTold < len(l.spec.senders) {
		t.Errorf("only %d of %d receivers and %d of %d senders got ERROR shutting_down before the close", told, receivers, senderTold, len(l.spec.senders))
	}
	if inflight.n == 0 {
		t.Error("no send was in flight at SIGTERM: the drain was not exercised")
	}
	if v.unansweredStored > 0 {
		t.Errorf("%d sends were committed but never acknowledged: in-flight sends must finish and be acknowledged", v.unansweredStored)
	}
	if !caughtUp {
		t.Errorf("read markers the drained node acknowledged never reached PostgreSQL: %v", head(markersBehind(have, want), 10))
	}
	if len(want) == 0 {
		t.Error("no read marker was acknowledged before SIGTERM")
	}
}
