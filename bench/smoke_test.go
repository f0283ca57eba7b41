package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/parley-chat/parley/persistence/pgtest"
	"github.com/parley-chat/parley/transport"
)

// workerEnv makes the test binary a bench worker (TestMain), so that --procs runs can
// re-execute it as `parley bench --worker` re-executes parley.
const workerEnv = "PARLEY_BENCH_TEST_WORKER"

func TestMain(m *testing.M) {
	if os.Getenv(workerEnv) == "1" {
		if err := RunWorker(context.Background(), os.Stdin, os.Stdout, nil); err != nil {
			fmt.Fprintln(os.Stderr, "worker:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// startNode runs a real parley node in-process: its own fresh database, embedded Redis and
// Kafka, a loopback port. It returns the base URL and the database URL.
func startNode(t *testing.T) (string, string) {
	t.Helper()
	db := pgtest.NewDatabase(t)
	cfg := transport.DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.DatabaseURL = db
	cfg.NodeID = 1
	cfg.DrainTimeout = 5 * time.Second
	cfg.WebhookAllowPrivate = true // the outgoing scenario's receiver is on loopback
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("PARLEY_TEST_LOG") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := transport.New(ctx, cfg, logger, prometheus.NewRegistry())
	if err != nil {
		cancel()
		t.Fatalf("start node: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Logf("node stopped: %v", err)
		}
	})
	return "http://" + srv.Addr().String(), db
}

// smoke runs cfg against a fresh node and asserts the checker found nothing wrong. It never
// asserts speed.
func smoke(t *testing.T, cfg Config) *Report {
	t.Helper()
	url, db := startNode(t)
	cfg.URLs = []string{url}
	cfg.DatabaseURL = db
	cfg.Quiet = true
	if cfg.Drain == 0 {
		cfg.Drain = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	began := time.Now()
	rep, err := Run(ctx, cfg)
	if rep != nil {
		t.Log(rep.Summary())
	}
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	ck := rep.Check
	if ck.Failed() || len(rep.Failures) > 0 {
		t.Fatalf("failures: %v; check %+v", rep.Failures, ck)
	}
	if !ck.DBChecked {
		t.Fatal("acknowledged messages were not looked up in PostgreSQL")
	}
	// Acknowledged messages were committed, so the load wrote WAL; a run without sends may not.
	if w := rep.WAL; w == nil || w.Samples < 2 || w.SegmentBytes <= 0 || (rep.Run.AcksPerSec > 0 && w.WrittenBytes <= 0) {
		t.Fatalf("PostgreSQL's WAL was not watched during the load: %+v (warnings %v)", w, rep.Warnings)
	}
	if rep.Setup.Channels > 0 && !rep.Setup.Analyzed {
		t.Fatal("the database was not analyzed after the setup's load (ADR 0010)")
	}
	if rep.Connect.Connected != cfg.Connections {
		t.Fatalf("%d of %d connected", rep.Connect.Connected, cfg.Connections)
	}
	if st := rep.Run.StartedAt; st.Before(began) || st.After(time.Now()) {
		t.Fatalf("run.startedAt %v is not within the run (began %v)", st, began)
	}
	return rep
}

func TestFanoutSmoke(t *testing.T) {
	t.Parallel()
	rep := smoke(t, Config{Scenario: "fanout", Connections: 12, Channels: 3, Senders: 6, Rate: 10,
		Duration: 3 * time.Second, Warmup: 500 * time.Millisecond})
	ck := rep.Check
	if ck.Acked == 0 || ck.Expected != 4*ck.Acked || ck.Deliveries < ck.Expected {
		t.Fatalf("every acknowledged message should reach its channel's 4 subscribers: %+v", ck)
	}
	if rep.Latency.Deliver.Count == 0 || rep.Latency.Receipt.Count == 0 || len(rep.Series) < 3 {
		t.Fatalf("no latency recorded: %+v, %d points", rep.Latency, len(rep.Series))
	}
	if n := rep.Server[0]; n.Before == nil || n.Connected == nil || n.Connections != 12 {
		t.Fatalf("server metrics: %+v", n)
	}
}

func TestFanoutSmokeProcs(t *testing.T) {
	t.Parallel()
	// Four senders that do not subscribe, four receivers, over two processes.
	rep := smoke(t, Config{Scenario: "fanout", Connections: 8, Channels: 1, Senders: 4, Receivers: 4, Rate: 10,
		Duration: 2 * time.Second, Procs: 2,
		Executable: os.Args[0], WorkerArgs: []string{"-test.run=^$"}, WorkerEnv: []string{workerEnv + "=1"}})
	if ck := rep.Check; ck.Acked == 0 || ck.Receivers != 4 || ck.Expected != 4*ck.Acked {
		t.Fatalf("two worker processes: %+v", ck)
	}
}

func TestScenariosSmoke(t *testing.T) {
	t.Parallel()
	cases := map[string]Config{
		"ordering": {Connections: 6, Channels: 2, Rate: 10, Duration: 2 * time.Second},
		"receipts": {Connections: 8, Channels: 2, Senders: 2, Rate: 10, Duration: 2 * time.Second, ReadInterval: 200 * time.Millisecond},
		"users": {Connections: 10, Channels: 4, SubsPerConn: 2, PostInterval: 500 * time.Millisecond, ReadInterval: time.Second,
			RESTInterval: time.Second, ReconnectPerMin: 20, Duration: 3 * time.Second, Warmup: time.Nanosecond},
		"connections": {Connections: 20, Duration: time.Second},
		"outgoing":    {Connections: 4, Channels: 2, Senders: 2, Rate: 10, Duration: 2 * time.Second},
		"soak": {Connections: 10, Channels: 2, Senders: 4, Rate: 10, ReconnectPerMin: 30, Duration: 3 * time.Second,
			Warmup: time.Nanosecond, SampleEvery: 500 * time.Millisecond},
	}
	for name, cfg := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cfg.Scenario = name
			rep := smoke(t, cfg)
			switch name {
			case "ordering":
				o := rep.Ordering
				if o == nil || o.SeqInversions != 0 || o.ChannelsCompared != 2 || o.ChannelsAgreeing != 2 || len(o.Timestamp) != 3 {
					t.Fatalf("ordering: %+v", o)
				}
			case "receipts":
				rc := rep.Receipts
				if rc == nil || rc.Markers == 0 || rc.Behind != 0 || rep.Latency.ReadAck.Count == 0 {
					t.Fatalf("receipts: %+v, read latency %+v", rc, rep.Latency.ReadAck)
				}
			case "users":
				c := rep.Run.Counts
				if c.Reconnects == 0 || c.RESTCalls == 0 || c.ReadMarks == 0 || c.Acks == 0 {
					t.Fatalf("users did not do everything: %+v", c)
				}
			case "outgoing":
				if o := rep.Outgoing; o == nil || o.Acked == 0 || o.Delivered != o.Acked || o.Hooks != 2 || o.P50Ms <= 0 {
					t.Fatalf("outgoing: %+v", o)
				}
			case "soak":
				if rep.Soak == nil || rep.Soak.Nodes[0].Samples < 3 || rep.Run.Counts.Reconnects == 0 {
					t.Fatalf("soak: %+v, %d reconnects", rep.Soak, rep.Run.Counts.Reconnects)
				}
			case "connections":
				if pc := rep.Server[0].PerConnection; pc == nil || !strings.Contains(rep.Summary(), "per connection") {
					t.Fatalf("no memory per connection: %+v", rep.Server)
				}
			}
		})
	}
}
