package bench

import (
	"context"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/time/rate"

	"github.com/parley-chat/parley/stomp"
	"github.com/parley-chat/parley/stomp/stompclient"
)

// worker runs one Plan: it connects its clients, waits for the start, runs the load, drains
// and reports. It talks to the coordinator only through emit and the command channel.
type worker struct {
	plan *Plan
	log  *slog.Logger
	emit func(workerEvent)
	rest *restClient
	// hooks posts through incoming webhooks (Load.IncomingHooks); nil otherwise.
	hooks *hookPoster

	clients []*client
	poller  *stompclient.Poller // nil: each client reads on its own goroutine

	// start and windowEnd are set before any load loop starts; receivers, which run from
	// connect on, read the window through winLo and winHi (unix nanos, 0 before the start).
	start, windowStart, windowEnd time.Time
	winLo, winHi                  atomic.Int64
	cpuStart                      float64
	schedStart                    schedSnapshot
	stop                          chan struct{}
	closing                       atomic.Bool
	inflight                      sync.WaitGroup // sends and read marks awaiting their RECEIPT
	lastDelivery                  atomic.Int64   // unix nanos

	ctr                                        counters
	deliver, receipt, restLat, readAck, readEv *recorder
	sendErrs, connErrs, dropErrs, serverErrs   errorTally
	skipWhy                                    errorTally
	resume                                     *resumeStats

	ackMu sync.Mutex
	acks  []Ack

	readMu   sync.Mutex
	readSent map[readKey]readNote // receipts scenario: mark → when it was sent
}

type readKey struct{ user, channel, seq int64 }

type readNote struct {
	at time.Time
	in bool
}

func newWorker(plan *Plan, log *slog.Logger, emit func(workerEvent)) *worker {
	shards := 4 * runtime.GOMAXPROCS(0)
	w := &worker{
		plan: plan, log: log, emit: emit,
		rest:    newRESTClient(32),
		stop:    make(chan struct{}),
		deliver: newRecorder(shards), receipt: newRecorder(shards), restLat: newRecorder(shards),
		readAck: newRecorder(shards), readEv: newRecorder(shards),
		readSent: make(map[readKey]readNote),
		resume:   newResumeStats(shards),
	}
	if plan.Load.IncomingHooks {
		w.hooks = newHookPoster(plan)
	}
	w.clients = make([]*client, len(plan.Clients))
	for i := range plan.Clients {
		w.clients[i] = newClient(w, &plan.Clients[i], i)
	}
	return w
}

func (w *worker) inWindow(t time.Time) bool {
	ns := t.UnixNano()
	return ns >= w.winLo.Load() && ns < w.winHi.Load()
}

func (w *worker) addAck(a Ack) {
	w.ackMu.Lock()
	w.acks = append(w.acks, a)
	w.ackMu.Unlock()
}

func (w *worker) skip(why string, n int64) {
	w.ctr.skipped.Add(n)
	w.skipWhy.addKind(why, n)
}

func (w *worker) onServerError(f *stomp.Frame) {
	w.ctr.serverErrors.Add(1)
	w.serverErrs.addKind(errorKind("ERROR "+f.Value(stomp.HdrMessage)), 1)
}

func (w *worker) noteRead(user, channel, seq int64, at time.Time, in bool) {
	w.readMu.Lock()
	w.readSent[readKey{user, channel, seq}] = readNote{at, in}
	w.readMu.Unlock()
}

// readEvent times a `read` event against the mark that caused it, when that mark was sent
// from this process.
func (w *worker) readEvent(key int, ev event, received time.Time) {
	w.readMu.Lock()
	n, ok := w.readSent[readKey{ev.user, ev.channel, ev.seq}]
	w.readMu.Unlock()
	if ok {
		w.readEv.record(key, received.Sub(n.at), n.in)
	}
}

// pruneReads forgets marks older than a minute, so a long run does not grow without bound.
func (w *worker) pruneReads(now time.Time) {
	w.readMu.Lock()
	defer w.readMu.Unlock()
	for k, n := range w.readSent {
		if now.Sub(n.at) > time.Minute {
			delete(w.readSent, k)
		}
	}
}

// ConnectStats is the connect phase of one worker (or all, summed).
type ConnectStats struct {
	Attempted int              `json:"attempted"`
	Connected int              `json:"connected"`
	Failed    int              `json:"failed"`
	Errors    map[string]int64 `json:"errors,omitempty"`
	Seconds   float64          `json:"seconds"`
	// PerURL counts the connected clients of each node.
	PerURL map[string]int `json:"perUrl,omitempty"`
	// Latency is dial + CONNECT + every SUBSCRIBE's RECEIPT, per client (encoded).
	Latency string `json:"latency,omitempty"`
}

