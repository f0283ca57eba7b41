// Command clusterfanout measures what the bus costs Redis (issue 26): `parley bench fanout`
// on three `parley serve` nodes, in interleaved rounds (single, cluster, single, cluster…),
// once on one plain redis-server (PUBLISH) and once on a local 3-master + 3-replica Redis
// Cluster (SPUBLISH lanes, ADR 0043), each round on a fresh Redis, Kafka, database and
// nodes. The harness's --redis-stats reads every Redis process's CPU, commandstats and
// network bytes over the measured window; this command tabulates them per message.
//
//	make bench-cluster-fanout        # or:
//	go run ./bench/clusterfanout -bin bin/parley -rounds 3 -out artifacts/clusterfanout
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/parley-chat/parley/bench"
)

type options struct {
	bin, postgres, out, modes string
	rounds, nodes, dbConns    int
	firstRound                int
	setupRetries              int
	dbCheck                   bool
	summarize                 string
	connections, channels     int
	senders                   int
	rate                      float64
	duration, warmup, idle    time.Duration
}

func main() {
	var o options
	flag.StringVar(&o.bin, "bin", "bin/parley", "parley binary (nodes and harness)")
	flag.StringVar(&o.postgres, "postgres", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", "PostgreSQL server; each round gets a fresh database, dropped after it")
	flag.StringVar(&o.out, "out", "artifacts/clusterfanout", "directory for each run's JSON report, summary and node logs")
	flag.StringVar(&o.modes, "modes", "single,cluster", "modes run in this order in every round")
	flag.IntVar(&o.rounds, "rounds", 3, "rounds (each runs every mode once)")
	flag.IntVar(&o.firstRound, "first-round", 1, "number of the first round (to add rounds to an earlier invocation's)")
	flag.IntVar(&o.nodes, "nodes", 3, "parley nodes per run")
	flag.IntVar(&o.dbConns, "db-max-conns", 4, "each node's PostgreSQL pool (the machine's PostgreSQL is shared)")
	flag.BoolVar(&o.dbCheck, "db-check", false, "bench --db-url: also look every acknowledged message up in PostgreSQL (more connections to a shared server)")
	flag.IntVar(&o.setupRetries, "setup-retries", 2, "runs that fail before the load starts (setup, no report: PostgreSQL out of connections) are run again on a fresh stack this many times; recorded in the results")
	flag.IntVar(&o.connections, "connections", 3000, "bench --connections")
	// Client i is on node i mod nodes and channel i mod channels: a channel count coprime
	// to the node count puts every channel's members on every node.
	flag.IntVar(&o.channels, "channels", 100, "bench --channels (coprime to -nodes)")
	flag.IntVar(&o.senders, "senders", 100, "bench --senders")
	flag.Float64Var(&o.rate, "rate", 1, "bench --rate (per sender)")
	flag.DurationVar(&o.duration, "duration", 30*time.Second, "bench --duration")
	flag.DurationVar(&o.warmup, "warmup", 10*time.Second, "bench --warmup")
	flag.DurationVar(&o.idle, "idle", 10*time.Second, "Redis's idle CPU is read over this long before each run, nodes up, no clients")
	flag.StringVar(&o.summarize, "summarize", "", "comma-separated -out directories: print the table of their results.json files together, run nothing")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if o.summarize != "" {
		if err := resummarize(o); err != nil {
			fmt.Fprintln(os.Stderr, "clusterfanout:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "clusterfanout:", err)
		os.Exit(1)
	}
}

// result is one run's row.
type result struct {
	Round  int           `json:"round"`
	Mode   string        `json:"mode"`
	Report *bench.Report `json:"report,omitempty"`
	Error  string        `json:"error,omitempty"`
	// Retried are the errors of attempts that failed before the load (no report).
	Retried []string `json:"retried,omitempty"`
	// Idle is Redis's CPU per second (all servers, masters) with the nodes up and no
	// clients, over -idle before the run: the floor (cron, cluster gossip, the nodes'
	// leases and presence) that the load's figures include.
	IdleAll     float64 `json:"idleCpuPerSecond"`
	IdleMasters float64 `json:"idleMastersCpuPerSecond"`
}

func run(ctx context.Context, o options) error {
	if gcd(o.channels, o.nodes) != 1 {
		fmt.Fprintf(os.Stderr, "clusterfanout: warning: -channels %d and -nodes %d share a factor: some channels' members sit on one node\n", o.channels, o.nodes)
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	var results []result
	failed := false
	for round := o.firstRound; round < o.firstRound+o.rounds; round++ {
		for _, mode := range strings.Split(o.modes, ",") {
			res := result{Round: round, Mode: mode}
			rep, err := runOne(ctx, o, &res)
			for try := 0; rep == nil && err != nil && try < o.setupRetries && ctx.Err() == nil; try++ {
				fmt.Fprintf(os.Stderr, "round %d %s: no report (%v); again on a fresh stack\n", round, mode, err)
				res.Retried = append(res.Retried, err.Error())
				rep, err = runOne(ctx, o, &res)
			}
			res.Report = rep
			if err != nil {
				res.Error = err.Error()
				failed = true
				fmt.Fprintf(os.Stderr, "round %d %s: %v\n", round, mode, err)
			}
			results = append(results, res)
			if ctx.Err() != nil {
				return ctx.Err()
			}
		}
	}
	table := summarize(o, results)
	fmt.Print(table)
	b, _ := json.MarshalIndent(results, "", "  ")
	if err := errors.Join(os.WriteFile(filepath.Join(o.out, "results.json"), b, 0o644),
		os.WriteFile(filepath.Join(o.out, "summary.md"), []byte(table), 0o644)); err != nil {
		return err
	}
	if failed {
		return errFailed
	}
	return nil
}

// runOne brings a mode's stack up, runs the bench against it and tears it down.
func runOne(ctx context.Context, o options, res *result) (*bench.Report, error) {
	round, mode := res.Round, res.Mode
	name := fmt.Sprintf("r%d-%s", round, mode)
	fmt.Fprintf(os.Stderr, "%s  %s: starting redis (%s), kafka, database, %d nodes\n", time.Now().UTC().Format(time.TimeOnly), name, mode, o.nodes)
	s, err := startStack(ctx, o, mode, o.out)
	if err != nil {
		return nil, err
	}
	defer s.stop()
	a0, m0, err := bench.RedisCPU(ctx, s.redisAddrs)
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	time.Sleep(o.idle)
	a1, m1, err := bench.RedisCPU(ctx, s.redisAddrs)
	if err != nil {
		return nil, err
	}
	secs := time.Since(t0).Seconds()
	res.IdleAll, res.IdleMasters = (a1-a0)/secs, (m1-m0)/secs
	jsonPath := filepath.Join(o.out, name+".json")
	args := []string{"bench", "fanout", "--quiet", "--setup-concurrency", "8",
		"--connections", strconv.Itoa(o.connections), "--channels", strconv.Itoa(o.channels),
		"--senders", strconv.Itoa(o.senders), "--rate", strconv.FormatFloat(o.rate, 'g', -1, 64),
		"--duration", o.duration.String(), "--warmup", o.warmup.String(),
		"--redis-stats", strings.Join(s.redisAddrs, ","), "--json", jsonPath}
	for _, u := range s.urls {
		args = append(args, "--url", u)
	}
	if o.dbCheck {
		args = append(args, "--db-url", s.dbURL)
	}
	fmt.Fprintf(os.Stderr, "%s  %s: %s %s\n", time.Now().UTC().Format(time.TimeOnly), name, o.bin, strings.Join(args, " "))
	cmd := exec.CommandContext(ctx, o.bin, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	summary, runErr := cmd.Output()
	if runErr != nil {
		runErr = fmt.Errorf("%w: %s", runErr, lastLine(stderr.String()))
	}
	_ = os.WriteFile(filepath.Join(o.out, name+".txt"), summary, 0o644)
	os.Stderr.Write(summary)
	raw, err := os.ReadFile(jsonPath)
	if err != nil {
		return nil, errors.Join(runErr, fmt.Errorf("report: %w", err))
	}
	var rep bench.Report
	if err := json.Unmarshal(raw, &rep); err != nil {
		return nil, fmt.Errorf("report %s: %w", jsonPath, err)
	}
	if runErr != nil {
		return &rep, fmt.Errorf("parley bench: %w (%v)", runErr, rep.Failures)
	}
	return &rep, nil
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// resummarize prints the table of earlier invocations' results together (the load
// flags must be the ones they ran with: the table's heading repeats them).
func resummarize(o options) error {
	var all []result
	for _, dir := range strings.Split(o.summarize, ",") {
		raw, err := os.ReadFile(filepath.Join(dir, "results.json"))
		if err != nil {
			return err
		}
		var rs []result
		if err := json.Unmarshal(raw, &rs); err != nil {
			return fmt.Errorf("%s: %w", dir, err)
		}
		all = append(all, rs...)
	}
	if len(all) == 0 {
		return errors.New("no results")
	}
	o.firstRound, o.rounds = all[0].Round, 0
	for _, r := range all {
		o.firstRound = min(o.firstRound, r.Round)
		o.rounds = max(o.rounds, r.Round-o.firstRound+1)
	}
	fmt.Print(summarize(o, all))
	return nil
}
