package persistence_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/parley-chat/parley/persistence"
)

// BenchmarkAppendConcurrent is the group commit as the channel actors drive it: one
// appender per channel, each with at most one AppendMessages in flight, batches of the
// given size, content like `parley bench`'s (no mentions, a clientMsgId each). Besides
// msgs/s it reports the CPU time the PostgreSQL backends spent per message (pg-µs/msg),
// read from /proc when the server is local: on a shared machine that figure is far steadier
// than wall time, and it is what bounds the node's rate when PostgreSQL shares its cores.
func BenchmarkAppendConcurrent(b *testing.B) {
	for _, c := range []struct{ channels, batch int }{{1, 1}, {1, 10}, {1, 100}, {16, 1}, {16, 10}, {64, 1}} {
		b.Run(fmt.Sprintf("channels=%d/batch=%d", c.channels, c.batch), func(b *testing.B) {
			f := newFixture(b, "alice", "bob")
			chans := append([]int64{f.ch}, f.addChannels(b, c.channels-1)...)
			cpu := newBackendCPU(b, f.store.Pool())
			var next atomic.Int64 // batches handed out
			users := []int64{f.users["alice"], f.users["bob"]}
			b.ReportAllocs()
			b.ResetTimer()
			cpu.start()
			var wg sync.WaitGroup
			for w, ch := range chans {
				wg.Add(1)
				go func() {
					defer wg.Done()
					batch := make([]persistence.NewMessage, c.batch)
					for {
						i := next.Add(1)
						if i > int64(b.N) {
							return
						}
						for j := range batch {
							batch[j] = persistence.NewMessage{UserID: users[j%2],
								Content:     fmt.Sprintf("pb1 %d %d %d xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", w, i, time.Now().UnixNano()),
								ClientMsgID: fmt.Sprintf("%d-%d-%d", w, i, j)}
						}
						if _, err := f.store.AppendMessages(f.ctx, ch, batch); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.StopTimer()
			msgs := float64(b.N * c.batch)
			b.ReportMetric(msgs/b.Elapsed().Seconds(), "msgs/s")
			if d, ok := cpu.stop(); ok {
				b.ReportMetric(float64(d.Microseconds())/msgs, "pg-µs/msg")
			}
		})
	}
}

// BenchmarkAppendBatches is the node-wide group commit prototype: committers each own a
// share of the channels and write one message per channel per transaction through
// AppendBatches (op = one transaction). Compare with BenchmarkAppendConcurrent at the same
// channel count and batch=1, where every channel commits on its own.
func BenchmarkAppendBatches(b *testing.B) {
	for _, c := range []struct{ channels, committers int }{{16, 1}, {16, 2}, {64, 1}, {64, 2}} {
		b.Run(fmt.Sprintf("channels=%d/committers=%d", c.channels, c.committers), func(b *testing.B) {
			f := newFixture(b, "alice", "bob")
			chans := append([]int64{f.ch}, f.addChannels(b, c.channels-1)...)
			cpu := newBackendCPU(b, f.store.Pool())
			var next atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			cpu.start()
			var wg sync.WaitGroup
			per := c.channels / c.committers
			for w := range c.committers {
				mine := chans[w*per : (w+1)*per]
				wg.Add(1)
				go func() {
					defer wg.Done()
					bs := make([]persistence.ChannelBatch, len(mine))
					for {
						i := next.Add(1)
						if i > int64(b.N) {
							return
						}
						for k, ch := range mine {
							bs[k] = persistence.ChannelBatch{ChannelID: ch, Messages: []persistence.NewMessage{{UserID: f.users["alice"],
								Content:     fmt.Sprintf("pb1 %d %d %d xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", k, i, time.Now().UnixNano()),
								ClientMsgID: fmt.Sprintf("%d-%d", w, i)}}}
						}
						if _, errs := f.store.AppendBatches(f.ctx, bs); errors.Join(errs...) != nil {
							b.Error(errors.Join(errs...))
							return
						}
					}
				}()
			}
			wg.Wait()
			b.StopTimer()
			msgs := float64(b.N * per)
			b.ReportMetric(msgs/b.Elapsed().Seconds(), "msgs/s")
			if d, ok := cpu.stop(); ok {
				b.ReportMetric(float64(d.Microseconds())/msgs, "pg-µs/msg")
			}
		})
	}
}

// backendCPU sums the user+system CPU time of a pool's PostgreSQL backends, from
// /proc/<pid>/stat. It works only when the server runs on this machine and /proc is
// readable; otherwise stop reports false.
type backendCPU struct {
	pids   []int
	before time.Duration
	ok     bool
}

func newBackendCPU(tb testing.TB, pool *pgxpool.Pool) *backendCPU {
	tb.Helper()
	ctx := context.Background()
	// Hold every connection the pool may open at once, so that each backend is known.
	var conns []*pgxpool.Conn
	c := &backendCPU{ok: true}
	for range pool.Config().MaxConns {
		conn, err := pool.Acquire(ctx)
		if err != nil {
			tb.Fatal(err)
		}
		conns = append(conns, conn)
		var pid int
		if err := conn.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
			tb.Fatal(err)
		}
		c.pids = append(c.pids, pid)
	}
	for _, conn := range conns {
		conn.Release()
	}
	return c
}

func (c *backendCPU) read() time.Duration {
	var sum time.Duration
	for _, pid := range c.pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			c.ok = false
			return 0
		}
		// Fields after the command name (which is in parentheses): utime is the 12th, stime the 13th.
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		sum += time.Duration(ut+st) * 10 * time.Millisecond // USER_HZ is 100 on Linux
	}
	return sum
}

