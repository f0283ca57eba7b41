package bench

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// Report is every figure of a run; --json writes it whole.
type Report struct {
	Scenario string        `json:"scenario"`
	RunID    string        `json:"runId"`
	Date     string        `json:"date"`
	Command  string        `json:"command,omitempty"`
	Machine  Machine       `json:"machine"`
	Config   ConfigSummary `json:"config"`

	Setup          SetupStats   `json:"setup"`
	Connect        ConnectStats `json:"connect"`
	ConnectLatency Percentiles  `json:"connectLatency"`
	Run            RunStats     `json:"run"`
	Latency        Latencies    `json:"latency"`
	Check          CheckResult  `json:"check"`

	Ordering *OrderingReport `json:"ordering,omitempty"`
	Receipts *ReceiptsReport `json:"receipts,omitempty"`
	Outgoing *OutgoingReport `json:"outgoing,omitempty"`
	Incoming *IncomingReport `json:"incoming,omitempty"`
	Soak     *SoakReport     `json:"soak,omitempty"`
	Resume   *ResumeReport   `json:"resume,omitempty"`
	Server   []NodeMetrics   `json:"server"`
	// WAL is PostgreSQL's write-ahead log during the load (with --db-url).
	WAL *WALReport `json:"wal,omitempty"`
	// Redis is the bus's Redis servers' CPU, calls and bytes in the window (--redis-stats).
	Redis *RedisReport `json:"redis,omitempty"`
	// ServerSeries samples every node's /metrics every SampleEvery during the run.
	ServerSeries []ServerSample `json:"serverSeries,omitempty"`
	Series       []SeriesPoint  `json:"series"`

	// Failures make the command exit non-zero; Warnings do not.
	Failures []string `json:"failures,omitempty"`
	Warnings []string `json:"warnings,omitempty"`

	checkInput *CheckInput // for the scenario's analysis
}

// Machine says where the run happened.
type Machine struct {
	Hostname string `json:"hostname"`
	OS       string `json:"os"`
	Kernel   string `json:"kernel,omitempty"`
	CPU      string `json:"cpu,omitempty"`
	CPUs     int    `json:"cpus"`
	MemoryGB int    `json:"memoryGb,omitempty"`
	Go       string `json:"go"`
	// LoadAvg is /proc/loadavg's 1-minute figure at the start and at the end of the run:
	// other work on the machine shows here.
	LoadAvgStart float64 `json:"loadAvgStart"`
	LoadAvgEnd   float64 `json:"loadAvgEnd"`
}

func loadAvg() float64 {
	var v float64
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		_, _ = fmt.Sscanf(string(b), "%f", &v)
	}
	return v
}

// ConfigSummary is the run's effective configuration.
type ConfigSummary struct {
	URLs            []string `json:"urls"`
	Connections     int      `json:"connections"`
	Channels        int      `json:"channels"`
	SubsPerConn     int      `json:"subsPerConn"`
	Senders         int      `json:"senders"`
	Receivers       int      `json:"receivers"`
	Rate            float64  `json:"rate"`
	Duration        string   `json:"duration"`
	Warmup          string   `json:"warmup"`
	Ramp            float64  `json:"ramp"`
	Procs           int      `json:"procs"`
	LoadNice        int      `json:"loadNice,omitempty"`
	SourceAddrs     int      `json:"sourceAddrs"`
	HeartBeat       string   `json:"heartBeat"`
	GoroutineReader bool     `json:"goroutineReaders,omitempty"`
	MessageBytes    int      `json:"messageBytes"`
	PostInterval    string   `json:"postInterval,omitempty"`
	ReadInterval    string   `json:"readInterval,omitempty"`
	RESTInterval    string   `json:"restInterval,omitempty"`
	ReconnectPerMin float64  `json:"reconnectPerMin,omitempty"`
	RedisStats      []string `json:"redisStats,omitempty"`
}

