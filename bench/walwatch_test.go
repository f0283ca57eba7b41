package bench

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/parley-chat/parley/persistence/pgtest"
)

func TestWALCreatedCountsSegmentsPastTheLastOneOnDisk(t *testing.T) {
	for _, tc := range []struct {
		name    string
		samples []walSample
		want    int64
	}{
		{"no samples", nil, 0},
		{"one sample", []walSample{{seg: 10, ready: 0}}, 0},
		{"segments were ready", []walSample{{seg: 10, ready: 5}, {seg: 13, ready: 2}, {seg: 15, ready: 0}}, 0},
		{"none ready", []walSample{{seg: 10}, {seg: 11}, {seg: 13}}, 3},
		{"ran past the ready ones", []walSample{{seg: 10, ready: 2}, {seg: 15, ready: 0}}, 3},
		// A checkpoint recycled old segments ahead of the insert position meanwhile.
		{"recycled ahead", []walSample{{seg: 10, ready: 1}, {seg: 11, ready: 20}, {seg: 25, ready: 6}}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := walCreated(tc.samples); got != tc.want {
				t.Fatalf("walCreated = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestWALWarningOnlyWhenCommitsZeroFilled(t *testing.T) {
	r := &WALReport{InitZero: "on", SegmentBytes: 16 << 20, Created: 12, ReadyAtStart: 3}
	if w := walWarning(r); !strings.Contains(w, "during the load: ~12,") || !strings.Contains(w, "16 MB") {
		t.Fatalf("warning %q", w)
	}
	for _, quiet := range []*WALReport{nil, {InitZero: "off", Created: 12}, {InitZero: "on", Created: 0}} {
		if w := walWarning(quiet); w != "" {
			t.Fatalf("%+v: unexpected warning %q", quiet, w)
		}
	}
}

// TestWALWatchSeesTheLoadsWAL watches the real server while a segment switch moves its
// insert position on.
func TestWALWatchSeesTheLoadsWAL(t *testing.T) {
	db := pgtest.NewDatabase(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	w := startWALWatch(ctx, db, 20*time.Millisecond)
	waitSamples := func(n int) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); w.sampled() < n; {
			if time.Now().After(deadline) {
				t.Fatalf("the watcher took %d samples in 10 s, want %d", w.sampled(), n)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	if n := w.sampled(); n != 1 {
		t.Fatalf("%d samples when startWALWatch returned, want the first one", n)
	}
	conn, err := pgx.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	for _, q := range []string{"CREATE TABLE load (x int)", "INSERT INTO load SELECT generate_series(1, 1000)", "SELECT pg_switch_wal()"} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	waitSamples(2) // one on the ticker after the switch; finish takes another
	rep, err := w.finish()
	if err != nil {
		t.Fatal(err)
	}
	if rep.SegmentBytes <= 0 || rep.Samples < 2 || rep.InitZero == "" || rep.MinWALSize == "" {
		t.Fatalf("report %+v", rep)
	}
	if rep.WrittenBytes <= 0 {
		t.Fatalf("no WAL written during the watch: %+v", rep)
	}
}
