package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/parley-chat/parley/persistence"
)

// kind is what one commit of a cell does.
type kind string

const (
	kindSelect1  kind = "select1" // SELECT 1: a round trip, no commit record (reference)
	kindCommit   kind = "commit"  // UPDATE one row of pgceiling_ref per client: a trivial write commit (reference)
	kindCommit1  kind = "commit1" // the same UPDATE, every client on one row: a serialised trivial commit (reference)
	kindAppend   kind = "append"  // Store.AppendMessages: one channel's batch per transaction (appendFastSQL)
	kindMultiple kind = "multi"   // Store.AppendBatches: one row on each of up to maxMulti channels per statement (appendMultiSQL)
	maxMulti          = 64        // channels per multi-channel statement at most
	pacedWorkers      = 8         // paced cells: channels (and connections) the commits spread over
)

// cell is one measurement: clients appenders (each owning a disjoint share of channels,
// so at most one append per channel is in flight, as with the channel actors) writing
// batch rows per channel per commit, closed loop, or paced at rate rows/s when rate > 0.
type cell struct {
	part     string
	kind     kind
	channels int
	clients  int
	batch    int
	rate     float64
	dur      time.Duration
	async    bool // on connections with synchronous_commit=off: what the WAL flush costs
}

func (c cell) String() string {
	s := fmt.Sprintf("%s %-7s ch=%-4d cl=%-2d b=%-2d", c.part, c.kind, c.channels, c.clients, c.batch)
	if c.rate > 0 {
		s += fmt.Sprintf(" rate=%.0f/s", c.rate)
	}
	if c.async {
		s += " async"
	}
	return s
}

type result struct {
	commits, rows int64
	wall          time.Duration
	lat           []time.Duration // per commit
	cpu           cpuBreakdown
	load1         float64 // at the end of the cell
	missed        int64   // paced: commits dropped because every worker was busy
}

// env is what every cell runs against.
type env struct {
	store    *persistence.Store
	pool     *pgxpool.Pool
	async    *persistence.Store // on a pool with synchronous_commit=off
	mon      *pgxpool.Pool
	db       string
	users    []int64
	channels []int64
	next     atomic.Int64 // content and clientMsgId uniqueness across cells
}

// op returns the function one client runs per commit (returning the rows it wrote).
func (e *env) op(c cell, client int) func(ctx context.Context) (int, error) {
	var mine []int64 // this client's channels: client, client+clients, …
	for k := client; k < c.channels; k += c.clients {
		mine = append(mine, e.channels[k])
	}
	if len(mine) == 0 { // more clients than channels (part b): they share, and queue on the row lock
		mine = e.channels[:c.channels]
	}
	turn := 0
	store, pool := e.store, e.pool
	if c.async {
		store, pool = e.async, e.async.Pool()
	}
	switch c.kind {
	case kindSelect1:
		return func(ctx context.Context) (int, error) { _, err := pool.Exec(ctx, `SELECT 1`); return 0, err }
	case kindCommit, kindCommit1:
		row := client
		if c.kind == kindCommit1 {
			row = 0
		}
		return func(ctx context.Context) (int, error) {
			_, err := pool.Exec(ctx, `UPDATE pgceiling_ref SET n = n + 1 WHERE id = $1`, row)
			return 0, err
		}
	case kindAppend:
		batch := make([]persistence.NewMessage, c.batch)
		return func(ctx context.Context) (int, error) {
			ch := mine[turn%len(mine)]
			turn++
			e.fill(batch)
			_, err := store.AppendMessages(ctx, ch, batch)
			return len(batch), err
		}
	case kindMultiple:
		g := min(len(mine), maxMulti)
		bs := make([]persistence.ChannelBatch, g)
		return func(ctx context.Context) (int, error) {
			for k := range bs {
				msgs := make([]persistence.NewMessage, c.batch)
				e.fill(msgs)
				bs[k] = persistence.ChannelBatch{ChannelID: mine[turn%len(mine)], Messages: msgs}
				turn++
			}
			_, errs := store.AppendBatches(ctx, bs)
			return g * c.batch, errors.Join(errs...)
		}
	}
	panic("unknown kind " + c.kind)
}

// fill writes messages like `parley bench`'s: ~70 bytes, no mention, a clientMsgId each.
func (e *env) fill(batch []persistence.NewMessage) {
	for j := range batch {
		n := e.next.Add(1)
		batch[j] = persistence.NewMessage{UserID: e.users[int(n)%len(e.users)],
			Content:     fmt.Sprintf("pgceiling %d %d xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", n, time.Now().UnixNano()),
			ClientMsgID: fmt.Sprintf("pc-%d", n)}
	}
}

// run measures one cell: CPU and WAL counters around the load, per-commit latency inside.
func (e *env) run(ctx context.Context, c cell) (result, error) {
	var r result
	before, err := samplePG(ctx, e.mon, e.db)
	if err != nil {
		return r, err
	}
	var (
		mu      sync.Mutex
		firstEr error
		wg      sync.WaitGroup
		commits atomic.Int64
		rows    atomic.Int64
		missed  atomic.Int64
	)
	record := func(lat []time.Duration, err error) {
		mu.Lock()
		defer mu.Unlock()
		r.lat = append(r.lat, lat...)
		if err != nil && firstEr == nil {
			firstEr = err
		}
	}
	t0 := time.Now()
	deadline := t0.Add(c.dur)
	lctx, cancel := context.WithDeadline(ctx, deadline.Add(30*time.Second))
	defer cancel()
	work := func(op func(context.Context) (int, error), jobs <-chan struct{}) {
		defer wg.Done()
		var lat []time.Duration
		var err error
		for err == nil {
			if jobs != nil {
				if _, ok := <-jobs; !ok {
					break
				}
			} else if time.Now().After(deadline) {
				break
			}
			s := time.Now()
			var n int
			n, err = op(lctx)
			lat = append(lat, time.Since(s))
			commits.Add(1)
			rows.Add(int64(n))
		}
		record(lat, err)
	}
	if c.rate > 0 { // paced: a ticker hands commits to pacedWorkers workers
		jobs := make(chan struct{}, pacedWorkers)
		for w := range pacedWorkers {
			wg.Add(1)
			go work(e.op(c, w), jobs)
		}
		every := time.Duration(float64(time.Second) * float64(max(c.batch, 1)) / c.rate)
		tick := time.NewTicker(every)
		for now := range tick.C {
			if now.After(deadline) {
				break
			}
			select {
			case jobs <- struct{}{}:
			default:
				missed.Add(1)
			}
		}
		tick.Stop()
		close(jobs)
	} else {
		for w := range c.clients {
			wg.Add(1)
			go work(e.op(c, w), nil)
		}
	}
	wg.Wait()
	r.wall = time.Since(t0)
	if firstEr != nil {
		return r, fmt.Errorf("%s: %w", c, firstEr)
	}
	after, err := samplePG(ctx, e.mon, e.db)
	if err != nil {
		return r, err
	}
	r.commits, r.rows, r.missed = commits.Load(), rows.Load(), missed.Load()
	r.cpu, r.load1 = since(before, after), after.load1
	slices.Sort(r.lat)
	return r, nil
}

func pct(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(p*float64(len(sorted))))]
}
