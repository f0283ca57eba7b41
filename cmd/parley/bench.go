package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/parley-chat/parley/bench"
)

// urls is a repeatable flag (--url a --url b), also splitting commas.
type urls []string

// envList is a repeatable KEY=VALUE flag.
type envList []string

func (e *envList) String() string { return strings.Join(*e, " ") }
func (e *envList) Set(v string) error {
	if k, _, ok := strings.Cut(v, "="); !ok || k == "" || strings.ContainsAny(k, " \t") {
		return fmt.Errorf("want KEY=VALUE, got %q", v)
	}
	*e = append(*e, v)
	return nil
}

func (u *urls) String() string { return strings.Join(*u, ",") }
func (u *urls) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*u = append(*u, s)
		}
	}
	return nil
}

// runBench is `parley bench [scenario] [flags]`; `--worker` runs one worker process of a
// multi-process run (plan on stdin, events on stdout).
func runBench(args []string) int {
	var c bench.Config
	var nodes, redisStats urls
	var sourceAddrs, clockSkews string
	var worker bool
	var replot string
	var logs logOptions
	f := newEnvFlags("bench", "Load and correctness harness. Scenarios:\n"+bench.ScenarioHelp()+
		"\nusage: parley bench <scenario> [flags]; the summary goes to stdout, progress to stderr.\n"+
		"Exit status 1 when a check failed (lost, duplicated, reordered or missing messages, failed connections).")
	f.str(&c.Scenario, "scenario", "", "fanout", "scenario (or give it as the first argument)")
	f.Var(&nodes, "url", "base URL of a node, repeatable; clients are spread round-robin (default http://127.0.0.1:9000)")
	f.integer(&c.Connections, "connections", "", 0, "clients, each its own user (0: the scenario's default)")
	f.integer(&c.Channels, "channels", "", 0, "channels in the run's workspace")
	f.integer(&c.SubsPerConn, "subs-per-conn", "", 0, "channels each client subscribes to")
	f.integer(&c.Senders, "senders", "", 0, "how many clients post (the first ones)")
	f.integer(&c.Receivers, "receivers", "", 0, "how many clients subscribe (the last ones; 0: all)")
	f.Float64Var(&c.Rate, "rate", 0, "messages/s per sender (the server allows 20 per connection)")
	f.boolean(&c.AllowOverRate, "allow-over-rate", "", false, "allow --rate above 20 (a server with a raised limit)")
	f.duration(&c.Duration, "duration", "", 0, "measured time (connections: how long they are held)")
	f.duration(&c.Warmup, "warmup", "", 0, "load before the measured time, not counted")
	f.duration(&c.Drain, "drain", "", 10*time.Second, "longest wait for in-flight deliveries after the senders stop")
	f.Float64Var(&c.Ramp, "ramp", 0, "connections opened per second (0: as fast as --dial-concurrency allows)")
	f.integer(&c.DialConcurrency, "dial-concurrency", "", 64, "connection attempts in flight per process")
	f.integer(&c.SetupConcurrency, "setup-concurrency", "", 32, "REST calls in flight during setup")
	f.str(&sourceAddrs, "source-addrs", "", "", "local IPs to bind client sockets to (port 0), e.g. 127.0.0.2-127.0.0.20")
	f.integer(&c.Procs, "procs", "", 0, fmt.Sprintf("worker processes (0: one per %d connections)", bench.MaxConnsPerProc))
	f.str(&c.JWTSecret, "jwt-secret", "PARLEY_JWT_SECRET", "", "HS256 secret the tokens are signed with (default: the dev server's)")
	f.str(&c.JWTIssuer, "jwt-issuer", "PARLEY_JWT_ISSUER", "", "iss claim, when the server checks it")
	f.str(&c.JWTAudience, "jwt-audience", "PARLEY_JWT_AUDIENCE", "", "aud claim, when the server checks it")
	f.duration(&c.HeartBeat, "heartbeat", "", 10*time.Second, "STOMP heart-beat both ways (negative: off)")
	f.boolean(&c.GoroutineReaders, "goroutine-readers", "", false, "read each client's socket on a goroutine of its own, not from a few epoll loops per process")
	f.integer(&c.MessageBytes, "message-bytes", "", 64, "message content size")
	f.duration(&c.ReceiptTimeout, "receipt-timeout", "", 10*time.Second, "longest wait for a RECEIPT")
	f.integer(&c.MaxInflight, "max-inflight", "", 256, "unacknowledged sends per sender before sends are skipped")
	f.str(&c.DatabaseURL, "db-url", "", "", "the server's PostgreSQL: ANALYZE it after the setup's load (as pgbench -i does), check every acknowledged message is stored, and watch its WAL during the load (segments created inside commits; needs superuser or pg_monitor)")
	f.str(&clockSkews, "clock-skew", "", "0,5ms,50ms", "ordering: per-node clock skews to simulate on timestamp ids")
	f.duration(&c.PostInterval, "post-interval", "", 0, "users: mean time between a user's posts (default 60s)")
	f.duration(&c.ReadInterval, "read-interval", "", 0, "users, receipts: how often clients mark read (default 30s, 1s)")
	f.duration(&c.RESTInterval, "rest-interval", "", 0, "users: mean time between a user's REST fetches (default 120s)")
	f.Float64Var(&c.ReconnectPerMin, "reconnect-per-min", 0, "fraction of clients reconnecting per minute (users default 0.01)")
	f.duration(&c.SampleEvery, "sample-every", "", 10*time.Second, "how often each node's /metrics are sampled during the run (negative: never)")
	f.Var(&redisStats, "redis-stats", "Redis servers behind the nodes' bus (host:port, repeatable or comma-separated; every master and replica of a cluster): their CPU, commands and bytes over the measured window, per message")
	f.str(&c.JSONPath, "json", "", "", "write every figure to this file")
	f.str(&c.PlotPath, "plot", "", "", "write latency percentiles over time to this .svg")
	f.boolean(&c.Quiet, "quiet", "", false, "no progress bar")
	var cpuProfile, pprofAddr string
	f.str(&cpuProfile, "cpuprofile", "", "", "write the harness's own CPU profile here (with --procs 1 it covers the clients)")
	f.str(&pprofAddr, "pprof", "", "", "serve the harness's own /debug/pprof here, e.g. 127.0.0.1:19312 (with --procs 1 it covers the clients)")
	var gcPercent int
	f.integer(&gcPercent, "harness-gogc", "", 400, "the harness's own GOGC (0: Go's default or $GOGC); its heap is soft-limited to 4 GiB per process unless $GOMEMLIMIT is set")
	f.boolean(&c.NoResume, "no-resume", "", false, "a client whose connection ends unasked stays gone (default: it resumes on another --url with since-seq)")
	f.duration(&c.ResumeBackoff, "resume-backoff", "", 100*time.Millisecond, "first wait before a resume attempt (doubling, full jitter)")
	f.duration(&c.ResumeBackoffMax, "resume-backoff-max", "", 5*time.Second, "longest wait between resume attempts")
	f.duration(&c.ResumeGiveUp, "resume-give-up", "", time.Minute, "a client not resumed this long after its drop counts as dropped")
	f.integer(&c.Spawn.Nodes, "spawn", "", 0, "start this many nodes (parley serve) as subprocesses (fresh database on --spawn-postgres, Redis bus on --spawn-redis) instead of --url; storm: 2")
	f.str(&c.Spawn.AdminDatabaseURL, "spawn-postgres", "", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", "--spawn: PostgreSQL server the run's database is created on")
	f.str(&c.Spawn.RedisURL, "spawn-redis", "", "redis://127.0.0.1:6379", "--spawn: the nodes' Redis (a fresh key prefix)")
	var faultSignal string
	f.integer(&c.Spawn.FaultNode, "fault-node", "", 0, "--spawn: index of the node to signal mid-run")
	f.str(&faultSignal, "fault-signal", "", "", "--spawn: TERM or KILL the --fault-node at --fault-at (storm: TERM)")
	f.duration(&c.Spawn.FaultAt, "fault-at", "", 0, "--spawn: when to signal, after the load starts (storm: warmup + duration/3)")
	f.integer(&c.LoadNice, "load-nice", "", 0, "run the load's worker processes (all but the probe's, with --procs > 1) at this nice value, so the load takes the CPU the nodes and PostgreSQL leave (storm: 10; negative: equal priority)")
	f.Var((*envList)(&c.Spawn.Env), "node-env", "--spawn: KEY=VALUE added to every node's environment after the harness's own (repeatable), e.g. PARLEY_DB_SEND_CONNS=0 for an A/B of one build")
	f.duration(&c.Spawn.RestartAfter, "restart-after", "", 0, "--spawn: start the signalled node again this long after it exited (0: never)")
	f.boolean(&worker, "worker", "", false, "internal: run one worker process (plan on stdin)")
	f.str(&replot, "replot", "", "", "redraw --plot from a report saved with --json, without running anything")
	var cc bench.CompareConfig
	f.integer(&cc.Rounds, "rounds", "", 0, "compare in this many interleaved rounds (0: one plain run, or 3 with --peer / --pg-floor; ADR 0047)")
	f.str(&cc.Peer, "peer", "", "", "also run the workload against this peer, interleaved: centrifugo ("+bench.CentrifugoInstall+"; skipped with a note when absent)")
	f.str(&cc.CentrifugoPath, "centrifugo", "", "", "centrifugo binary (default: $PATH, $GOBIN, $GOPATH/bin, ~/go/bin)")
	f.boolean(&cc.Floor, "pg-floor", "", false, "also measure PostgreSQL's own commit latency for the append at the same rate (needs --db-url), interleaved")
	f.integer(&cc.FloorClients, "floor-clients", "", 0, "connections of the PostgreSQL floor (0: one per channel, at most 16)")
	logs.register(f)

	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		c.Scenario, args = args[0], args[1:] // a --scenario flag still wins
	}
	if err := f.parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(os.Stderr, "parley bench:", err)
		return 2
	}
	logger, err := logs.logger()
	if err != nil {
		fmt.Fprintln(os.Stderr, "parley bench:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	harnessGC(gcPercent)
	if worker {
		if err := bench.RunWorker(ctx, os.Stdin, os.Stdout, logger); err != nil {
			fmt.Fprintln(os.Stderr, "parley bench --worker:", oneLine(err))
			return 1
		}
		return 0
	}

	if replot != "" {
		if err := bench.Replot(replot, c.PlotPath); err != nil {
			fmt.Fprintln(os.Stderr, "parley bench --replot:", err)
			return 1
		}
		return 0
	}
	c.URLs = nodes
	switch strings.ToUpper(strings.TrimPrefix(strings.ToUpper(faultSignal), "SIG")) {
	case "":
	case "TERM":
		c.Spawn.FaultSignal = syscall.SIGTERM
	case "KILL":
		c.Spawn.FaultSignal = syscall.SIGKILL
	default:
		fmt.Fprintf(os.Stderr, "parley bench: --fault-signal %q: want TERM or KILL\n", faultSignal)
		return 2
	}
	c.RedisStats = redisStats
	if sourceAddrs != "" {
		if c.SourceAddrs, err = bench.ParseAddrRange(sourceAddrs); err != nil {
			fmt.Fprintln(os.Stderr, "parley bench: --source-addrs:", err)
			return 2
		}
	}
	if c.ClockSkews, err = bench.ParseDurations(clockSkews); err != nil {
		fmt.Fprintln(os.Stderr, "parley bench: --clock-skew:", err)
		return 2
	}
	if c.HeartBeat == 0 {
		c.HeartBeat = -1 // flag 0 means off; Config's zero means the default
	}
	c.Command = "parley bench " + strings.Join(os.Args[2:], " ")
	// Worker processes run with the same collector setting as this one.
	c.WorkerArgs = []string{"bench", "--worker", "--harness-gogc=" + strconv.Itoa(gcPercent)}
	c.Out, c.Progress, c.Logger = os.Stdout, os.Stderr, logger
	if cpuProfile != "" {
		pf, err := os.Create(cpuProfile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "parley bench:", err)
			return 2
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			fmt.Fprintln(os.Stderr, "parley bench:", err)
			return 2
		}
		defer pprof.StopCPUProfile()
	}
	if pprofAddr != "" {
		_, stopPprof, err := servePprof(pprofAddr)
		if err != nil {
			fmt.Fprintln(os.Stderr, "parley bench: --pprof:", err)
			return 2
		}
		defer stopPprof()
	}
	if cc.Rounds > 0 || cc.Peer != "" || cc.Floor {
		if _, err := bench.Compare(ctx, c, cc); err != nil {
			fmt.Fprintln(os.Stderr, "parley bench:", oneLine(err))
			return 1
		}
		return 0
	}
	if _, err := bench.Run(ctx, c); err != nil {
		fmt.Fprintln(os.Stderr, "parley bench:", oneLine(err))
		return 1
	}
	return 0
}