// RunStats are the load's counts and rates. Rates count only messages sent in the measured
// window (after warmup), divided by its length.
type RunStats struct {
	// StartedAt is when the workers were told to start (the harness's wall clock): series
	// second k covers [StartedAt+k-1 s, StartedAt+k s), to line up with the server's logs,
	// a GC trace or a system sampler.
	StartedAt        time.Time `json:"startedAt"`
	Seconds          float64   `json:"seconds"`
	Counts           Counts    `json:"counts"`
	SendsPerSec      float64   `json:"sendsPerSec"`
	AcksPerSec       float64   `json:"acksPerSec"`
	DeliveriesPerSec float64   `json:"deliveriesPerSec"`
	ReadMarksPerSec  float64   `json:"readMarksPerSec,omitempty"`
	// HarnessCPU is the workers' CPU seconds over the run and drain (in-process: the whole
	// process's); ServerCPU each node's, from process_cpu_seconds_total. Elapsed is the run
	// and drain's wall time, to read them against.
	HarnessCPU float64 `json:"harnessCpuSeconds"`
	// HarnessSched is how long the harness's runnable goroutines waited for a processor
	// (the worst worker's figures): its own queueing, which every latency includes.
	HarnessSched    SchedDelay       `json:"harnessSchedDelay"`
	ServerCPU       []float64        `json:"serverCpuSeconds"`
	Elapsed         float64          `json:"elapsedSeconds"`
	SendErrors      map[string]int64 `json:"sendErrors,omitempty"`
	DropErrors      map[string]int64 `json:"dropErrors,omitempty"`
	ReconnectErrors map[string]int64 `json:"reconnectErrors,omitempty"`
	ServerErrors    map[string]int64 `json:"serverErrors,omitempty"`
	Skipped         map[string]int64 `json:"skipped,omitempty"`
}

// Latencies measured by the clients' clocks, for messages sent in the measured window.
type Latencies struct {
	Deliver   Percentiles `json:"sendToDeliver"`
	Receipt   Percentiles `json:"sendToReceipt"`
	REST      Percentiles `json:"rest,omitempty"`
	ReadAck   Percentiles `json:"readToReceipt,omitempty"`
	ReadEvent Percentiles `json:"readToEvent,omitempty"`
}

// harnessSchedWarnMs is the harness's own scheduling delay (P99) above which its latencies
// are reported as including a noticeable share of its own queueing.
const harnessSchedWarnMs = 10

func newReport(cfg *Config, runID string) *Report {
	rep := &Report{
		Scenario: cfg.Scenario, RunID: runID, Date: time.Now().UTC().Format(time.RFC3339), Command: cfg.Command,
		Machine: machine(),
		Config: ConfigSummary{
			URLs: cfg.URLs, Connections: cfg.Connections, Channels: cfg.Channels, SubsPerConn: cfg.SubsPerConn,
			Senders: cfg.Senders, Receivers: cfg.Receivers, Rate: cfg.Rate, Duration: cfg.Duration.String(), Warmup: cfg.Warmup.String(),
			Ramp: cfg.Ramp, Procs: cfg.Procs, LoadNice: cfg.LoadNice, SourceAddrs: len(cfg.SourceAddrs), HeartBeat: cfg.HeartBeat.String(),
			GoroutineReader: cfg.GoroutineReaders,
			MessageBytes:    cfg.MessageBytes, ReconnectPerMin: cfg.ReconnectPerMin,
			RedisStats: cfg.RedisStats,
		},
	}
	if cfg.PostInterval > 0 {
		rep.Config.PostInterval = cfg.PostInterval.String()
	}
	if cfg.ReadInterval > 0 {
		rep.Config.ReadInterval = cfg.ReadInterval.String()
	}
	if cfg.RESTInterval > 0 {
		rep.Config.RESTInterval = cfg.RESTInterval.String()
	}
	return rep
}