// connectAll dials every client, at most DialConcurrency at a time and Ramp per second.
func (w *worker) connectAll(ctx context.Context) ConnectStats {
	p := w.plan
	if !p.GoroutineReaders && w.poller == nil {
		var err error
		if w.poller, err = stompclient.NewPoller(0); err != nil {
			w.log.Warn("client poller unavailable; one read goroutine per client", "err", err)
		}
	}
	st := ConnectStats{Attempted: len(w.clients)}
	start := time.Now()
	var lim *rate.Limiter
	if p.Ramp > 0 {
		lim = rate.NewLimiter(rate.Limit(p.Ramp), 1)
	}
	lat := newRecorder(1)
	var connected, failed atomic.Int64
	var perMu sync.Mutex
	st.PerURL = make(map[string]int)
	done := make(chan struct{})
	go func() { // progress for the coordinator's bar
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				w.emit(workerEvent{Kind: "progress", Progress: &ConnectProgress{Connected: int(connected.Load()), Failed: int(failed.Load())}})
			}
		}
	}()
	sem := make(chan struct{}, p.DialConcurrency)
	var wg sync.WaitGroup
	for _, c := range w.clients {
		if lim != nil {
			if err := lim.Wait(ctx); err != nil {
				break
			}
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func(c *client) {
			defer wg.Done()
			defer func() { <-sem }()
			t0 := time.Now()
			if err := c.connect(ctx, false); err != nil {
				failed.Add(1)
				w.connErrs.add(err)
				c.tracker.Drop()
				return
			}
			lat.record(0, time.Since(t0), true)
			connected.Add(1)
			perMu.Lock()
			st.PerURL[c.spec.URL]++
			perMu.Unlock()
		}(c)
	}
	wg.Wait()
	close(done)
	st.Connected, st.Failed = int(connected.Load()), st.Attempted-int(connected.Load())
	st.Errors = w.connErrs.snapshot()
	st.Seconds = time.Since(start).Seconds()
	st.Latency = encodeHist(lat.totals())
	return st
}

// ConnectProgress is a worker's running connect count.
type ConnectProgress struct {
	Connected int `json:"connected"`
	Failed    int `json:"failed"`
}

// Tick is one second of a worker's run: counter deltas and that second's latencies.
type Tick struct {
	Second  int    `json:"second"`
	Counts  Counts `json:"counts"`
	Deliver string `json:"deliver,omitempty"`
	Receipt string `json:"receipt,omitempty"`
}

// runLoad runs from the start command to the end of the drain, emitting a Tick a second.
func (w *worker) runLoad(ctx context.Context) {
	p := w.plan
	w.start = time.Now()
	if p.Resume.ProbeSplit > 0 {
		w.resume.splitAt.Store(w.start.Add(p.Resume.ProbeSplit).UnixNano())
	}
	w.cpuStart = cpuSeconds()
	w.schedStart = readSched()
	w.windowStart = w.start.Add(p.Warmup)
	w.windowEnd = w.windowStart.Add(p.Duration)
	w.winLo.Store(w.windowStart.UnixNano())
	w.winHi.Store(w.windowEnd.UnixNano())
	w.lastDelivery.Store(w.start.UnixNano())

	var loops sync.WaitGroup
	for _, c := range w.clients {
		if c.conn.Load() == nil {
			continue
		}
		active := (c.spec.Rate > 0 && len(c.spec.Channels) > 0) || p.Load.ReadInterval > 0 ||
			p.Load.RESTInterval > 0 || p.Load.ReconnectPerMin > 0
		if !active {
			continue
		}
		h := fnv.New64a()
		fmt.Fprintf(h, "%s/%d", p.RunID, c.spec.Index)
		rng := rand.New(rand.NewPCG(h.Sum64(), uint64(c.spec.Index)))
		loops.Add(1)
		go func() {
			defer loops.Done()
			c.loop(ctx, rng)
		}()
	}

	tickDone := make(chan struct{})
	var tickWG sync.WaitGroup
	tickWG.Add(1)
	go func() {
		defer tickWG.Done()
		w.ticks(tickDone)
	}()

	select { // the load ends at windowEnd (the loops stop themselves) or on cancellation
	case <-time.After(time.Until(w.windowEnd)):
	case <-ctx.Done():
	}
	close(w.stop)
	loops.Wait()
	w.inflight.Wait() // every send has its RECEIPT, an ERROR, or timed out
	w.drain(ctx)
	w.stopResuming() // who has not come back by now is a dropped receiver
	close(tickDone)
	tickWG.Wait()
}

