package bench

import (
	"context"
	"fmt"
	"math/bits"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// PeerRound is one round of the run's workload against the peer (Centrifugo): the same
// clients, subscriptions, senders, rate and payload as the parley round, timed the same way
// (the sender's clock in the content, read by the receiver), checked per channel.
type PeerRound struct {
	Peer           string           `json:"peer"`
	Connected      int              `json:"connected"`
	Failed         int              `json:"failed"`
	ConnectSeconds float64          `json:"connectSeconds"`
	Sends          int64            `json:"sends"`
	Acks           int64            `json:"acks"`
	SendErrors     int64            `json:"sendErrors"`
	Skipped        int64            `json:"skipped"`
	Deliveries     int64            `json:"deliveries"`
	Dropped        int64            `json:"dropped"`
	SendsPerSec    float64          `json:"sendsPerSec"`
	DeliveriesPS   float64          `json:"deliveriesPerSec"`
	Deliver        Percentiles      `json:"sendToDeliver"`
	Publish        Percentiles      `json:"sendToReply"`
	Lost           int64            `json:"lost"`
	Duplicated     int64            `json:"duplicated"`
	RSSBefore      float64          `json:"rssBeforeBytes"`
	RSSConnected   float64          `json:"rssConnectedBytes"`
	RSSAfter       float64          `json:"rssAfterBytes"`
	ServerCPU      float64          `json:"serverCpuSeconds"`
	HarnessCPU     float64          `json:"harnessCpuSeconds"`
	Elapsed        float64          `json:"elapsedSeconds"`
	Errors         map[string]int64 `json:"errors,omitempty"`
	// Metrics are Centrifugo's own /metrics (the same Go collector names as the node's)
	// before the clients connect, once connected, and after the load.
	Metrics NodeMetrics `json:"metrics"`
}

// HeapStackPerConnection is the growth of the Go heap in use plus goroutine stacks per
// connection once all connected: the part of RSS the process's own allocations explain.
func (p *PeerRound) HeapStackPerConnection() float64 { return heapStackPerConn(p.Metrics, p.Connected) }

func heapStackPerConn(n NodeMetrics, conns int) float64 {
	if n.Before == nil || n.Connected == nil || conns == 0 {
		return 0
	}
	hs := func(m map[string]float64) float64 {
		return m["go_memstats_heap_inuse_bytes"] + m["go_memstats_stack_inuse_bytes"]
	}
	return (hs(n.Connected) - hs(n.Before)) / float64(conns)
}

// RSSPerConnection is the peer's resident memory growth per connection once all connected.
func (p *PeerRound) RSSPerConnection() float64 {
	if p.Connected == 0 {
		return 0
	}
	return (p.RSSConnected - p.RSSBefore) / float64(p.Connected)
}

// bitset holds the message numbers (per sender) acknowledged or received.
type bitset []uint64

func (b *bitset) set(n int64) (was bool) {
	i := int(n >> 6)
	for len(*b) <= i {
		*b = append(*b, 0)
	}
	m := uint64(1) << (n & 63)
	was = (*b)[i]&m != 0
	(*b)[i] |= m
	return was
}

// missing counts the numbers in want that b lacks.
func (b bitset) missing(want bitset) int64 {
	var n int
	for i, w := range want {
		var have uint64
		if i < len(b) {
			have = b[i]
		}
		n += bits.OnesCount64(w &^ have)
	}
	return int64(n)
}

// peerClient is one connection of the peer round. acked (senders) is written only by the
// connection's reader goroutine (publish replies), recv (receivers) only by its pushes.
type peerClient struct {
	idx      int
	channels []int
	send     bool
	sub      bool
	conn     *centClient
	n        int64
	inflight atomic.Int64
	acked    map[int]bitset         // channel → message numbers
	recv     map[int]map[int]bitset // channel → sender → message numbers
}

type peerRun struct {
	cfg                       *Config
	cent                      *centrifugo
	clients                   []*peerClient
	start, winStart, winEnd   time.Time
	deliver, publish          *recorder
	sends, wSends, acks, errs atomic.Int64
	skipped, deliveries, wDel atomic.Int64
	dups, expected, dropped   atomic.Int64
	receiversPer              []int64
	errMu                     sync.Mutex
	errors                    map[string]int64
}

func centChannel(k int) string { return centNamespace + ":c" + strconv.Itoa(k) }

// runPeerRound starts Centrifugo, runs cfg's workload against it and stops it. cfg has its
// defaults applied; only scenarios whose clients do nothing but send and receive (fanout,
// connections) have a peer round.
func runPeerRound(ctx context.Context, cfg *Config, bin string) (*PeerRound, error) {
	cent, err := startCentrifugo(ctx, bin)
	if err != nil {
		return nil, err
	}
	defer cent.stop()
	r := &peerRun{cfg: cfg, cent: cent, deliver: newRecorder(64), publish: newRecorder(64), errors: map[string]int64{}}
	out := &PeerRound{Peer: "centrifugo"}
	before, err := cent.proc()
	if err != nil {
		return nil, fmt.Errorf("centrifugo /proc: %w", err)
	}
	out.RSSBefore = before.RSSBytes
	rc := newRESTClient(1)
	defer rc.close()
	metrics := func() map[string]float64 {
		m, err := scrape(ctx, rc, "http://"+cent.addr)
		if err != nil {
			out.Metrics.Error = err.Error()
		}
		return m
	}
	out.Metrics = NodeMetrics{URL: "http://" + cent.addr, Before: metrics()}
	r.receiversPer = make([]int64, max(1, cfg.Channels))
	for i := range cfg.Connections {
		c := &peerClient{idx: i, channels: consecutive(cfg, i, nil), send: i < cfg.Senders,
			sub: i >= cfg.Connections-cfg.Receivers, acked: map[int]bitset{}, recv: map[int]map[int]bitset{}}
		if c.sub {
			for _, k := range c.channels {
				r.receiversPer[k]++
			}
		}
		r.clients = append(r.clients, c)
	}
	t0 := time.Now()
	out.Connected, out.Failed = r.connectAll(ctx)
	out.ConnectSeconds = time.Since(t0).Seconds()
	defer func() {
		for _, c := range r.clients {
			if c.conn != nil {
				c.conn.close()
			}
		}
	}()
	if out.Connected == 0 {
		return nil, fmt.Errorf("centrifugo: no connection succeeded: %v", topKinds(r.errors, 3))
	}
	sleep(ctx, 2*time.Second) // as the parley round lets the node settle before reading it
	conn, _ := cent.proc()
	out.RSSConnected = conn.RSSBytes
	out.Metrics.Connected = metrics()
	out.Metrics.Connections = out.Connected
	hcpu := cpuSeconds()

	r.load(ctx)
	r.drain(ctx)
	after, _ := cent.proc()
	out.Metrics.After = metrics()
	out.RSSAfter, out.ServerCPU = after.RSSBytes, after.CPUSeconds-conn.CPUSeconds
	out.HarnessCPU = cpuSeconds() - hcpu
	out.Elapsed = time.Since(r.start).Seconds()
	out.Sends, out.Acks, out.SendErrors, out.Skipped = r.sends.Load(), r.acks.Load(), r.errs.Load(), r.skipped.Load()
	out.Deliveries, out.Duplicated, out.Dropped = r.deliveries.Load(), r.dups.Load(), r.dropped.Load()
	secs := cfg.Duration.Seconds()
	out.SendsPerSec, out.DeliveriesPS = float64(r.wSends.Load())/secs, float64(r.wDel.Load())/secs
	out.Deliver, out.Publish = percentilesOf(r.deliver.totals()), percentilesOf(r.publish.totals())
	out.Lost = r.lost()
	out.Errors = r.errors
	return out, nil
}

func (r *peerRun) noteErr(kind string) {
	r.errMu.Lock()
	r.errors[kind]++
	r.errMu.Unlock()
}

// connectAll dials every client (DialConcurrency at a time), each subscribing to its
// channels when it receives; an idle scenario's client (no channels) subscribes to a
// personal channel, as a parley client then subscribes to its user queue.
func (r *peerRun) connectAll(ctx context.Context) (ok, failed int) {
	sem := make(chan struct{}, r.cfg.DialConcurrency)
	var wg sync.WaitGroup
	var nOK, nFail atomic.Int64
	ttl := r.cfg.Warmup + r.cfg.Duration + r.cfg.Drain + time.Hour
	for _, c := range r.clients {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := r.connect(ctx, c, ttl); err != nil {
				nFail.Add(1)
				r.noteErr(err.Error())
				return
			}
			nOK.Add(1)
		}()
	}
	wg.Wait()
	return int(nOK.Load()), int(nFail.Load())
}