func machine() Machine {
	m := Machine{OS: runtime.GOOS + "/" + runtime.GOARCH, CPUs: runtime.NumCPU(), Go: runtime.Version(), LoadAvgStart: loadAvg()}
	m.Hostname, _ = os.Hostname()
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int
		if _, err := fmt.Sscanf(string(b), "MemTotal: %d kB", &kb); err == nil {
			m.MemoryGB = (kb + 512*1024) / (1024 * 1024)
		}
	}
	return m
}

// combine folds every worker's result into the report and runs the checker.
func (r *runner) combine(rep *Report) {
	deliver, receipt, rest, readAck, readEv := newHist(), newHist(), newHist(), newHist(), newHist()
	in := CheckInput{Delivered: make(map[int64]*SeqIDs)}
	var windowStart, windowEnd time.Time
	for _, res := range r.results {
		rep.Run.Counts.add(res.Counts)
		rep.Run.SendErrors = mergeTally(rep.Run.SendErrors, res.SendErrors)
		rep.Run.DropErrors = mergeTally(rep.Run.DropErrors, res.DropErrors)
		rep.Run.ServerErrors = mergeTally(rep.Run.ServerErrors, res.ServerErrs)
		rep.Run.Skipped = mergeTally(rep.Run.Skipped, res.Skipped)
		// A worker's connErrs include the connect phase's, which the report has already.
		for k, v := range res.ConnErrors {
			if strings.HasPrefix(k, "reconnect: ") {
				rep.Run.ReconnectErrors = mergeTally(rep.Run.ReconnectErrors, map[string]int64{k: v})
			}
		}
		for _, pair := range []struct {
			dst *hdr.Histogram
			src string
		}{{deliver, res.Deliver}, {receipt, res.Receipt}, {rest, res.REST}, {readAck, res.ReadAck}, {readEv, res.ReadEvent}} {
			if err := mergeEncoded(pair.dst, pair.src); err != nil {
				rep.Failures = append(rep.Failures, fmt.Sprintf("worker %d: %v", res.Worker, err))
			}
		}
		in.Receivers = append(in.Receivers, res.Receivers...)
		in.DeliveredConflicts += res.Conflicts
		for c, ids := range res.Delivered {
			in.DeliveredConflicts += mergeSeqIDs(in.Delivered, c, ids.From, ids.IDs)
		}
		if windowStart.IsZero() || res.WindowStart.Before(windowStart) {
			windowStart = res.WindowStart
		}
		if res.WindowEnd.After(windowEnd) {
			windowEnd = res.WindowEnd
		}
	}
	var drainEnd time.Time
	for _, res := range r.results {
		rep.Run.HarnessCPU += res.CPUSeconds
		rep.Run.HarnessSched = rep.Run.HarnessSched.worse(res.Sched)
		if res.DrainEnd.After(drainEnd) {
			drainEnd = res.DrainEnd
		}
	}
	if !windowStart.IsZero() {
		rep.Run.Elapsed = drainEnd.Sub(windowStart.Add(-r.cfg.Warmup)).Seconds()
	}
	in.Acks = r.allAcks()
	rep.Check = Check(in)
	rep.checkInput = &in

	secs := r.cfg.Duration.Seconds()
	rep.Run.Seconds = secs
	c := rep.Run.Counts
	rep.Run.SendsPerSec = float64(c.WSends) / secs
	rep.Run.AcksPerSec = float64(c.WAcks) / secs
	rep.Run.DeliveriesPerSec = float64(c.WDeliveries) / secs
	rep.Run.ReadMarksPerSec = float64(c.WReadMarks) / secs
	rep.Latency = Latencies{Deliver: percentilesOf(deliver), Receipt: percentilesOf(receipt), REST: percentilesOf(rest),
		ReadAck: percentilesOf(readAck), ReadEvent: percentilesOf(readEv)}
	rep.ConnectLatency = percentilesOf(r.series.connect)
	rep.Series = r.series.points(r.cfg.Warmup, r.cfg.Duration)
	for i := range rep.Server {
		n := &rep.Server[i]
		n.Connections = rep.Connect.PerURL[n.URL]
		n.PerConnection = perConnection(n.Before, n.Connected, n.Connections)
		n.PerConnectionAfter = perConnection(n.Before, n.After, n.Connections)
		cpu := nodeCPU(n, rep.ServerSeries) // per process: a restarted node's counter starts again at 0
		rep.Run.ServerCPU = append(rep.Run.ServerCPU, cpu)
	}
}

