package faults

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/parley-chat/parley/bench"
)

// verdict is a scenario's accounting: what the senders were told, what the receivers got
// (the bench checker), and what PostgreSQL holds.
type verdict struct {
	sends, acked, refused, unanswered int
	codes                             map[string]int // refusals by code ("rest:503 unavailable")
	check                             bench.CheckResult
	// refusedStored are refused sends found in PostgreSQL: a client told "failed" whose
	// message exists anyway.
	refusedStored int
	// unansweredStored are sends that got no answer (connection gone, timeout) and were
	// committed: not a violation (no acknowledgement was given), but reported.
	unansweredStored int
	// halfWritten are channels whose last_seq, row count and seqs disagree.
	halfWritten []string
	// undelivered counts (receiver, committed seq) pairs a receiver that stayed connected
	// never got, acknowledged or not: guarantee 2 in PostgreSQL's terms.
	undelivered int64
	examples    []string
}

// failed reports a broken guarantee.
func (v *verdict) failed() bool {
	return v.check.Failed() || v.refusedStored > 0 || len(v.halfWritten) > 0 || v.undelivered > 0
}

func (v *verdict) String() string {
	codes := make([]string, 0, len(v.codes))
	for c, n := range v.codes {
		codes = append(codes, fmt.Sprintf("%s×%d", c, n))
	}
	sort.Strings(codes)
	c := v.check
	return fmt.Sprintf("sends %d: acked %d, refused %d [%s], unanswered %d (%d of them committed); "+
		"receivers %d (%d dropped), deliveries %d, expected %d; lost %d, duplicated %d, reordered %d, gaps %d, conflicts %d, unexpected %d; "+
		"PostgreSQL: acked-but-missing %d, mismatched %d, refused-but-stored %d, half-written channels %d, committed-but-undelivered %d",
		v.sends, v.acked, v.refused, strings.Join(codes, " "), v.unanswered, v.unansweredStored,
		c.Receivers, c.ReceiversDropped, c.Deliveries, c.Expected, c.Lost, c.Duplicated, c.Reordered, c.Gaps, c.Conflicts, c.Unexpected,
		c.MissingInDB, c.DBMismatched, v.refusedStored, len(v.halfWritten), v.undelivered)
}

// requireClean fails the test on any broken guarantee, with examples.
func (v *verdict) requireClean(t *testing.T) {
	t.Helper()
	if v.failed() {
		t.Errorf("guarantees broken: %s\nexamples:\n  %s", v, strings.Join(append(v.check.Examples, v.examples...), "\n  "))
	}
}

func (v *verdict) example(format string, args ...any) {
	if len(v.examples) < 10 {
		v.examples = append(v.examples, fmt.Sprintf(format, args...))
	}
}

