package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ReceiptsReport is the receipts scenario's outcome: read-event throughput, and whether
// every acknowledged read mark reached the server's stored markers (SPEC guarantee 4),
// checked through the public API once the pipeline (Redis → Kafka → PostgreSQL) settled.
type ReceiptsReport struct {
	MarksPerSec  float64 `json:"marksPerSec"`
	EventsPerSec float64 `json:"readEventsPerSec"`
	// Markers is the (user, channel) pairs with an acknowledged mark; Behind those whose
	// stored marker stayed below the highest acknowledged mark until the settle deadline.
	Markers       int      `json:"markers"`
	Behind        int      `json:"behind"`
	SettleSeconds float64  `json:"settleSeconds"`
	Examples      []string `json:"examples,omitempty"`
}

// settleTimeout bounds the wait for acknowledged marks to show in read-receipts.
const settleTimeout = 30 * time.Second

func analyseReceipts(ctx context.Context, r *runner, rep *Report) error {
	want := map[int64]map[int64]int64{} // channel → user → highest acknowledged mark
	for _, res := range r.results {
		for _, m := range res.Reads {
			if want[m.Channel] == nil {
				want[m.Channel] = map[int64]int64{}
			}
			want[m.Channel][m.User] = max(want[m.Channel][m.User], m.Seq)
		}
	}
	rc := &ReceiptsReport{
		MarksPerSec:  rep.Run.ReadMarksPerSec,
		EventsPerSec: float64(rep.Run.Counts.ReadEvents) / rep.Run.Seconds,
	}
	for _, m := range want {
		rc.Markers += len(m)
	}
	rep.Receipts = rc
	if rc.Markers == 0 {
		return nil
	}
	owner := r.specs[0] // the channels' creator: a member of each
	start := time.Now()
	channels := make([]int64, 0, len(want))
	for c := range want {
		channels = append(channels, c)
	}
	sort.Slice(channels, func(i, j int) bool { return channels[i] < channels[j] })
	for {
		behind, examples, err := markersBehind(ctx, r.rest, owner, channels, want)
		if err != nil {
			return err
		}
		rc.Behind, rc.Examples = behind, examples
		if behind == 0 || time.Since(start) > settleTimeout || ctx.Err() != nil {
			break
		}
		sleep(ctx, 500*time.Millisecond)
	}
	rc.SettleSeconds = time.Since(start).Seconds()
	if rc.Behind > 0 {
		rep.Failures = append(rep.Failures, fmt.Sprintf("receipts: %d of %d read markers below their acknowledged value after %.0fs",
			rc.Behind, rc.Markers, rc.SettleSeconds))
	}
	return nil
}

func markersBehind(ctx context.Context, c *restClient, owner ClientSpec, channels []int64, want map[int64]map[int64]int64) (int, []string, error) {
	behind := 0
	var examples []string
	for _, ch := range channels {
		var raw map[string]json.RawMessage
		if err := c.do(ctx, http.MethodGet, owner.URL, "/api/channels/"+itoa(ch)+"/read-receipts", owner.Token, nil, &raw); err != nil {
			return 0, nil, fmt.Errorf("read-receipts of channel %d: %w", ch, err)
		}
		got := make(map[int64]int64, len(raw))
		for k, v := range raw {
			uid, err1 := strconv.ParseInt(k, 10, 64)
			seq, err2 := strconv.ParseInt(strings.Trim(string(v), `"`), 10, 64)
			if err1 == nil && err2 == nil {
				got[uid] = seq
			}
		}
		for u, seq := range want[ch] {
			if got[u] < seq {
				behind++
				if len(examples) < maxExamples {
					examples = append(examples, fmt.Sprintf("user %d channel %d: stored %d, acknowledged %d", u, ch, got[u], seq))
				}
			}
		}
	}
	return behind, examples, nil
}

func (rc *ReceiptsReport) summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "receipts  %.1f read marks/s, %.1f read events/s received; %d markers, %d behind after %.1fs\n",
		rc.MarksPerSec, rc.EventsPerSec, rc.Markers, rc.Behind, rc.SettleSeconds)
	for _, e := range rc.Examples {
		fmt.Fprintf(&b, "          ! %s\n", e)
	}
	return b.String()
}