// judge turns what went wrong into Failures (exit non-zero) and Warnings.
func (rep *Report) judge() {
	rep.Machine.LoadAvgEnd = loadAvg()
	ck := rep.Check
	if ck.Failed() {
		rep.Failures = append(rep.Failures, fmt.Sprintf(
			"checker: lost %d, duplicated %d, reordered %d, gaps %d, conflicts %d, unexpected %d, ack conflicts %d, missing in PostgreSQL %d, mismatched in PostgreSQL %d",
			ck.Lost, ck.Duplicated, ck.Reordered, ck.Gaps, ck.Conflicts, ck.Unexpected, ck.AckConflicts, ck.MissingInDB, ck.DBMismatched))
	}
	if rep.Connect.Failed > 0 {
		rep.Failures = append(rep.Failures, fmt.Sprintf("%d of %d connections failed", rep.Connect.Failed, rep.Connect.Attempted))
	}
	c := rep.Run.Counts
	if c.Drops > 0 && (rep.Resume == nil || !rep.Resume.Enabled) { // resumed drops: combineResume
		rep.Failures = append(rep.Failures, fmt.Sprintf("%d connections dropped during the run", c.Drops))
	}
	if c.ReconnectFailures > 0 {
		rep.Failures = append(rep.Failures, fmt.Sprintf("%d reconnects failed", c.ReconnectFailures))
	}
	if c.Sends > 0 && c.Acks == 0 {
		rep.Failures = append(rep.Failures, "no send was acknowledged")
	}
	if c.SendErrors > 0 {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("%d sends got no RECEIPT (an ERROR or a timeout)", c.SendErrors))
	}
	if c.Skipped > 0 {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("%d sends skipped: the offered load fell short of the asked rate", c.Skipped))
	}
	if c.ReadErrors > 0 {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("%d read marks got no RECEIPT", c.ReadErrors))
	}
	if c.RESTErrors > 0 {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("%d REST calls failed", c.RESTErrors))
	}
	if c.ServerErrors > 0 {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("%d ERROR frames from the server", c.ServerErrors))
	}
	if c.BadEvents > 0 {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("%d events did not parse", c.BadEvents))
	}
	if d := rep.Run.HarnessSched; d.P99Ms > harnessSchedWarnMs {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("the harness's goroutines waited up to %s (P99) for a processor: "+
			"every latency includes that much of its own queueing; give it more CPU or fewer clients per process", fmtMs(d.P99Ms)))
	}
	for _, n := range rep.Server {
		if n.Error != "" {
			rep.Warnings = append(rep.Warnings, "metrics: "+n.Error)
		}
	}
}

// write prints the summary and writes the JSON and plot files.
func (r *runner) write(rep *Report) error {
	fmt.Fprint(r.cfg.Out, rep.Summary())
	if p := r.cfg.JSONPath; p != "" {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(p, append(b, '\n'), 0o644); err != nil {
			return fmt.Errorf("--json: %w", err)
		}
	}
	if p := r.cfg.PlotPath; p != "" {
		if err := writePlot(p, rep); err != nil {
			return fmt.Errorf("--plot: %w", err)
		}
	}
	return nil
}

