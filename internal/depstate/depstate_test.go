package depstate

import (
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/parley-chat/parley/internal/logtest"
)

// An outage of 95 s with a failure reported every 200 ms (the consumers' retry pace) logs
// one down line, three reminders (30, 60, 90 s) and one back line.
func TestTrackerLogsTransitionsAndRateLimitedReminders(t *testing.T) {
	var h logtest.Recorder
	now := time.Unix(1_000_000, 0)
	reg := prometheus.NewRegistry()
	tr, err := New(Config{Name: "kafka", Now: func() time.Time { return now }}, slog.New(&h), reg)
	if err != nil {
		t.Fatal(err)
	}
	tr.OK()
	if n := len(h.Messages()); n != 0 {
		t.Fatalf("%d lines while up", n)
	}
	for i := 0; i < 95*5; i++ {
		tr.Fail(errors.New("dial tcp: connection refused"))
		now = now.Add(200 * time.Millisecond)
	}
	if tr.Up() {
		t.Fatal("up during the outage")
	}
	tr.OK()
	tr.OK()
	want := []string{"dependency down", "dependency still down", "dependency still down", "dependency still down", "dependency back"}
	got := h.Messages()
	if len(got) != len(want) {
		t.Fatalf("lines %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("lines %q, want %q", got, want)
		}
	}
	if !tr.Up() {
		t.Fatal("still down after OK")
	}
}

func TestTrackerGauge(t *testing.T) {
	reg := prometheus.NewRegistry()
	tr, err := New(Config{Name: "redis"}, slog.New(slog.DiscardHandler), reg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{Name: "kafka"}, slog.New(slog.DiscardHandler), reg); err != nil {
		t.Fatalf("a second dependency on the same registry: %v", err)
	}
	tr.Fail(errors.New("down"))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			got[m.GetLabel()[0].GetValue()] = m.GetGauge().GetValue()
		}
	}
	if len(mfs) != 1 || mfs[0].GetName() != "parley_dependency_up" || got["redis"] != 0 || got["kafka"] != 1 {
		t.Fatalf("gathered %v", got)
	}
	var nilTracker *Tracker
	nilTracker.Fail(errors.New("ignored"))
	nilTracker.OK()
	if !nilTracker.Up() {
		t.Fatal("a nil tracker is down")
	}
}
