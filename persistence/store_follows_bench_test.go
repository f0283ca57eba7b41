package persistence_test

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/parley-chat/parley/persistence"
)

// BenchmarkFollowedThreads is GET /api/threads's query at size: alice follows `followed`
// threads of five replies each, spread over ten channels holding 100,000 other messages (PARLEY_BENCH_FILLER),
// and has read half of them. A page of 50 (all, and unread only) is timed against the
// reference in the same run: the channel thread list (Store.Threads, one indexed read of
// the threads table), page 50. It reports the median and P99 per page.
func BenchmarkFollowedThreads(b *testing.B) {
	for _, followed := range []int{1_000, 5_000} {
		f := newFixture(b, "alice", "bob", "carol")
		chans := append([]int64{f.ch}, f.addChannels(b, 9)...)
		seedFollowed(b, f, chans, followed)
		alice := f.users["alice"]
		cases := []struct {
			name string
			run  func() (int, error)
		}{
			{"reference=channel-threads", func() (int, error) {
				ts, err := f.store.Threads(f.ctx, alice, f.ch, 0, 50)
				return len(ts), err
			}},
			{"all", func() (int, error) {
				ts, err := f.store.FollowedThreads(f.ctx, alice, false, persistence.ThreadCursor{}, 50, nil)
				return len(ts), err
			}},
			{"unread", func() (int, error) {
				ts, err := f.store.FollowedThreads(f.ctx, alice, true, persistence.ThreadCursor{}, 50, nil)
				return len(ts), err
			}},
		}
		for _, c := range cases {
			b.Run(fmt.Sprintf("followed=%d/%s", followed, c.name), func(b *testing.B) {
				took := make([]time.Duration, 0, b.N)
				b.ResetTimer()
				for range b.N {
					start := time.Now()
					n, err := c.run()
					took = append(took, time.Since(start))
					if err != nil || n != 50 {
						b.Fatalf("%d items, %v", n, err)
					}
				}
				b.StopTimer()
				slices.Sort(took)
				b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "p50-ms")
				b.ReportMetric(float64(took[len(took)*99/100].Microseconds())/1000, "p99-ms")
			})
		}
	}
}

// seedFollowed writes the benchmark's data set in a few set-based statements.
func seedFollowed(b *testing.B, f *fixture, chans []int64, followed int) {
	b.Helper()
	alice, bob, carol := f.users["alice"], f.users["bob"], f.users["carol"]
	// Other messages in the ten channels: 100,000, or PARLEY_BENCH_FILLER (1000000 for the
	// issue's size; docs/BENCHMARKS.md). Roots and replies take the seqs above them.
	filler := int64(100_000)
	if v, err := strconv.ParseInt(os.Getenv("PARLEY_BENCH_FILLER"), 10, 64); err == nil && v > 0 {
		filler = v
	}
	b.Logf("seeding %d other messages and %d followed threads", filler, followed)
	rootSeq := filler/10 + 2
	replySeq := rootSeq + int64(followed)/10 + 2
	lastSeq := replySeq + int64(followed)/10*5 + 10
	f.exec(b, `INSERT INTO messages (id, channel_id, seq, user_id, content)
		SELECT 1000000000000000 + g, ($1::bigint[])[1 + g % 10], 1 + g / 10, $2, 'filler ' || g
		FROM generate_series(0, $3 - 1) g`, chans, alice, filler)
	f.exec(b, `INSERT INTO messages (id, channel_id, seq, user_id, content, created_at)
		SELECT 2000000000000000 + g, ($1::bigint[])[1 + g % 10], $4 + g / 10, $2, 'root ' || g, now() - interval '1 day'
		FROM generate_series(0, $3 - 1) g`, chans, alice, followed, rootSeq)
	f.exec(b, `INSERT INTO messages (id, channel_id, seq, user_id, parent_id, content, created_at)
		SELECT 3000000000000000 + g * 5 + j, ($1::bigint[])[1 + g % 10], $5 + (g / 10) * 5 + j,
		       CASE WHEN j % 2 = 0 THEN $2::bigint ELSE $3::bigint END, 2000000000000000 + g, 'reply ' || j,
		       now() - make_interval(secs => $4 - g) + make_interval(secs => j * 0.001)
		FROM generate_series(0, $4 - 1) g, generate_series(0, 4) j`, chans, bob, carol, followed, replySeq)
	f.exec(b, `INSERT INTO threads (root_id, channel_id, reply_count, last_reply_at, last_reply_seq, participants)
		SELECT parent_id, min(channel_id), count(*), max(created_at), max(seq), array_agg(DISTINCT user_id)
		FROM messages WHERE parent_id IS NOT NULL GROUP BY parent_id`)
	f.exec(b, `INSERT INTO thread_follows (user_id, root_id, channel_id)
		SELECT $1, root_id, channel_id FROM threads`, alice)
	f.exec(b, `INSERT INTO thread_reads (user_id, root_id, channel_id, last_read_seq)
		SELECT $1, root_id, channel_id, last_reply_seq FROM threads WHERE root_id % 2 = 0`, alice)
	f.exec(b, `UPDATE channels SET last_seq = $2 WHERE id = ANY($1)`, chans, lastSeq)
	f.exec(b, `ANALYZE`)
}
