package bench

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// tinyCompareConfig is a fanout of 2 senders at 10 msg/s over 2 channels, 2 receivers each.
func tinyCompareConfig(t *testing.T) Config {
	t.Helper()
	c, _, err := Config{Scenario: "fanout", Connections: 6, Channels: 2, Senders: 2, Receivers: 4, Rate: 10,
		Duration: 2 * time.Second, Warmup: 500 * time.Millisecond, Drain: 5 * time.Second,
		DatabaseURL: "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestPeerRoundCentrifugo runs the workload against a Centrifugo the harness starts: every
// acknowledged publication must reach each receiver of its channel exactly once.
func TestPeerRoundCentrifugo(t *testing.T) {
	bin, err := FindCentrifugo("")
	if errors.Is(err, ErrNoCentrifugo) {
		t.Skip("centrifugo is not installed; " + CentrifugoInstall)
	}
	if err != nil {
		t.Fatal(err)
	}
	cfg := tinyCompareConfig(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p, err := runPeerRound(ctx, &cfg, bin)
	if err != nil {
		t.Fatal(err)
	}
	if p.Connected != cfg.Connections || p.Failed != 0 {
		t.Fatalf("connected %d, failed %d (%v), want %d", p.Connected, p.Failed, p.Errors, cfg.Connections)
	}
	// 2 senders × 10/s × 2.5 s, less a phase: each sender's first tick is within 100 ms.
	if p.Acks < 40 || p.SendErrors != 0 {
		t.Fatalf("acks %d, send errors %d (%v)", p.Acks, p.SendErrors, p.Errors)
	}
	// Each channel has 2 receivers (clients 2..5, channels i mod 2).
	if want := 2 * p.Acks; p.Deliveries != want || p.Lost != 0 || p.Duplicated != 0 || p.Dropped != 0 {
		t.Fatalf("deliveries %d (lost %d, dup %d), want %d", p.Deliveries, p.Lost, p.Duplicated, want)
	}
	if p.Deliver.Count == 0 || p.Deliver.P50 <= 0 || p.RSSConnected <= 0 || p.ServerCPU < 0 {
		t.Fatalf("figures missing: %+v", p)
	}
}

// TestFloorRound runs the append statement at the workload's rate on a fresh database.
func TestFloorRound(t *testing.T) {
	cfg := tinyCompareConfig(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	f, err := openFloor(ctx, cfg.DatabaseURL, cfg.Channels, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer f.close()
	r, err := f.run(ctx, &cfg)
	if err != nil {
		t.Fatal(err)
	}
	if r.Errors != 0 || r.Skipped != 0 {
		t.Fatalf("errors %d (%s), skipped %d", r.Errors, r.FirstError, r.Skipped)
	}
	// 2 senders × 10/s over the 2 s window: 40, give or take one tick per sender.
	if r.Commits < 38 || r.Commits > 42 || r.Commit.Count != r.Commits {
		t.Fatalf("commits %d (histogram %d), want ~40", r.Commits, r.Commit.Count)
	}
	// The timer's lateness is reported on its own, one sample per counted tick.
	if r.TimerLag.Count != r.Commits {
		t.Fatalf("timer lag samples %d, want one per counted commit (%d)", r.TimerLag.Count, r.Commits)
	}
	// The statements wrote what the node's append writes: gapless seqs per channel.
	var rows, maxSeq, channels int64
	err = f.pool.QueryRow(ctx, `SELECT count(*), max(seq), count(DISTINCT channel_id) FROM messages`).Scan(&rows, &maxSeq, &channels)
	if err != nil {
		t.Fatal(err)
	}
	var lastSeqs int64
	if err := f.pool.QueryRow(ctx, `SELECT sum(last_seq) FROM channels`).Scan(&lastSeqs); err != nil {
		t.Fatal(err)
	}
	if rows < r.Commits || lastSeqs != rows || channels != 2 {
		t.Fatalf("messages %d (channels %d), sum of last_seq %d, commits counted %d", rows, channels, lastSeqs, r.Commits)
	}
}

// TestCompareJudgesAnEmptyPeer: a peer round that delivered nothing fails the comparison.
func TestCompareJudgesAnEmptyPeer(t *testing.T) {
	c := &Comparison{Config: ConfigSummary{Senders: 2, Receivers: 4}, Rounds: []CompareRound{
		{Peer: &PeerRound{Connected: 6, Sends: 40, Acks: 40}},
	}}
	c.judge()
	if len(c.Failures) != 1 || !strings.Contains(c.Failures[0], "nothing delivered") {
		t.Fatalf("failures %q", c.Failures)
	}
	ok := &Comparison{Config: ConfigSummary{Senders: 2, Receivers: 4}, Rounds: []CompareRound{
		{Peer: &PeerRound{Connected: 6, Sends: 40, Acks: 40, Deliveries: 80}, Floor: &FloorRound{Commits: 40}},
	}}
	ok.judge()
	if len(ok.Failures) != 0 {
		t.Fatalf("failures %q", ok.Failures)
	}
}

func TestBitsetMissing(t *testing.T) {
	var want, have bitset
	for _, n := range []int64{1, 2, 63, 64, 200} {
		want.set(n)
	}
	have.set(2)
	have.set(64)
	if dup := have.set(64); !dup {
		t.Fatal("second set of 64 not reported")
	}
	if m := have.missing(want); m != 3 {
		t.Fatalf("missing %d, want 3", m)
	}
}
