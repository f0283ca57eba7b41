package multinode_test

import (
	"context"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parley-chat/parley/actors"
)

// The figures of ADR 0038: SEND→RECEIPT of a slash command answered at once (ephemeral,
// then channel) against a plain post, sent to node 1 of two, interleaved in the same run. A
// measurement, not a check: run it with PARLEY_MEASURE=1 and -v.
//
//	PARLEY_MEASURE=1 go test ./transport/multinode -run TestSlashCommandLatency -v -count=1
func TestSlashCommandLatency(t *testing.T) {
	if os.Getenv("PARLEY_MEASURE") == "" {
		t.Skip("a measurement: PARLEY_MEASURE=1")
	}
	s := newSlashSetup(t)
	a := dial(t, s.nodes[0], s.alice)
	s.rcv.answer(func(c cmdCall) (int, string, time.Duration) {
		vis := "ephemeral"
		if strings.HasPrefix(c.Text, "c") {
			vis = "channel"
		}
		return 200, `{"content":"ok","visibility":"` + vis + `"}`, 0
	})
	const n = 300
	var post, eph, chn []time.Duration
	round := func(content string) time.Duration {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		start := time.Now()
		if _, err := a.SendWithReceipt(ctx, actors.DestMessageSend, sendBody(s.cid, content)); err != nil {
			t.Fatal(err)
		}
		return time.Since(start)
	}
	for i := range n {
		post = append(post, round("plain "+strconv.Itoa(i)))
		eph = append(eph, round("/deploy e"+strconv.Itoa(i)))
		chn = append(chn, round("/deploy c"+strconv.Itoa(i)))
	}
	q := func(d []time.Duration, p float64) time.Duration {
		slices.Sort(d)
		return d[int(p*float64(len(d)-1))]
	}
	for name, d := range map[string][]time.Duration{"plain post": post, "command, ephemeral": eph, "command, channel": chn} {
		t.Logf("%-20s p50 %8s  p99 %8s  (p50 %.1fx the plain post's)", name, q(d, .5), q(d, .99), float64(q(d, .5))/float64(q(post, .5)))
	}
}