// drain waits until deliveries have been quiet for a second (other workers' senders may
// still be in flight) and no client is still resuming, at most Drain after the window's end.
func (w *worker) drain(ctx context.Context) {
	deadline := w.windowEnd.Add(w.plan.Drain)
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		now := time.Now()
		quiet := now.Sub(time.Unix(0, w.lastDelivery.Load())) > time.Second && w.resume.pending.Load() == 0
		if now.After(deadline) || quiet {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// ticks emits a Tick every second since the start, and a last partial one when done closes.
func (w *worker) ticks(done <-chan struct{}) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	var prev Counts
	second := 0
	emit := func() {
		second++
		cur := w.ctr.snapshot()
		w.emit(workerEvent{Kind: "tick", Tick: &Tick{
			Second:  second,
			Counts:  cur.minus(prev),
			Deliver: encodeHist(w.deliver.interval()),
			Receipt: encodeHist(w.receipt.interval()),
		}})
		prev = cur
	}
	for {
		select {
		case <-done:
			emit()
			return
		case now := <-t.C:
			emit()
			w.expireSends(now)
			if w.plan.Load.ReadEvents && second%10 == 0 {
				w.pruneReads(now)
			}
		}
	}
}

// expireSends gives up on the sends that have waited longer than ReceiptTimeout for their
// RECEIPT (client.post sends with SendAsync, which has no timer of its own). A reconnect's
// old connection answers its own waiting sends when it closes.
func (w *worker) expireSends(now time.Time) {
	err := fmt.Errorf("stomp: no RECEIPT for SEND within %s: %w", w.plan.ReceiptTimeout, context.DeadlineExceeded)
	for _, c := range w.clients {
		if conn := c.conn.Load(); conn != nil {
			conn.ExpireAsync(now.Add(-w.plan.ReceiptTimeout), err)
		}
	}
}

// WorkerResult is everything a worker measured, for the coordinator to combine.
type WorkerResult struct {
	Worker     int               `json:"worker"`
	Counts     Counts            `json:"counts"`
	SendErrors map[string]int64  `json:"sendErrors,omitempty"`
	DropErrors map[string]int64  `json:"dropErrors,omitempty"`
	ConnErrors map[string]int64  `json:"connErrors,omitempty"`
	ServerErrs map[string]int64  `json:"serverErrors,omitempty"`
	Skipped    map[string]int64  `json:"skipped,omitempty"`
	Deliver    string            `json:"deliver,omitempty"`
	Receipt    string            `json:"receipt,omitempty"`
	REST       string            `json:"rest,omitempty"`
	ReadAck    string            `json:"readAck,omitempty"`
	ReadEvent  string            `json:"readEvent,omitempty"`
	Acks       [][3]int64        `json:"acks,omitempty"` // channel, seq, message id
	Receivers  []ReceiverSummary `json:"receivers,omitempty"`
	Delivered  map[int64]*SeqIDs `json:"delivered,omitempty"`
	Conflicts  int64             `json:"conflicts,omitempty"`
	Reads      []ReadMark        `json:"reads,omitempty"`
	// CPUSeconds is the worker process's user + system CPU from the start to the result.
	CPUSeconds float64 `json:"cpuSeconds"`
	// Sched is how long the worker's runnable goroutines waited for a processor meanwhile.
	Sched       SchedDelay `json:"schedDelay"`
	WindowStart time.Time  `json:"windowStart"`
	WindowEnd   time.Time  `json:"windowEnd"`
	DrainEnd    time.Time  `json:"drainEnd"`
	// Resume is the clients' resumes after unasked disconnections (issue 27).
	Resume ResumeStats `json:"resume"`
}

func (w *worker) result() *WorkerResult {
	r := &WorkerResult{
		Worker:      w.plan.Worker,
		Counts:      w.ctr.snapshot(),
		SendErrors:  w.sendErrs.snapshot(),
		DropErrors:  w.dropErrs.snapshot(),
		ConnErrors:  w.connErrs.snapshot(),
		ServerErrs:  w.serverErrs.snapshot(),
		Skipped:     w.skipWhy.snapshot(),
		Deliver:     encodeHist(w.deliver.totals()),
		Receipt:     encodeHist(w.receipt.totals()),
		REST:        encodeHist(w.restLat.totals()),
		ReadAck:     encodeHist(w.readAck.totals()),
		ReadEvent:   encodeHist(w.readEv.totals()),
		Delivered:   make(map[int64]*SeqIDs),
		WindowStart: w.windowStart, WindowEnd: w.windowEnd, DrainEnd: time.Now(),
		CPUSeconds: cpuSeconds() - w.cpuStart,
		Sched:      readSched().since(w.schedStart),
		Resume:     w.resume.snapshot(),
	}
	w.ackMu.Lock()
	r.Acks = make([][3]int64, len(w.acks))
	for i, a := range w.acks {
		r.Acks[i] = [3]int64{a.Channel, a.Seq, a.MessageID}
	}
	w.ackMu.Unlock()
	for _, c := range w.clients {
		if len(c.subscriptions()) == 0 {
			continue
		}
		r.Receivers = append(r.Receivers, c.tracker.Summary(c.spec.Index))
		r.Conflicts += mergeDelivered(r.Delivered, c.tracker)
		if c.readAcked != nil {
			r.Reads = append(r.Reads, c.readState()...)
		}
	}
	return r
}

// closeAll closes every connection, a few hundred at a time.
func (w *worker) closeAll() {
	w.closing.Store(true)
	sem := make(chan struct{}, 256)
	var wg sync.WaitGroup
	for _, c := range w.clients {
		conn := c.conn.Swap(nil)
		if conn == nil {
			continue
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			_ = conn.Close()
		}()
	}
	wg.Wait()
	if w.poller != nil {
		_ = w.poller.Close()
	}
	w.rest.close()
	if w.hooks != nil {
		w.hooks.close()
	}
}

// cpuSeconds is this process's user + system CPU time so far.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}