func (r *peerRun) connect(ctx context.Context, c *peerClient, ttl time.Duration) error {
	tok, err := r.cent.token("u"+strconv.Itoa(c.idx), ttl)
	if err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := dialCentrifugo(cctx, r.cent.wsURL(), tok, func(ch, data []byte, at time.Time) { r.onPush(c, ch, data, at) },
		func(err error) { r.dropped.Add(1); r.noteErr("dropped: " + err.Error()) })
	if err != nil {
		return err
	}
	c.conn = conn
	var subs []string
	switch {
	case len(c.channels) == 0:
		subs = []string{centNamespace + ":idle-" + strconv.Itoa(c.idx)}
	case c.sub:
		for _, k := range c.channels {
			subs = append(subs, centChannel(k))
		}
	}
	for _, s := range subs {
		if err := conn.call(cctx, "subscribe", []byte(`{"channel":"`+s+`"}`)); err != nil {
			return fmt.Errorf("subscribe: %w", err)
		}
	}
	return nil
}

// onPush runs on c's reader goroutine.
func (r *peerRun) onPush(c *peerClient, ch, data []byte, at time.Time) {
	if len(ch) < len(centNamespace)+2 {
		r.noteErr("push on an unknown channel")
		return
	}
	k, err := strconv.Atoi(string(ch[len(centNamespace)+2:]))
	if err != nil || k < 0 || k >= len(r.receiversPer) {
		r.noteErr("push on an unknown channel")
		return
	}
	sender, n, sent, ok := parseContent(data)
	if !ok {
		r.noteErr("push whose content did not parse")
		return
	}
	r.deliveries.Add(1)
	bySender := c.recv[k]
	if bySender == nil {
		bySender = map[int]bitset{}
		c.recv[k] = bySender
	}
	b := bySender[sender]
	dup := b.set(n)
	bySender[sender] = b
	if dup {
		r.dups.Add(1)
		return
	}
	in := !sent.Before(r.winStart) && sent.Before(r.winEnd)
	r.deliver.record(c.idx, at.Sub(sent), in)
	if in {
		r.wDel.Add(1)
	}
}