func (c *backendCPU) start() { c.before = c.read() }

func (c *backendCPU) stop() (time.Duration, bool) {
	after := c.read()
	return after - c.before, c.ok
}

// BenchmarkAppendReplies is the append of replies (the general path, which also writes
// thread statistics, and since ADR 0040 the follows and the repliers' thread markers, and
// reads the followers' counts for thread.updated): one channel, ten threads, two
// repliers, batches of the given size. Compare before and after a change to the reply path
// in the same run.
func BenchmarkAppendReplies(b *testing.B) {
	for _, batchSize := range []int{1, 10} {
		b.Run(fmt.Sprintf("batch=%d", batchSize), func(b *testing.B) {
			f := newFixture(b, "alice", "bob")
			users := []int64{f.users["alice"], f.users["bob"]}
			roots := make([]persistence.NewMessage, 10)
			for i := range roots {
				roots[i] = persistence.NewMessage{UserID: users[0], Content: fmt.Sprintf("root %d", i)}
			}
			res, err := f.store.AppendMessages(f.ctx, f.ch, roots)
			if err != nil {
				b.Fatal(err)
			}
			cpu := newBackendCPU(b, f.store.Pool())
			batch := make([]persistence.NewMessage, batchSize)
			b.ReportAllocs()
			b.ResetTimer()
			cpu.start()
			for i := range b.N {
				for j := range batch {
					batch[j] = persistence.NewMessage{UserID: users[(i+j)%2], ParentID: res[(i+j)%len(res)].Message.ID,
						Content:     fmt.Sprintf("re %d %d xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", i, j),
						ClientMsgID: fmt.Sprintf("r-%d-%d", i, j)}
				}
				if _, err := f.store.AppendMessages(f.ctx, f.ch, batch); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			msgs := float64(b.N * batchSize)
			b.ReportMetric(msgs/b.Elapsed().Seconds(), "msgs/s")
			if d, ok := cpu.stop(); ok {
				b.ReportMetric(float64(d.Microseconds())/msgs, "pg-µs/msg")
			}
		})
	}
}

// BenchmarkAppendBatchesWide is the group commit of the many-channels benchmark (issue 27):
// 1,000 channels with one message each from 1,000 different authors (so 1,000 channel rows
// and 1,000 read markers change too) per statement. lookups=true is the statement that
// looks every clientMsgId up before inserting, as group commits do for a while after a
// retry; lookups=false the optimistic one they run otherwise (ADR 0052). pg-µs/msg is
// PostgreSQL's CPU per message, the figure to compare.
func BenchmarkAppendBatchesWide(b *testing.B) {
	const width = 1000
	for _, lookups := range []bool{false, true} {
		b.Run(fmt.Sprintf("channels=%d/lookups=%v", width, lookups), func(b *testing.B) {
			f := newFixture(b, "alice")
			chans := append([]int64{f.ch}, f.addChannels(b, width-1)...)
			users := make([]int64, width)
			for i := range users {
				u, err := f.store.UpsertUser(f.ctx, persistence.Identity{Subject: fmt.Sprintf("s%d", i), Username: fmt.Sprintf("u%d", i)})
				if err != nil {
					b.Fatal(err)
				}
				users[i] = u.ID
			}
			if lookups {
				// A retry, with the clock stopped: every group commit after it looks first.
				fixed := time.Now()
				f.store.SetNow(func() time.Time { return fixed })
				m := []persistence.NewMessage{{UserID: users[0], Content: "x", ClientMsgID: "retried"}}
				for range 2 {
					if _, errs := f.store.AppendBatches(f.ctx, []persistence.ChannelBatch{{ChannelID: chans[0], Messages: m}, {ChannelID: chans[1], Messages: m}}); errors.Join(errs...) != nil {
						b.Fatal(errors.Join(errs...))
					}
				}
			}
			cpu := newBackendCPU(b, f.store.Pool())
			bs := make([]persistence.ChannelBatch, width)
			b.ResetTimer()
			cpu.start()
			for i := range b.N {
				for k, ch := range chans {
					bs[k] = persistence.ChannelBatch{ChannelID: ch, Messages: []persistence.NewMessage{{UserID: users[k],
						Content:     fmt.Sprintf("hello there %d %d, how are you today? the build is green", k, i),
						ClientMsgID: fmt.Sprintf("%d-%d", k, i)}}}
				}
				if _, errs := f.store.AppendBatches(f.ctx, bs); errors.Join(errs...) != nil {
					b.Fatal(errors.Join(errs...))
				}
			}
			b.StopTimer()
			msgs := float64(b.N * width)
			b.ReportMetric(msgs/b.Elapsed().Seconds(), "msgs/s")
			if d, ok := cpu.stop(); ok {
				b.ReportMetric(float64(d.Microseconds())/msgs, "pg-µs/msg")
			}
		})
	}
}
