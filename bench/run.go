package bench

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"
	"time"
)

// ErrFailed is returned by Run (with the report) when the checker found lost, duplicated,
// reordered or missing messages, or connections failed: the command exits non-zero.
var ErrFailed = errors.New("bench: FAILURE")

// runner is one run's coordinator.
type runner struct {
	cfg      Config
	sc       *scenario
	runID    string
	seed     uint64
	rest     *restClient
	progress *progress

	specs   []ClientSpec
	nodes   []NodeMetrics
	links   []*link
	events  chan linkEvent
	results []*WorkerResult
	series  *seriesAcc
	// cancelWorkers ends the workers' context: only after a failure, since a child process
	// is killed with it.
	cancelWorkers context.CancelFunc
	// webhooks is the outgoing scenario's receiver.
	webhooks *webhookReceiver
	// hooks are the incoming scenario's webhook paths by channel.
	hooks    map[int64]string
	hookBots map[int64]int64
	// spawn is the nodes the harness started (Config.Spawn); faultAt when it signalled one.
	spawn   *spawned
	faultWG sync.WaitGroup
	faultAt time.Time
}

type linkEvent struct {
	worker int
	ev     workerEvent
	closed bool
}

// Run runs one benchmark and returns its report. The summary goes to cfg.Out, the progress
// bar to cfg.Progress, and the JSON and plot to their files. A run whose checks failed
// returns the report and an error matching ErrFailed.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	runID := newRunID()
	var sp *spawned
	stormSpawn(&cfg)
	if cfg.Spawn.Nodes > 0 { // before the defaults: some depend on the number of nodes
		var urls []string
		var err error
		if sp, urls, err = startNodes(ctx, cfg.Spawn, runID); err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
		defer sp.stop()
		cfg.URLs = urls
	}
	cfg, sc, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	r := &runner{cfg: cfg, sc: sc, runID: runID, rest: newRESTClient(cfg.SetupConcurrency),
		progress: newProgress(cfg.Progress, cfg.Quiet), series: newSeriesAcc(), spawn: sp}
	h := fnv.New64a()
	h.Write([]byte(r.runID))
	r.seed = h.Sum64()
	defer r.rest.close()
	rep, err := r.run(ctx)
	r.progress.done()
	if rep == nil {
		return nil, err
	}
	if werr := r.write(rep); werr != nil {
		err = errors.Join(err, werr)
	}
	if err == nil && len(rep.Failures) > 0 {
		err = fmt.Errorf("%w: %s", ErrFailed, rep.Failures[0])
	}
	return rep, err
}

func (r *runner) run(ctx context.Context) (*Report, error) {
	cfg := &r.cfg
	rep := newReport(cfg, r.runID)
	specs, subs, err := r.makeClients()
	if err != nil {
		return nil, err
	}
	if rep.Setup, err = r.setup(ctx, specs, subs); err != nil {
		return nil, err
	}
	if cfg.DatabaseURL != "" && rep.Setup.Channels > 0 {
		if err := analyzeDB(ctx, cfg.DatabaseURL); err != nil {
			return nil, fmt.Errorf("setup: %w", err)
		}
		rep.Setup.Analyzed = true
	}
	r.specs = specs
	nodes := r.scrapeAll(ctx, nil)

	if err := r.startWorkers(ctx); err != nil {
		r.abort()
		return nil, err
	}
	r.progress.phase("connect", int64(len(specs)))
	rep.Connect, err = r.awaitReady(ctx)
	if err != nil {
		r.abort()
		return nil, err
	}
	if rep.Connect.Connected == 0 {
		r.abort()
		return nil, fmt.Errorf("bench: no connection succeeded (%d failed): %v", rep.Connect.Failed, topKinds(rep.Connect.Errors, 3))
	}
	// Let the server settle after the connection storm before reading its memory.
	sleep(ctx, 2*time.Second)
	r.scrapeAll(ctx, func(n *NodeMetrics, m map[string]float64) { n.Connected = m })

	var wal *walWatch
	if cfg.DatabaseURL != "" {
		wal = startWALWatch(ctx, cfg.DatabaseURL, time.Second)
		defer func() { _, _ = wal.finish() }() // an early return: let its connection go
	}
	rep.Run.StartedAt = time.Now().UTC()
	redisW := r.startRedisWatch(ctx)
	for _, l := range r.links {
		if err := l.send(cmdStart); err != nil {
			r.abort()
			return nil, fmt.Errorf("worker %d: %w", l.id, err)
		}
	}
	r.progress.phase("run", int64((cfg.Warmup+cfg.Duration)/time.Second))
	samples := r.startSampler(ctx)
	r.scheduleFault(ctx, rep)
	err = r.awaitResults(ctx)
	r.faultWG.Wait()
	rep.ServerSeries = samples.finish()
	if wal != nil {
		var werr error
		if rep.WAL, werr = wal.finish(); werr != nil {
			rep.Warnings = append(rep.Warnings, "PostgreSQL's WAL not watched: "+werr.Error())
		}
		if w := walWarning(rep.WAL); w != "" {
			rep.Warnings = append(rep.Warnings, w)
		}
	}
	if err != nil {
		r.abort()
		return nil, err
	}
	r.scrapeAll(ctx, func(n *NodeMetrics, m map[string]float64) { n.After = m })
	r.progress.done()
	closeErr := r.closeWorkers()
	r.cancelWorkers()
	r.progress.done()

	rep.Server = nodes
	r.combine(rep)
	r.combineResume(rep)
	rep.Redis = redisW.finish(rep, r.specs)
	if r.sc.analyse != nil {
		if err := r.sc.analyse(ctx, r, rep); err != nil {
			rep.Failures = append(rep.Failures, "analysis: "+err.Error())
		}
	}
	if cfg.DatabaseURL != "" {
		if err := checkDB(ctx, cfg.DatabaseURL, r.allAcks(), &rep.Check); err != nil {
			rep.Failures = append(rep.Failures, "database check: "+err.Error())
		}
	}
	rep.judge()
	return rep, closeErr
}

