package logtest

import (
	"log/slog"
	"slices"
	"sync"
	"testing"
)

func TestRecorder(t *testing.T) {
	var r Recorder
	log := slog.New(&r)
	log.Debug("one")
	db := log.With("dependency", "db")
	db.Warn("down")
	db.With("attempt", 2).WithGroup("g").Error("down", "err", "refused")
	log.Info("down", "dependency", "redis")

	if got, want := r.Messages(), []string{"one", "down", "down", "down"}; !slices.Equal(got, want) {
		t.Errorf("Messages() = %q, want %q", got, want)
	}
	if got, want := r.Warnings(), []string{"down", "down"}; !slices.Equal(got, want) {
		t.Errorf("Warnings() = %q, want %q", got, want)
	}
	if n := r.Count("down"); n != 3 {
		t.Errorf(`Count("down") = %d, want 3`, n)
	}
	if n := r.Count("missing"); n != 0 {
		t.Errorf(`Count("missing") = %d, want 0`, n)
	}
	if n := r.CountAttr("down", "dependency", "db"); n != 2 {
		t.Errorf(`CountAttr("down", "dependency", "db") = %d, want 2`, n)
	}
	if n := r.CountAttr("down", "dependency", "redis"); n != 1 {
		t.Errorf(`CountAttr("down", "dependency", "redis") = %d, want 1`, n)
	}
	if n := r.CountAttr("down", "attempt", "2"); n != 1 {
		t.Errorf(`CountAttr("down", "attempt", "2") = %d, want 1`, n)
	}
	if n := r.CountAttr("one", "dependency", "db"); n != 0 {
		t.Errorf(`CountAttr("one", "dependency", "db") = %d, want 0`, n)
	}
	if got := r.Records()[0].Level; got != slog.LevelDebug {
		t.Errorf("first record at %s, want DEBUG", got)
	}
}

// Loggers on other goroutines share the recorder; run with -race.
func TestRecorderConcurrent(t *testing.T) {
	var r Recorder
	log := slog.New(&r).With("k", "v")
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				log.Info("line")
			}
		})
	}
	wg.Wait()
	if n := r.CountAttr("line", "k", "v"); n != 800 {
		t.Fatalf("%d lines, want 800", n)
	}
}
