package bench

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/parley-chat/parley/transport"
)

// MaxConnsPerProc is the most client connections one process is given: the benchmark
// machine allows 20,000 open files per process, and a worker needs a few hundred more for
// its HTTP client, pipes and the Go runtime.
const MaxConnsPerProc = 19_000

// MaxSendRate is the server's default per-connection send limit (SPEC "Limits": 20 sends/s,
// burst 50). A sender above it measures the limiter, not the server.
const MaxSendRate = 20

// Config is one `parley bench` run. Zero fields take the scenario's defaults (see
// Scenarios); Run validates the result.
type Config struct {
	// Scenario is one of Scenarios' names: fanout, connections, users, ordering, receipts.
	Scenario string
	// URLs are the base HTTP URLs of the nodes under test; clients are spread round-robin.
	// Default http://127.0.0.1:9000.
	URLs []string
	// Connections is how many clients connect, each its own user.
	Connections int
	// Channels is how many channels the workspace gets for the run.
	Channels int
	// SubsPerConn is how many channels each client subscribes to (consecutive, wrapping).
	SubsPerConn int
	// Senders is how many of the clients post (the first ones); they are spread over
	// channels and nodes.
	Senders int
	// Receivers is how many of the clients subscribe to their channels (the last ones).
	// Default: all of them. With Senders + Receivers ≤ Connections, senders do not receive.
	Receivers int
	// Rate is messages per second per sender (at most MaxSendRate unless AllowOverRate).
	Rate float64
	// AllowOverRate lets Rate exceed MaxSendRate, for servers configured with a higher limit.
	AllowOverRate bool
	// Duration is the measured part of the run (for connections: how long they are held).
	Duration time.Duration
	// Warmup runs the load before Duration without counting its latencies or rates.
	Warmup time.Duration
	// Drain bounds the wait for in-flight deliveries after the senders stop. Default 10 s.
	Drain time.Duration
	// Ramp is connections per second over all workers; 0: as fast as DialConcurrency allows.
	Ramp float64
	// DialConcurrency bounds connection attempts in flight per worker. Default 64.
	DialConcurrency int
	// SetupConcurrency bounds REST calls in flight during setup. Default 32.
	SetupConcurrency int
	// SourceAddrs are local IPs client sockets bind to (port 0), round-robin; each source IP
	// gives about 28,000 ephemeral ports. Empty: the system's choice.
	SourceAddrs []netip.Addr
	// Procs spreads the clients over this many worker processes (re-executions of the
	// binary). Default: enough that none holds more than MaxConnsPerProc connections.
	Procs int
	// LoadNice, when positive, runs the worker processes of a probe scenario's load — every
	// worker but the probe's own — at this nice value (Procs > 1), so that on one machine the
	// load takes the CPU the nodes, PostgreSQL and the probe leave, as clients on other
	// machines would (ADR 0048). The report says so. Storm: 10; 0 or negative: equal
	// priority.
	LoadNice int
	// JWTSecret signs every client's token (HS256). Default: the dev server's secret.
	JWTSecret string
	// JWTIssuer and JWTAudience are written into tokens when the server checks them.
	JWTIssuer, JWTAudience string
	// HeartBeat is what clients offer both ways; 0 disables heart-beats. Default 10 s.
	HeartBeat time.Duration
	// GoroutineReaders reads each client's socket on a goroutine of its own instead of from
	// a few epoll loops per worker process (stompclient.Poller; Linux). The loops cost the machine
	// less CPU per message, which the server under test shares (ADR 0015).
	GoroutineReaders bool
	// MessageBytes pads message content to about this many bytes. Default 64.
	MessageBytes int
	// ReceiptTimeout bounds the wait for one RECEIPT. Default 10 s.
	ReceiptTimeout time.Duration
	// MaxInflight bounds unacknowledged sends per sender; a tick that finds it full is
	// counted as skipped (the load offered was not the load asked). Default 256.
	MaxInflight int
	// DatabaseURL, when set, is the PostgreSQL the server writes to: it is ANALYZEd after
	// the setup phase's bulk load (ADR 0010), and every acknowledged message is looked up
	// there (acknowledged-but-missing is a FAILURE).
	DatabaseURL string
	// ClockSkews are the per-node clock skews the ordering analysis simulates on timestamp
	// ids: with skew d, the k-th node (by id) runs k·d ahead. Default 0, 5 ms, 50 ms.
	ClockSkews []time.Duration

	// users scenario (the realistic model; zero: defaults).
	// PostInterval is the mean time between a user's posts (Poisson). Default 60 s.
	PostInterval time.Duration
	// ReadInterval is how often a client marks read what it has seen (users, receipts).
	// Default 30 s for users, 1 s for receipts.
	ReadInterval time.Duration
	// RESTInterval is the mean time between a user's history/unreads fetches. Default 120 s.
	RESTInterval time.Duration
	// ReconnectPerMin is the fraction of clients reconnecting (with since-seq) per minute.
	// Default 0.01 for users, 0 otherwise.
	ReconnectPerMin float64

	// SampleEvery is how often the nodes' /metrics are sampled during the run (the soak
	// scenario's leak check reads them). Default 10 s; negative: never.
	SampleEvery time.Duration

	// RedisStats are the Redis servers (host:port) behind the nodes' bus: their INFO (CPU,
	// commandstats, network bytes) is read at the start and end of the measured window and
	// divided by its messages (Report.Redis). Empty: not read.
	RedisStats []string

	// Quiet turns the progress bar off.
	Quiet bool
	// JSONPath, when set, receives the whole Report as JSON.
	JSONPath string
	// PlotPath, when set, receives an SVG of latency percentiles over time.
	PlotPath string
	// Command is the command line, recorded in the report.
	Command string

	// Out receives the plain-text summary (default io.Discard); Progress the progress bar
	// (default io.Discard).
	Out, Progress io.Writer
	// Logger receives diagnostics. Default: discard.
	Logger *slog.Logger
	// Executable and WorkerArgs start a worker process: Executable WorkerArgs... must run
	// RunWorker on its stdin and stdout. Defaults: this binary, ["bench", "--worker"].
	Executable string
	WorkerArgs []string
	// WorkerEnv is added to the workers' environment.
	WorkerEnv []string

	// Issue 27 (ADR 0048): a client whose connection ends unasked resumes on another node
	// with since-seq, after a backoff of ResumeBackoff (default 100 ms) doubling to
	// ResumeBackoffMax (default 5 s), with full jitter; one not back within ResumeGiveUp
	// (default 60 s) is dropped. NoResume: dropped at once, as before issue 27.
	NoResume                        bool
	ResumeBackoff, ResumeBackoffMax time.Duration
	ResumeGiveUp                    time.Duration
	// Spawn starts the nodes under test as subprocesses (and signals one mid-run).
	Spawn SpawnConfig
}

