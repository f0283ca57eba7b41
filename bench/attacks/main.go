// Command attacks measures issue 21's attacks against a parley node in another process:
// for each attack, a normal client's send → deliver latency (the probe) in baseline rounds
// and in attacked rounds, interleaved (baseline, attack, baseline, attack…) so that both
// see the same machine, with the attack's own outcome (sockets held, statuses, frames…).
// It reports what happened and asserts nothing, so the same command measures a node that
// accepts every attack and one that refuses them.
//
// By default it starts `bin/parley serve` itself on a free loopback port with a fresh
// PostgreSQL database (dropped at exit), embedded Redis and Kafka, its own JWT secret and
// dev mode on, and reads the node's open files and RSS from /proc. With --url it attacks a
// running node instead (--jwt-secret signs the tokens; --db-url lets it seed the replay
// channel; --node-pid lets it read /proc).
//
//	make build && go run ./bench/attacks -json attacks.json
//	go run ./bench/attacks -attacks replay-loop,search -pairs 5 -round 10s
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/parley-chat/parley/transport"
)

// options are the command's flags.
type options struct {
	url, bin, pgServer, dbURL, secret string
	dev                               bool
	nodePid                           int
	serveEnv                          stringList

	attacks       string
	pairs         int
	round, settle time.Duration
	probeInterval time.Duration
	attackerAddr  string

	sockets    int
	idleChecks []time.Duration
	slowConns  int
	slowHold   time.Duration
	seed       int
	replaySubs int
	resendRate float64
	workers    int

	attackerProc bool

	jsonPath string
}

type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func main() {
	if os.Getenv(childEnv) != "" {
		if err := childMain(os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "attacks (attacker process):", err)
			os.Exit(1)
		}
		return
	}
	o := defaultOptions()
	flag.StringVar(&o.url, "url", "", "base URL of a running node to attack (http://host:port); empty: start --bin serve as a child process")
	flag.StringVar(&o.bin, "bin", o.bin, "the parley binary a child node runs (make build)")
	flag.StringVar(&o.pgServer, "postgres", o.pgServer, "PostgreSQL server; a child node gets a fresh database on it, dropped at exit")
	flag.StringVar(&o.dbURL, "db-url", "", "with --url: the node's database, to seed the replay channel (without it the replay attacks are skipped)")
	flag.StringVar(&o.secret, "jwt-secret", transport.DevJWTSecret, "with --url: the node's HS256 secret, to sign the harness's tokens")
	flag.BoolVar(&o.dev, "dev", o.dev, "start the child node with PARLEY_DEV (dev login, for the dev-login attack); with --url: whether the node has it")
	flag.IntVar(&o.nodePid, "node-pid", 0, "with --url: the node's pid, to read its open files and RSS from /proc")
	flag.Var(&o.serveEnv, "serve-env", "KEY=VALUE added to the child node's environment (repeatable), e.g. PARLEY_SEND_RATE=20")
	flag.StringVar(&o.attacks, "attacks", "all", "attacks to run, comma-separated: idle-sockets, slow-body, replay-loop, resend-loop, rest-posts, search, dev-login")
	flag.IntVar(&o.pairs, "pairs", o.pairs, "baseline/attacked round pairs per attack")
	flag.DurationVar(&o.round, "round", o.round, "length of a baseline round, and of an attacked round of the floods and loops")
	flag.DurationVar(&o.settle, "settle", o.settle, "pause after each attacked round before the next baseline (not measured)")
	flag.DurationVar(&o.probeInterval, "probe-interval", o.probeInterval, "the probe sends one message every this often (spread over connections of at most 16/s each)")
	flag.StringVar(&o.attackerAddr, "attacker-addr", "auto", "source IP of the attacks (port 0); auto: 127.0.0.2 against a loopback node, else the system's choice; empty: the system's choice")
	flag.IntVar(&o.sockets, "sockets", o.sockets, "idle-sockets: WebSockets upgraded that never send CONNECT")
	idleChecks := flag.String("idle-checks", "15s,25s", "idle-sockets: count the open sockets this long after the last upgrade (comma-separated; the round ends at the last)")
	flag.IntVar(&o.slowConns, "slow-conns", o.slowConns, "slow-body: connections trickling a request body")
	flag.DurationVar(&o.slowHold, "slow-hold", o.slowHold, "slow-body: how long the bodies trickle (the round's length)")
	flag.IntVar(&o.seed, "seed", o.seed, "messages seeded into the channel the replay attacks read")
	flag.IntVar(&o.replaySubs, "replay-subs", o.replaySubs, "replay-loop: subscribe/unsubscribe loops running at once on the one connection")
	flag.Float64Var(&o.resendRate, "resend-rate", o.resendRate, "resend-loop: /app/message.resend frames per second")
	flag.IntVar(&o.workers, "workers", o.workers, "rest-posts, search, dev-login: concurrent requests")
	flag.BoolVar(&o.attackerProc, "attacker-proc", o.attackerProc, "run each attacked round in a process of its own (this binary again), apart from the probe's")
	flag.StringVar(&o.jsonPath, "json", "", "also write the whole report as JSON to this file")
	flag.Parse()
	var err error
	if o.idleChecks, err = parseDurations(*idleChecks); err != nil {
		fmt.Fprintln(os.Stderr, "attacks: --idle-checks:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "attacks:", err)
		os.Exit(1)
	}
}

