package main

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/parley-chat/parley/transport"
)

// Issue 21: `--heartbeat 10` said only "parse error"; every duration flag now says a unit
// is missing, from the command line and from the environment alike.
func TestDurationFlagWithoutUnitSaysSo(t *testing.T) {
	for _, c := range []struct {
		args []string
		env  string
		want []string
	}{
		{args: []string{"--heartbeat", "10"}, want: []string{`"10" has no unit`, "10s"}},
		{env: "10", want: []string{"$PARLEY_TEST_HEARTBEAT", `"10" has no unit`, "10s"}},
		{args: []string{"--heartbeat", "soon"}, want: []string{`"soon"`, "with a unit"}},
	} {
		t.Run(strings.Join(c.args, " ")+c.env, func(t *testing.T) {
			var d time.Duration
			f := newEnvFlags("test", "")
			var out bytes.Buffer
			f.SetOutput(&out)
			f.duration(&d, "heartbeat", "PARLEY_TEST_HEARTBEAT", 10*time.Second, "interval")
			if c.env != "" {
				t.Setenv("PARLEY_TEST_HEARTBEAT", c.env)
			}
			err := f.parse(c.args)
			if err == nil {
				t.Fatalf("%v %q: accepted", c.args, c.env)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%v %q: error %q lacks %q", c.args, c.env, err, w)
				}
			}
		})
	}

	var d time.Duration
	f := newEnvFlags("test", "")
	var out bytes.Buffer
	f.SetOutput(&out)
	f.duration(&d, "heartbeat", "PARLEY_TEST_HEARTBEAT", 10*time.Second, "interval")
	if err := f.parse([]string{"--heartbeat", "1m30s"}); err != nil || d != 90*time.Second {
		t.Fatalf("1m30s: %v %v", d, err)
	}
	f.Usage()
	if !strings.Contains(out.String(), "--heartbeat duration") || !strings.Contains(out.String(), "(default 10s)") {
		t.Errorf("help does not name the type and default:\n%s", out.String())
	}
}

// The commit coalescer (ADR 0046) is on unless turned off, by flag or environment.
func TestServeCommitCoalesceDefault(t *testing.T) {
	for _, c := range []struct {
		args []string
		env  string
		want bool
	}{
		{want: true},
		{args: []string{"--commit-coalesce=false"}, want: false},
		{env: "false", want: false},
	} {
		cfg := transport.DefaultConfig()
		var gc gcOptions
		f := serveFlags(&cfg, &gc, &logOptions{})
		if c.env != "" {
			t.Setenv("PARLEY_COMMIT_COALESCE", c.env)
		}
		if err := f.parse(c.args); err != nil {
			t.Fatalf("%v %q: %v", c.args, c.env, err)
		}
		if cfg.Realtime.Coalesce.On != c.want {
			t.Errorf("%v PARLEY_COMMIT_COALESCE=%q: coalescer on %v, want %v", c.args, c.env, cfg.Realtime.Coalesce.On, c.want)
		}
	}
}

// The send lane (ADR 0051) is on by default with 4 connections; --db-send-conns 0 turns it
// off and a negative size is refused.
func TestServeSendLaneFlag(t *testing.T) {
	for _, c := range []struct {
		args []string
		want int
	}{
		{want: 4},
		{args: []string{"--db-send-conns", "0"}, want: 0},
		{args: []string{"--db-send-conns", "6"}, want: 6},
	} {
		cfg := transport.DefaultConfig()
		var gc gcOptions
		if err := serveFlags(&cfg, &gc, &logOptions{}).parse(c.args); err != nil {
			t.Fatalf("%v: %v", c.args, err)
		}
		if cfg.DatabaseSendConns != c.want {
			t.Errorf("%v: send lane %d, want %d", c.args, cfg.DatabaseSendConns, c.want)
		}
	}
	cfg := transport.DefaultConfig()
	cfg.DatabaseSendConns = -1
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "db-send-conns") {
		t.Fatalf("negative send lane: %v", err)
	}
}

// --node-env takes KEY=VALUE, repeatable, and refuses anything else.
func TestBenchNodeEnvFlag(t *testing.T) {
	var e envList
	for _, v := range []string{"PARLEY_DB_SEND_CONNS=0", "PARLEY_X=a=b"} {
		if err := e.Set(v); err != nil {
			t.Fatalf("%q: %v", v, err)
		}
	}
	if len(e) != 2 || e[1] != "PARLEY_X=a=b" {
		t.Fatalf("got %q", e)
	}
	for _, v := range []string{"PARLEY_DB_SEND_CONNS", "=1", "A B=1"} {
		if err := e.Set(v); err == nil {
			t.Errorf("%q accepted", v)
		}
	}
}

// The collector's floor: 64 MiB idle rising to 256 MiB under load by default (ADR 0052),
// both settable, and a size out of range refused before anything starts.
func TestServeGCFlags(t *testing.T) {
	cfg := transport.DefaultConfig()
	var gc gcOptions
	if err := serveFlags(&cfg, &gc, &logOptions{}).parse(nil); err != nil {
		t.Fatal(err)
	}
	if gc != (gcOptions{minHeapMiB: 64, loadHeapMiB: 256}) {
		t.Fatalf("defaults %+v, want 64 and 256 MiB", gc)
	}
	t.Setenv("PARLEY_GC_LOAD_HEAP", "64")
	if err := serveFlags(&cfg, &gc, &logOptions{}).parse([]string{"--gc-min-heap", "32"}); err != nil {
		t.Fatal(err)
	}
	if gc != (gcOptions{minHeapMiB: 32, loadHeapMiB: 64}) {
		t.Fatalf("set %+v, want 32 and 64 MiB", gc)
	}
	for _, bad := range []gcOptions{{minHeapMiB: -1}, {minHeapMiB: 64, loadHeapMiB: -5}, {minHeapMiB: 64, loadHeapMiB: 1<<20 + 1}} {
		if f, err := bad.start(slog.New(slog.DiscardHandler), prometheus.NewRegistry()); err == nil || f != nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}