// startWorkers splits the clients round-robin (so each worker has a share of every node,
// channel and source address) and starts one worker per share.
func (r *runner) startWorkers(ctx context.Context) error {
	cfg := &r.cfg
	lm := r.sc.load(cfg)
	r.events = make(chan linkEvent, 1024)
	ctx, r.cancelWorkers = context.WithCancel(ctx)
	for k := 0; k < cfg.Procs; k++ {
		p := &Plan{
			Worker: k, RunID: r.runID, Scenario: cfg.Scenario,
			Ramp: cfg.Ramp / float64(cfg.Procs), DialConcurrency: cfg.DialConcurrency, HeartBeat: cfg.HeartBeat,
			GoroutineReaders: cfg.GoroutineReaders,
			Warmup:           cfg.Warmup, Duration: cfg.Duration, Drain: cfg.Drain, MessageBytes: cfg.MessageBytes,
			ReceiptTimeout: cfg.ReceiptTimeout, MaxInflight: cfg.MaxInflight, Load: lm,
			Hooks: r.hooks,
			URLs:  cfg.URLs,
			Resume: ResumePolicy{Enabled: !cfg.NoResume, Base: cfg.ResumeBackoff, Max: cfg.ResumeBackoffMax,
				GiveUp: cfg.ResumeGiveUp, ProbeSplit: probeSplit(cfg)}.withDefaults(),
		}
		p.Clients = workerShare(r.specs, k, cfg.Procs, r.sc.probe)
		nice := 0
		if r.sc.probe && k > 0 {
			nice = cfg.LoadNice
		}
		l, err := startLink(ctx, cfg, p, cfg.Procs > 1, nice)
		if err != nil {
			return err
		}
		r.links = append(r.links, l)
		go func() {
			for ev := range l.events {
				r.events <- linkEvent{worker: l.id, ev: ev}
			}
			r.events <- linkEvent{worker: l.id, closed: true}
		}()
	}
	return nil
}

// probeSplit is when a probe scenario's harness signals a spawned node, after the load's
// start; 0 (split at the first drop) otherwise.
func probeSplit(cfg *Config) time.Duration {
	if cfg.Spawn.Nodes > 0 && cfg.Spawn.FaultSignal != 0 {
		return cfg.Spawn.FaultAt
	}
	return 0
}

// workerShare is worker k's clients of n: round-robin, except that a scenario's probe
// (client 0) has worker 0 to itself when there are several, so that its latency is the
// node's and not the queueing of thousands of other clients in its own process (the storm's
// harness goroutines waited 268 ms at P99 while 10,000 resumed at once).
func workerShare(specs []ClientSpec, k, n int, probe bool) []ClientSpec {
	var out []ClientSpec
	if probe && n > 1 {
		if k == 0 {
			return specs[:min(1, len(specs))]
		}
		for i := k; i < len(specs); i += n - 1 { // workers 1..n-1 take clients 1.. in turn
			out = append(out, specs[i])
		}
		return out
	}
	for i := k; i < len(specs); i += n {
		out = append(out, specs[i])
	}
	return out
}

