package main

import (
	"context"
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

// TestMain lets the test binary be the attacker's process too, as the command is.
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		if err := childMain(os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "attacker process:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestSmokeEveryAttackOnce runs one short pair of every attack against a real node (in
// process here, to keep it fast; the command runs it as a child process) and checks that
// each produced its figures and the probe measured both rounds. It asserts what the
// harness counted, never what the node did: the same test holds before and after the
// attacks are fixed.
func TestSmokeEveryAttackOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a node")
	}
	tg := startTestNode(t)
	o := defaultOptions()
	o.pairs, o.round, o.settle = 1, 500*time.Millisecond, 100*time.Millisecond
	o.attackerAddr = "127.0.0.2"
	o.sockets, o.idleChecks = 30, []time.Duration{300 * time.Millisecond}
	o.slowConns, o.slowHold = 5, 500*time.Millisecond
	o.seed, o.workers = 300, 2
	o.attacks = "all"
	rep := &report{}
	if err := measure(context.Background(), tg, o, rep, io.Discard); err != nil {
		t.Fatal(err)
	}
	if len(rep.Attacks) != len(attacks()) {
		t.Fatalf("%d attacks reported, want %d", len(rep.Attacks), len(attacks()))
	}
	for _, a := range rep.Attacks {
		if a.Skipped != "" || len(a.Rounds) != 1 {
			t.Errorf("%s: skipped %q, %d rounds", a.Name, a.Skipped, len(a.Rounds))
			continue
		}
		r := a.Rounds[0]
		if r.Baseline.Sent == 0 || r.Attacked.Sent == 0 {
			t.Errorf("%s: probe sent %d unloaded, %d attacked", a.Name, r.Baseline.Sent, r.Attacked.Sent)
		}
		figs := map[string]float64{}
		for _, f := range r.Outcome {
			figs[f.Name] = f.Value
		}
		switch a.Name {
		case "idle-sockets":
			// Every socket was upgraded, refused with a status, or failed to dial.
			total := figs["upgraded"] + figs["dial errors"]
			for k, v := range figs {
				if strings.HasPrefix(k, "upgrade ") {
					total += v
				}
			}
			if total != float64(o.sockets) {
				t.Errorf("idle-sockets: %v account for %v sockets, want %d", figs, total, o.sockets)
			}
			if _, ok := figs["open after 300ms"]; !ok {
				t.Errorf("idle-sockets: no count at the check: %v", figs)
			}
		case "slow-body":
			if v, ok := figs["open at 500ms"]; !ok || v > float64(o.slowConns) {
				t.Errorf("slow-body: %v", figs)
			}
		case "replay-loop", "resend-loop":
			if _, ok := figs["frames/s"]; !ok {
				t.Errorf("%s: %v", a.Name, figs)
			}
		default: // the floods: some answers, whatever their status
			var answers float64
			for k, v := range figs {
				if strings.HasSuffix(k, "/s") && !strings.HasPrefix(k, "transport") {
					answers += v
				}
			}
			if answers == 0 {
				t.Errorf("%s: no answers: %v", a.Name, figs)
			}
		}
	}
}

// startTestNode runs a node in this process (dev mode, its own database, embedded Redis and
// Kafka) until the test ends.
func startTestNode(t *testing.T) *target {
	t.Helper()
	cfg := transport.DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.NodeID = 1
	cfg.DatabaseURL = pgtest.NewDatabase(t)
	cfg.DevMode = transport.DevOn
	cfg.JWTSecret = "attacks-smoke-secret-attacks-smoke-secret"
	cfg.DrainTimeout = 5 * time.Second
	ctx := context.Background()
	srv, err := transport.New(ctx, cfg, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		<-done
	})
	addr := srv.Addr().String()
	return &target{base: "http://" + addr, ws: "ws://" + addr + "/ws", secret: cfg.JWTSecret, dbURL: cfg.DatabaseURL, devLogin: true}
}

// TestSmokeAttackerInProcess runs one flood with -attacker-proc=false.
func TestSmokeAttackerInProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a node")
	}
	tg := startTestNode(t)
	o := defaultOptions()
	o.pairs, o.round, o.settle, o.seed, o.workers = 1, 300*time.Millisecond, 100*time.Millisecond, 0, 2
	o.attackerProc, o.attacks = false, "search"
	rep := &report{}
	if err := measure(context.Background(), tg, o, rep, io.Discard); err != nil {
		t.Fatal(err)
	}
	if len(rep.Attacks) != 1 || len(rep.Attacks[0].Rounds) != 1 || len(rep.Attacks[0].Rounds[0].Outcome) == 0 {
		t.Fatalf("report: %+v", rep.Attacks)
	}
}