func defaultOptions() options {
	return options{
		bin: "bin/parley", pgServer: "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable",
		dev: true, pairs: 3, round: 8 * time.Second, settle: 2 * time.Second, probeInterval: 20 * time.Millisecond,
		sockets: 2000, idleChecks: []time.Duration{15 * time.Second, 25 * time.Second},
		slowConns: 200, slowHold: 40 * time.Second, seed: 14_600, replaySubs: 4, resendRate: 20, workers: 8, attackerProc: true,
	}
}

func run(ctx context.Context, o options) error {
	if err := o.validate(); err != nil {
		return err
	}
	rep := &report{
		Command: command(),
		Date:    time.Now().UTC().Format("2006-01-02 15:04 MST"),
		Commit:  gitCommit(),
		Machine: machine(),
		LoadAvg: loadAvg(),
	}
	var t *target
	if o.url == "" {
		var err error
		if t, err = startChild(ctx, o.bin, o.pgServer, o.dev, o.serveEnv); err != nil {
			return err
		}
		defer t.stop()
		v, _ := exec.Command(o.bin, "version").Output()
		rep.Node = fmt.Sprintf("child `%s serve` (%s), pid %d, embedded Redis and Kafka, fresh database", o.bin, strings.TrimSpace(string(v)), t.pid)
	} else {
		base := strings.TrimRight(o.url, "/")
		t = &target{base: base, ws: "ws" + strings.TrimPrefix(base, "http") + "/ws", secret: o.secret,
			dbURL: o.dbURL, pid: o.nodePid, devLogin: o.dev}
		rep.Node = "running node at " + base
	}
	if o.attackerAddr == "auto" {
		o.attackerAddr = ""
		if strings.Contains(t.base, "://127.") || strings.Contains(t.base, "://localhost") {
			o.attackerAddr = "127.0.0.2"
		}
	}
	err := measure(ctx, t, o, rep, os.Stderr)
	if err != nil && t.childLogs != nil {
		err = fmt.Errorf("%w\nnode log (tail):\n%s", err, tail(t.childLogs.String(), 30))
	}
	if len(rep.Attacks) > 0 {
		writeTable(os.Stdout, rep)
		if o.jsonPath != "" {
			f, ferr := os.Create(o.jsonPath)
			if ferr != nil {
				return errors.Join(err, ferr)
			}
			defer f.Close()
			if jerr := writeJSON(f, rep); jerr != nil {
				return errors.Join(err, jerr)
			}
		}
	}
	return err
}

func (o options) validate() error {
	var errs []error
	if o.pairs < 1 {
		errs = append(errs, fmt.Errorf("--pairs %d: want at least 1", o.pairs))
	}
	if o.round <= 0 || o.settle < 0 || o.probeInterval <= 0 || o.slowHold <= 0 {
		errs = append(errs, errors.New("--round, --probe-interval and --slow-hold must be positive, --settle not negative"))
	}
	if o.sockets < 0 || o.sockets > 15_000 {
		// This process holds them all; the machine allows 20,000 files per process.
		errs = append(errs, fmt.Errorf("--sockets %d: want 0..15000", o.sockets))
	}
	if o.slowConns < 0 || o.slowConns > 5_000 || o.workers < 1 || o.resendRate <= 0 || o.seed < 0 || o.replaySubs < 1 || o.replaySubs > 90 {
		errs = append(errs, errors.New("--slow-conns 0..5000, --workers ≥ 1, --resend-rate > 0, --seed ≥ 0, --replay-subs 1..90"))
	}
	if len(o.idleChecks) == 0 {
		errs = append(errs, errors.New("--idle-checks: want at least one duration"))
	}
	if _, err := selectAttacks(o.attacks); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func parseDurations(s string) ([]time.Duration, error) {
	var out []time.Duration
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		d, err := time.ParseDuration(p)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// command is the command line, as `go run ./bench/attacks …` when it was run so.
func command() string {
	if strings.Contains(os.Args[0], "go-build") {
		return strings.Join(append([]string{"go run ./bench/attacks"}, os.Args[1:]...), " ")
	}
	return strings.Join(os.Args, " ")
}

func gitCommit() string {
	out, err := exec.Command("git", "describe", "--always", "--dirty").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

func machine() string {
	model := ""
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				model = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	return fmt.Sprintf("%d CPUs (%s/%s) %s", runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, model)
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

func tail(s string, lines int) string {
	ls := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(ls[max(0, len(ls)-lines):], "\n")
}