// Summary is the plain-text report.
func (rep *Report) Summary() string {
	var b bytes.Buffer
	c := rep.Config
	fmt.Fprintf(&b, "\nparley bench %s — %s — run %s\n", rep.Scenario, rep.Date, rep.RunID)
	fmt.Fprintf(&b, "machine   %s, %d CPUs (%s), %d GB, %s, %s; load average %.1f at start, %.1f at end\n", rep.Machine.Hostname,
		rep.Machine.CPUs, rep.Machine.CPU, rep.Machine.MemoryGB, rep.Machine.OS, rep.Machine.Go, rep.Machine.LoadAvgStart, rep.Machine.LoadAvgEnd)
	fmt.Fprintf(&b, "nodes     %s\n", strings.Join(c.URLs, " "))
	fmt.Fprintf(&b, "load      %d connections (%d procs), %d channels × %d subs/conn, %d senders × %g msg/s, %d receivers, %s + %s warmup\n",
		c.Connections, c.Procs, c.Channels, c.SubsPerConn, c.Senders, c.Rate, c.Receivers, c.Duration, c.Warmup)
	if c.LoadNice > 0 {
		fmt.Fprintf(&b, "          the load's worker processes ran at nice %d, the probe's at 0: the load takes the CPU the nodes and PostgreSQL leave\n", c.LoadNice)
	}
	if rep.Setup.Channels > 0 {
		analyzed := "; database not analyzed (no --db-url): plans may be those of empty tables"
		if rep.Setup.Analyzed {
			analyzed = "; database analyzed"
		}
		fmt.Fprintf(&b, "setup     %.1fs: %d users, %d channels, %d REST calls%s\n", rep.Setup.Seconds, rep.Setup.Users, rep.Setup.Channels, rep.Setup.Calls, analyzed)
	}
	cs := rep.Connect
	fmt.Fprintf(&b, "connect   %d/%d in %.1fs (%d failed); connect+subscribe %s\n", cs.Connected, cs.Attempted, cs.Seconds, cs.Failed, rep.ConnectLatency)
	for _, e := range topKinds(cs.Errors, 5) {
		fmt.Fprintf(&b, "          ! %s\n", e)
	}
	rs := rep.Run
	fmt.Fprintf(&b, "run       %gs measured: %.1f sends/s, %.1f acks/s, %.1f deliveries/s", rs.Seconds, rs.SendsPerSec, rs.AcksPerSec, rs.DeliveriesPerSec)
	if rs.ReadMarksPerSec > 0 {
		fmt.Fprintf(&b, ", %.1f read marks/s", rs.ReadMarksPerSec)
	}
	fmt.Fprintf(&b, "\n          totals: %d sent, %d acknowledged, %d send errors, %d skipped, %d delivered, %d dropped, %d reconnects\n",
		rs.Counts.Sends, rs.Counts.Acks, rs.Counts.SendErrors, rs.Counts.Skipped, rs.Counts.Deliveries, rs.Counts.Drops, rs.Counts.Reconnects)
	if rs.Counts.ReadMarks+rs.Counts.ReadEvents+rs.Counts.RESTCalls > 0 {
		fmt.Fprintf(&b, "          %d read marks (%d acknowledged), %d read events received, %d REST calls (%d failed)\n",
			rs.Counts.ReadMarks, rs.Counts.ReadAcks, rs.Counts.ReadEvents, rs.Counts.RESTCalls, rs.Counts.RESTErrors)
	}
	for _, m := range []map[string]int64{rs.SendErrors, rs.DropErrors, rs.ReconnectErrors, rs.ServerErrors, rs.Skipped} {
		for _, e := range topKinds(m, 5) {
			fmt.Fprintf(&b, "          ! %s\n", e)
		}
	}
	if rs.Elapsed > 0 {
		fmt.Fprintf(&b, "cpu       over %.1fs of load and drain: harness %.1fs (%.0f%% of a core)", rs.Elapsed, rs.HarnessCPU, 100*rs.HarnessCPU/rs.Elapsed)
		for i, c := range rs.ServerCPU {
			fmt.Fprintf(&b, ", node %d %.1fs (%.0f%%)", i+1, c, 100*c/rs.Elapsed)
		}
		fmt.Fprintln(&b)
		if rs.HarnessSched.Count > 0 {
			fmt.Fprintf(&b, "          harness goroutines waited for a processor: %s\n", rs.HarnessSched)
		}
	}
	l := rep.Latency
	fmt.Fprintf(&b, "latency   send→deliver  %s\n", l.Deliver)
	fmt.Fprintf(&b, "          send→RECEIPT  %s\n", l.Receipt)
	if l.REST.Count > 0 {
		fmt.Fprintf(&b, "          REST          %s\n", l.REST)
	}
	if l.ReadAck.Count > 0 {
		fmt.Fprintf(&b, "          read→RECEIPT  %s\n", l.ReadAck)
	}
	if l.ReadEvent.Count > 0 {
		fmt.Fprintf(&b, "          read→event    %s\n", l.ReadEvent)
	}
	ck := rep.Check
	fmt.Fprintf(&b, "check     %d acknowledged, %d expected deliveries to %d receivers (%d dropped): lost %d (%d messages), duplicated %d, reordered %d, gaps %d, conflicts %d, unexpected %d",
		ck.Acked, ck.Expected, ck.Receivers, ck.ReceiversDropped, ck.Lost, ck.LostMessages, ck.Duplicated, ck.Reordered, ck.Gaps, ck.Conflicts, ck.Unexpected)
	if ck.DBChecked {
		fmt.Fprintf(&b, "; PostgreSQL: missing %d, mismatched %d", ck.MissingInDB, ck.DBMismatched)
	}
	fmt.Fprintln(&b)
	for _, e := range ck.Examples {
		fmt.Fprintf(&b, "          ! %s\n", e)
	}
	if wr := rep.WAL; wr != nil {
		fmt.Fprintf(&b, "postgres  WAL %s during the load; segments created ~%d, ready at the start %d; checkpoints %d; wal_init_zero %s, min_wal_size %s\n",
			mib(float64(wr.WrittenBytes)), wr.Created, wr.ReadyAtStart, wr.Checkpoints, wr.InitZero, wr.MinWALSize)
	}
	for _, n := range rep.Server {
		if n.Before == nil {
			continue
		}
		fmt.Fprintf(&b, "server    %s: %d connections; RSS %s → %s → %s",
			n.URL, n.Connections, mib(n.Before["process_resident_memory_bytes"]), mib(n.Connected["process_resident_memory_bytes"]), mib(n.After["process_resident_memory_bytes"]))
		if pc := n.PerConnection; pc != nil {
			fmt.Fprintf(&b, "\n          per connection: RSS %s, heap %s, stacks %s, %.2f goroutines",
				kib(pc["process_resident_memory_bytes"]), kib(pc["go_memstats_heap_inuse_bytes"]), kib(pc["go_memstats_stack_inuse_bytes"]), pc["go_goroutines"])
		}
		if pc := n.PerConnectionAfter; pc != nil {
			fmt.Fprintf(&b, "\n          per connection after the run: RSS %s, heap %s", kib(pc["process_resident_memory_bytes"]), kib(pc["go_memstats_heap_inuse_bytes"]))
		}
		fmt.Fprintln(&b)
	}
	if o := rep.Ordering; o != nil {
		b.WriteString(o.summary())
	}
	if rc := rep.Receipts; rc != nil {
		b.WriteString(rc.summary())
	}
	if sr := rep.Soak; sr != nil {
		b.WriteString(sr.summary())
	}
	if rr := rep.Resume; rr != nil {
		b.WriteString(rr.summary())
	}
	if o := rep.Outgoing; o != nil {
		b.WriteString(o.summary())
	}
	if o := rep.Incoming; o != nil {
		b.WriteString(o.summary())
	}
	if rr := rep.Redis; rr != nil {
		b.WriteString(rr.summary())
	}
	for _, w := range rep.Warnings {
		fmt.Fprintf(&b, "WARNING   %s\n", w)
	}
	if len(rep.Failures) == 0 {
		b.WriteString("RESULT    OK\n")
	}
	for _, f := range rep.Failures {
		fmt.Fprintf(&b, "FAILURE   %s\n", f)
	}
	return b.String()
}

func mib(v float64) string { return fmt.Sprintf("%.1f MiB", v/(1<<20)) }
func kib(v float64) string { return fmt.Sprintf("%.1f KiB", v/1024) }