// withDefaults applies the scenario's defaults, then the general ones.
func (c Config) withDefaults() (Config, *scenario, error) {
	if c.Scenario == "" {
		c.Scenario = "fanout"
	}
	sc, ok := scenarios[c.Scenario]
	if !ok {
		return c, nil, fmt.Errorf("unknown scenario %q (want one of %s)", c.Scenario, strings.Join(ScenarioNames(), ", "))
	}
	if len(c.URLs) == 0 {
		c.URLs = []string{"http://127.0.0.1:9000"}
	}
	sc.defaults(&c)
	if c.JWTSecret == "" {
		c.JWTSecret = transport.DevJWTSecret
	}
	if c.Drain == 0 {
		c.Drain = 10 * time.Second
	}
	if c.DialConcurrency == 0 {
		c.DialConcurrency = 64
	}
	if c.SetupConcurrency == 0 {
		c.SetupConcurrency = 32
	}
	if c.HeartBeat == 0 {
		c.HeartBeat = 10 * time.Second
	}
	if c.HeartBeat < 0 {
		c.HeartBeat = 0
	}
	if c.MessageBytes == 0 {
		c.MessageBytes = 64
	}
	if c.ReceiptTimeout == 0 {
		c.ReceiptTimeout = 10 * time.Second
	}
	if c.MaxInflight == 0 {
		c.MaxInflight = 256
	}
	if c.SampleEvery == 0 {
		c.SampleEvery = 10 * time.Second
	}
	if c.ClockSkews == nil {
		c.ClockSkews = []time.Duration{0, 5 * time.Millisecond, 50 * time.Millisecond}
	}
	if c.Receivers == 0 {
		c.Receivers = c.Connections
	}
	if c.SubsPerConn == 0 && c.Channels > 0 {
		c.SubsPerConn = 1
	}
	if c.Procs == 0 {
		c.Procs = (c.Connections + MaxConnsPerProc - 1) / MaxConnsPerProc
		if c.Procs < 1 {
			c.Procs = 1
		}
	}
	if c.Out == nil {
		c.Out = io.Discard
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if len(c.WorkerArgs) == 0 {
		c.WorkerArgs = []string{"bench", "--worker"}
	}
	return c, sc, c.validate()
}

// validate reports every problem at once, each naming its flag.
func (c Config) validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	for _, u := range c.URLs {
		p, err := url.Parse(u)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			bad("--url %q: want a base http(s) URL such as http://127.0.0.1:9000", u)
		}
	}
	if c.Connections < 1 {
		bad("--connections %d: want at least 1", c.Connections)
	}
	if c.Channels < 0 {
		bad("--channels %d: must not be negative", c.Channels)
	}
	if c.SubsPerConn < 0 || (c.Channels > 0 && c.SubsPerConn > c.Channels) {
		bad("--subs-per-conn %d: want 0..--channels (%d)", c.SubsPerConn, c.Channels)
	}
	if c.Senders < 0 || c.Senders > c.Connections {
		bad("--senders %d: want 0..--connections (%d)", c.Senders, c.Connections)
	}
	if c.Receivers < 0 || c.Receivers > c.Connections {
		bad("--receivers %d: want 0..--connections (%d)", c.Receivers, c.Connections)
	}
	if c.Senders > 0 && c.Channels == 0 {
		bad("--senders %d needs --channels ≥ 1", c.Senders)
	}
	if c.Rate < 0 || (c.Senders > 0 && c.Rate == 0) {
		bad("--rate %g: want a positive rate per sender", c.Rate)
	}
	if c.Rate > MaxSendRate && !c.AllowOverRate {
		bad("--rate %g: above the server's default per-connection limit of %d sends/s (add senders instead, or --allow-over-rate)", c.Rate, MaxSendRate)
	}
	if c.Duration <= 0 {
		bad("--duration %s: must be positive", c.Duration)
	}
	if c.Warmup < 0 || c.Drain < 0 {
		bad("--warmup and --drain must not be negative")
	}
	if c.Ramp < 0 {
		bad("--ramp %g: must not be negative", c.Ramp)
	}
	if c.Procs < 1 {
		bad("--procs %d: want at least 1", c.Procs)
	} else if per := (c.Connections + c.Procs - 1) / c.Procs; per > MaxConnsPerProc {
		bad("--procs %d: %d connections per process, above the %d a process may hold here; use --procs %d",
			c.Procs, per, MaxConnsPerProc, (c.Connections+MaxConnsPerProc-1)/MaxConnsPerProc)
	}
	if perNode := c.Connections / max(1, len(c.URLs)); c.SourceAddrs == nil && perNode > 25_000 {
		bad("--connections: %d to one node from one source address would exhaust its ephemeral ports; add --source-addrs 127.0.0.2-127.0.0.20", perNode)
	}
	if len(c.JWTSecret) < 32 {
		bad("--jwt-secret: %d bytes, want at least 32", len(c.JWTSecret))
	}
	if c.MessageBytes < 48 || c.MessageBytes > 4000 {
		bad("--message-bytes %d: want 48..4000", c.MessageBytes)
	}
	if c.ReconnectPerMin < 0 || c.ReconnectPerMin > 60 {
		bad("--reconnect-per-min %g: want 0..60", c.ReconnectPerMin)
	}
	if err := validateRedisStats(c.RedisStats); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// ParseAddrRange parses --source-addrs: comma-separated IPs or inclusive ranges such as
// 127.0.0.2-127.0.0.20.
func ParseAddrRange(s string) ([]netip.Addr, error) {
	var out []netip.Addr
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := netip.ParseAddr(strings.TrimSpace(lo))
		if err != nil {
			return nil, fmt.Errorf("source address %q: %w", part, err)
		}
		if !isRange {
			out = append(out, a)
			continue
		}
		b, err := netip.ParseAddr(strings.TrimSpace(hi))
		if err != nil {
			return nil, fmt.Errorf("source address range %q: %w", part, err)
		}
		if a.Is4() != b.Is4() || b.Less(a) {
			return nil, fmt.Errorf("source address range %q: want low-high of one family", part)
		}
		for x := a; ; x = x.Next() {
			out = append(out, x)
			if len(out) > 65536 {
				return nil, fmt.Errorf("source address range %q: more than 65536 addresses", part)
			}
			if x == b {
				break
			}
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no source address given")
	}
	return out, nil
}

// ParseDurations parses a comma-separated list of durations ("0,5ms,50ms"); a bare 0 is
// allowed.
func ParseDurations(s string) ([]time.Duration, error) {
	var out []time.Duration
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if part == "0" {
			out = append(out, 0)
			continue
		}
		d, err := time.ParseDuration(part)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}