// awaitReady collects every worker's connect phase.
func (r *runner) awaitReady(ctx context.Context) (ConnectStats, error) {
	var total ConnectStats
	progress := make([]ConnectProgress, len(r.links))
	ready := 0
	for ready < len(r.links) {
		le, err := r.next(ctx)
		if err != nil {
			return total, err
		}
		switch le.ev.Kind {
		case "progress":
			progress[le.worker] = *le.ev.Progress
			var c, f int
			for _, p := range progress {
				c, f = c+p.Connected, f+p.Failed
			}
			desc := ""
			if f > 0 {
				desc = fmt.Sprintf("%d failed", f)
			}
			r.progress.set(int64(c+f), desc)
		case "ready":
			s := le.ev.Ready
			total.Attempted += s.Attempted
			total.Connected += s.Connected
			total.Failed += s.Failed
			total.Errors = mergeTally(total.Errors, s.Errors)
			for u, n := range s.PerURL {
				if total.PerURL == nil {
					total.PerURL = make(map[string]int)
				}
				total.PerURL[u] += n
			}
			total.Seconds = max(total.Seconds, s.Seconds)
			r.series.mergeConnect(s.Latency)
			progress[le.worker] = ConnectProgress{Connected: s.Connected, Failed: s.Failed}
			ready++
		default:
			return total, fmt.Errorf("worker %d: unexpected %q while connecting", le.worker, le.ev.Kind)
		}
	}
	total.Latency = ""
	return total, nil
}

// awaitResults consumes ticks until every worker has sent its result.
func (r *runner) awaitResults(ctx context.Context) error {
	r.results = make([]*WorkerResult, len(r.links))
	got := 0
	for got < len(r.links) {
		le, err := r.next(ctx)
		if err != nil {
			return err
		}
		switch le.ev.Kind {
		case "tick":
			if err := r.series.addTick(le.worker, le.ev.Tick); err != nil {
				return err
			}
			s, last := r.series.latest(len(r.links))
			if run := int((r.cfg.Warmup + r.cfg.Duration) / time.Second); last != nil && s <= run {
				r.progress.set(int64(s), fmt.Sprintf("%d sends/s, %d deliveries/s, p99 %s",
					last.Counts.Sends, last.Counts.Deliveries, fmtMs(last.Deliver.P99)))
			}
		case "result":
			r.results[le.worker] = le.ev.Result
			got++
		case "progress":
		default:
			return fmt.Errorf("worker %d: unexpected %q while running", le.worker, le.ev.Kind)
		}
	}
	return nil
}

// next returns the next worker event; a worker that failed or ended early is an error.
func (r *runner) next(ctx context.Context) (linkEvent, error) {
	select {
	case <-ctx.Done():
		return linkEvent{}, ctx.Err()
	case le := <-r.events:
		if le.closed {
			err := r.links[le.worker].wait()
			return le, fmt.Errorf("worker %d ended early: %v", le.worker, err)
		}
		if le.ev.Kind == "fatal" {
			return le, errors.New(le.ev.Error)
		}
		return le, nil
	}
}

// closeWorkers tells every worker to close its connections and waits for it to exit.
func (r *runner) closeWorkers() error {
	for _, l := range r.links {
		_ = l.send(cmdClose)
		_ = l.stdin.Close()
	}
	open := len(r.links)
	for open > 0 {
		le := <-r.events
		if le.closed {
			open--
		}
	}
	var errs []error
	for _, l := range r.links {
		if err := l.wait(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// abort stops every worker after a failure.
func (r *runner) abort() {
	if r.links == nil {
		return
	}
	r.cancelWorkers()
	done := make(chan struct{})
	go func() {
		_ = r.closeWorkers()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		r.cfg.Logger.Warn("workers did not stop within 30s")
	}
}

func (r *runner) allAcks() []Ack {
	var out []Ack
	for _, res := range r.results {
		for _, a := range res.Acks {
			out = append(out, Ack{Channel: a[0], Seq: a[1], MessageID: a[2]})
		}
	}
	return out
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// scheduleFault signals the spawned node Config.Spawn names, FaultAt after the load's start.
func (r *runner) scheduleFault(ctx context.Context, rep *Report) {
	sp := r.spawn
	if sp == nil || sp.cfg.FaultSignal == 0 {
		return
	}
	r.faultWG.Add(1)
	go func() {
		defer r.faultWG.Done()
		sleep(ctx, sp.cfg.FaultAt)
		if ctx.Err() != nil {
			return
		}
		at, restarted, err := sp.fault(ctx)
		r.faultAt = at
		if err == nil {
			err = <-restarted
		}
		if err != nil {
			rep.Warnings = append(rep.Warnings, "fault: "+err.Error())
		}
	}()
}
