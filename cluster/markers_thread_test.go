package cluster_test

import (
	"context"
	"maps"
	"testing"

	"github.com/parley-chat/parley/cluster"
)

// A thread marker (ADR 0040) is a marker of its own beside the channel's: its own max-merge,
// its own parked entry (user:channel:root) that round-trips through ParkedReceipts, read back
// by ReadMarkers with ThreadID and listed by ThreadMarkers.
func TestMarkersThreads(t *testing.T) {
	t.Parallel()
	m := newMarkers(t)
	ctx := context.Background()
	if _, _, err := m.SetMax(ctx, 1, 10, 50); err != nil {
		t.Fatal(err)
	}
	for _, s := range []struct {
		seq, want int64
		adv       bool
	}{{7, 7, true}, {3, 7, false}, {40, 40, true}} {
		v, adv, err := m.SetMaxThread(ctx, 1, 10, 777, s.seq)
		if err != nil || v != s.want || adv != s.adv {
			t.Fatalf("SetMaxThread(%d) = %d, %v, %v; want %d, %v", s.seq, v, adv, err, s.want, s.adv)
		}
	}
	if _, _, err := m.SetMaxThread(ctx, 1, 10, 888, 12); err != nil {
		t.Fatal(err)
	}
	got, err := m.ReadMarkers(ctx, []cluster.ReadMarker{{UserID: 1, ChannelID: 10}, {UserID: 1, ChannelID: 10, ThreadID: 777}, {UserID: 1, ChannelID: 10, ThreadID: 999}})
	if err != nil || got[0] != 50 || got[1] != 40 || got[2] != 0 {
		t.Fatalf("ReadMarkers: %v %v", got, err)
	}
	threads, err := m.ThreadMarkers(ctx, 1)
	if err != nil || !maps.Equal(threads, map[int64]int64{777: 40, 888: 12}) {
		t.Fatalf("ThreadMarkers: %v %v", threads, err)
	}
	parked, _, err := m.ParkedReceipts(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	byKey := map[[3]int64]int64{}
	for _, p := range parked {
		byKey[[3]int64{p.UserID, p.ChannelID, p.ThreadID}] = p.Seq
	}
	if !maps.Equal(byKey, map[[3]int64]int64{{1, 10, 0}: 50, {1, 10, 777}: 40, {1, 10, 888}: 12}) {
		t.Fatalf("parked %v", byKey)
	}
	// Unparking the thread's marker leaves the channel's.
	if err := m.UnparkReceipts(ctx, []cluster.ReadMarker{{UserID: 1, ChannelID: 10, ThreadID: 777, Seq: 40}}); err != nil {
		t.Fatal(err)
	}
	if n, _ := m.ParkedCount(ctx); n != 2 {
		t.Fatalf("%d parked after unparking the thread marker, want 2", n)
	}
}