// judge checks l's records and logs against PostgreSQL (direct URL dbURL). dropped marks
// receivers that left before the end (nil: none did).
func (l *load) judge(t *testing.T, dbURL string, dropped func(*receiver) bool) *verdict {
	t.Helper()
	recs := l.records()
	v := &verdict{sends: len(recs), codes: map[string]int{}}
	for _, r := range recs {
		switch r.result {
		case acked:
			v.acked++
		case refused:
			v.refused++
			k := r.code
			if r.rest {
				k = "rest:" + r.detail + ":" + r.code
			}
			v.codes[k]++
		case unanswered:
			v.unanswered++
		}
	}
	logs := l.logs(dropped)
	v.check = bench.CheckLogs(acksOf(recs), logs)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	must(t, err, "connect to PostgreSQL for the check")
	defer conn.Close(context.Background())

	// Every send, found by its clientMsgId: acknowledged ones must be there as acknowledged,
	// refused ones must not be there at all.
	cmids := make([]string, len(recs))
	for i, r := range recs {
		cmids[i] = r.cmid
	}
	type row struct{ id, channel, seq int64 }
	stored := map[string]row{}
	rows, err := conn.Query(ctx, `SELECT client_msg_id, id, channel_id, seq FROM messages WHERE client_msg_id = ANY($1)`, cmids)
	must(t, err, "query messages")
	for rows.Next() {
		var cmid string
		var r row
		must(t, rows.Scan(&cmid, &r.id, &r.channel, &r.seq), "scan")
		stored[cmid] = r
	}
	must(t, rows.Err(), "query messages")
	v.check.DBChecked = true
	for _, r := range recs {
		s, ok := stored[r.cmid]
		switch r.result {
		case acked:
			if !ok {
				v.check.MissingInDB++
				v.example("%s acknowledged (channel %d seq %d) but not in PostgreSQL", r.cmid, r.channel, r.seq)
			} else if s.id != r.id || s.channel != r.channel || s.seq != r.seq {
				v.check.DBMismatched++
				v.example("%s acknowledged as %d/%d/%d, stored as %d/%d/%d", r.cmid, r.channel, r.seq, r.id, s.channel, s.seq, s.id)
			}
		case refused:
			if ok {
				v.refusedStored++
				v.example("%s refused (%s %s) but stored at channel %d seq %d", r.cmid, r.code, r.detail, s.channel, s.seq)
			}
		case unanswered:
			if ok {
				v.unansweredStored++
			}
		}
	}

	// Nothing half-written: each channel's last_seq is its number of messages and its seqs
	// are exactly 1..last_seq.
	lastSeq := map[int64]int64{}
	rows, err = conn.Query(ctx, `
		SELECT c.id, c.last_seq, count(m.id), coalesce(max(m.seq), 0), count(DISTINCT m.seq)
		FROM channels c LEFT JOIN messages m ON m.channel_id = c.id
		WHERE c.id = ANY($1) GROUP BY c.id`, l.spec.channels)
	must(t, err, "query channels")
	for rows.Next() {
		var id, last, n, top, distinct int64
		must(t, rows.Scan(&id, &last, &n, &top, &distinct), "scan")
		lastSeq[id] = last
		if last != n || n != top || n != distinct {
			v.halfWritten = append(v.halfWritten, fmt.Sprintf("channel %d: last_seq %d, %d rows, max seq %d, %d distinct", id, last, n, top, distinct))
		}
	}
	must(t, rows.Err(), "query channels")

	// Every committed seq reached every receiver that stayed.
	for i, lg := range logs {
		if lg.Dropped {
			continue
		}
		got := map[int64]map[int64]bool{}
		for _, d := range lg.Deliveries {
			if got[d.Channel] == nil {
				got[d.Channel] = map[int64]bool{}
			}
			got[d.Channel][d.Seq] = true
		}
		for _, c := range lg.Channels {
			var missing []int64
			for s := int64(1); s <= lastSeq[c]; s++ {
				if !got[c][s] {
					missing = append(missing, s)
				}
			}
			v.undelivered += int64(len(missing))
			if len(missing) > 0 {
				v.example("receiver %d channel %d: committed seqs never delivered: %v", i, c, head(missing, 10))
			}
		}
	}
	return v
}

func head[T any](s []T, n int) []T { return s[:min(n, len(s))] }

// markersInDB returns read_receipts for the channels: (user, channel) → last_read_seq.
func markersInDB(t *testing.T, dbURL string, channels []int64) map[[2]int64]int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	must(t, err, "connect")
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, `SELECT user_id, channel_id, last_read_seq FROM read_receipts WHERE channel_id = ANY($1)`, channels)
	must(t, err, "query read_receipts")
	out := map[[2]int64]int64{}
	for rows.Next() {
		var u, c, s int64
		must(t, rows.Scan(&u, &c, &s), "scan")
		out[[2]int64{u, c}] = s
	}
	must(t, rows.Err(), "query read_receipts")
	return out
}

// markersWanted are the receivers' acknowledged read markers: what PostgreSQL must end at.
func (l *load) markersWanted() map[[2]int64]int64 {
	out := map[[2]int64]int64{}
	for _, r := range l.receivers {
		r.mu.Lock()
		for c, s := range r.marked {
			out[[2]int64{r.u.id, c}] = s
		}
		r.mu.Unlock()
	}
	return out
}

// markersBehind compares PostgreSQL with want: keys whose marker is not exactly the
// highest acknowledged one.
func markersBehind(have, want map[[2]int64]int64) []string {
	var out []string
	for k, w := range want {
		if have[k] != w {
			out = append(out, fmt.Sprintf("user %d channel %d: %d in PostgreSQL, %d acknowledged", k[0], k[1], have[k], w))
		}
	}
	sort.Strings(out)
	return out
}

// quantiles formats p50/p99/max of ds.
func quantiles(ds []time.Duration) string {
	if len(ds) == 0 {
		return "none"
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	q := func(p float64) time.Duration { return s[min(len(s)-1, int(p*float64(len(s))))].Round(time.Millisecond) }
	return fmt.Sprintf("n=%d p50=%s p99=%s max=%s", len(s), q(0.5), q(0.99), s[len(s)-1].Round(time.Millisecond))
}