// load runs every sender's open-loop schedule for warmup + duration, as a parley sender's.
func (r *peerRun) load(ctx context.Context) {
	r.start = time.Now()
	r.winStart = r.start.Add(r.cfg.Warmup)
	r.winEnd = r.winStart.Add(r.cfg.Duration)
	var wg sync.WaitGroup
	for _, c := range r.clients {
		if !c.send || c.conn == nil || len(c.channels) == 0 || r.cfg.Rate <= 0 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.sendLoop(ctx, c, rand.New(rand.NewPCG(uint64(c.idx), 7)))
		}()
	}
	wg.Wait()
}

func (r *peerRun) sendLoop(ctx context.Context, c *peerClient, rng *rand.Rand) {
	interval := time.Duration(float64(time.Second) / r.cfg.Rate)
	next := r.start.Add(time.Duration(rng.Int64N(int64(interval))))
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for rr := 0; next.Before(r.winEnd); rr++ {
		timer.Reset(time.Until(next))
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		r.post(c, c.channels[rr%len(c.channels)])
		next = next.Add(interval)
		if behind := time.Since(next); behind > time.Second {
			r.skipped.Add(int64(behind / interval))
			next = time.Now()
		}
	}
}

func (r *peerRun) post(c *peerClient, k int) {
	if c.inflight.Load() >= int64(r.cfg.MaxInflight) {
		r.skipped.Add(1)
		return
	}
	c.n++
	n := c.n
	now := time.Now()
	in := !now.Before(r.winStart) && now.Before(r.winEnd)
	content := appendContent(make([]byte, 0, r.cfg.MessageBytes+32), c.idx, n, now, r.cfg.MessageBytes)
	body := appendPublishBody(make([]byte, 0, len(content)+64), centChannel(k), content)
	r.sends.Add(1)
	if in {
		r.wSends.Add(1)
	}
	c.inflight.Add(1)
	err := c.conn.async("publish", body, func(rep centReply) {
		defer c.inflight.Add(-1)
		if rep.Err != nil {
			r.errs.Add(1)
			r.noteErr("publish: " + rep.Err.Error())
			return
		}
		r.publish.record(c.idx, time.Since(now), in)
		b := c.acked[k]
		b.set(n)
		c.acked[k] = b
		r.acks.Add(1)
		r.expected.Add(r.receiversPer[k])
	})
	if err != nil {
		c.inflight.Add(-1)
		r.errs.Add(1)
		r.noteErr("publish: " + err.Error())
	}
}

// drain waits for outstanding replies and for every acknowledged publication to reach each
// of its channel's receivers, at most Drain.
func (r *peerRun) drain(ctx context.Context) {
	deadline := time.Now().Add(r.cfg.Drain)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		var inflight int64
		for _, c := range r.clients {
			inflight += c.inflight.Load()
		}
		if inflight == 0 && r.deliveries.Load()-r.dups.Load() >= r.expected.Load() {
			return
		}
		sleep(ctx, 20*time.Millisecond)
	}
}

// lost counts, per receiver and channel, the acknowledged publications it never received.
// It closes every connection first (close returns once its reader has stopped), so that
// nothing writes the sets while they are read.
func (r *peerRun) lost() int64 {
	for _, c := range r.clients {
		if c.conn != nil {
			c.conn.close()
		}
	}
	var lost int64
	for _, rc := range r.clients {
		if !rc.sub || rc.conn == nil {
			continue
		}
		for _, k := range rc.channels {
			for _, sc := range r.clients {
				if want, ok := sc.acked[k]; ok {
					lost += rc.recv[k][sc.idx].missing(want)
				}
			}
		}
	}
	return lost
}
