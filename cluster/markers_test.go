package cluster_test

import (
	"context"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/parley-chat/parley/cluster"
	"github.com/parley-chat/parley/cluster/redistest"
)

// The markers tests run on a single Redis with today's key layout, on a single Redis with
// the partitioned layout, and on a Redis Cluster (ADR 0043), where SetMax's two keys
// answer CROSSSLOT unless they share a hash tag.
func TestMarkers(t *testing.T) {
	t.Parallel()
	engines := map[string]func(t *testing.T) *cluster.Markers{
		"single": func(t *testing.T) *cluster.Markers {
			rdb, prefix := redistest.Client(t)
			return mustMarkers(t, rdb, cluster.MarkersConfig{KeyPrefix: prefix + "read:", ParkedKey: prefix + "parked"})
		},
		"single-partitioned": func(t *testing.T) *cluster.Markers {
			rdb, prefix := redistest.Client(t)
			return mustMarkers(t, rdb, cluster.MarkersConfig{KeyPrefix: prefix + "read:", ParkedKey: prefix + "parked", Partitions: 4})
		},
		"cluster": func(t *testing.T) *cluster.Markers {
			rdb, prefix := redistest.SharedCluster(t).Client(t)
			return mustMarkers(t, rdb, cluster.MarkersConfig{KeyPrefix: prefix + "read:", ParkedKey: prefix + "parked"})
		},
	}
	tests := map[string]func(t *testing.T, m *cluster.Markers){
		"SetMaxNeverMovesBack":     testMarkersSetMaxNeverMovesBack,
		"ConcurrentWritersKeepMax": testMarkersConcurrentWritersKeepMax,
		"GetManyAndForUsers":       testMarkersGetManyAndForUsers,
		"Parking":                  testMarkersParking,
		"SetMaxParks":              testMarkersSetMaxParks,
		"Threads":                  testMarkersThreads,
	}
	for engine, newM := range engines {
		for name, f := range tests {
			t.Run(engine+"/"+name, func(t *testing.T) {
				t.Parallel()
				f(t, newM(t))
			})
		}
	}
}

func mustMarkers(t *testing.T, rdb redis.UniversalClient, cfg cluster.MarkersConfig) *cluster.Markers {
	t.Helper()
	m, err := cluster.NewMarkers(rdb, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func testMarkersSetMaxNeverMovesBack(t *testing.T, m *cluster.Markers) {
	ctx := context.Background()
	steps := []struct {
		seq      int64
		want     int64
		advanced bool
	}{
		{5, 5, true}, {3, 5, false}, {5, 5, false}, {10, 10, true}, {9, 10, false},
		// 2^53+1 is not representable as a double: a Lua-number compare would call it equal.
		{1<<53 + 1, 1<<53 + 1, true}, {1 << 53, 1<<53 + 1, false}, {1<<53 + 2, 1<<53 + 2, true},
		{math.MaxInt64, math.MaxInt64, true},
	}
	for _, s := range steps {
		v, adv, err := m.SetMax(ctx, 1, 2, s.seq)
		if err != nil {
			t.Fatal(err)
		}
		if v != s.want || adv != s.advanced {
			t.Fatalf("SetMax(%d) = %d, %v; want %d, %v", s.seq, v, adv, s.want, s.advanced)
		}
	}
	if _, _, err := m.SetMax(ctx, 1, 2, -1); err == nil {
		t.Fatal("negative seq accepted")
	}
	if v, _ := m.Get(ctx, 1, 2); v != math.MaxInt64 {
		t.Fatalf("Get = %d", v)
	}
}

func testMarkersConcurrentWritersKeepMax(t *testing.T, m *cluster.Markers) {
	ctx := context.Background()
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 200 {
				// Writers interleave ascending and descending runs.
				seq := int64(i)
				if w%2 == 1 {
					seq = int64(199 - i)
				}
				if _, _, err := m.SetMax(ctx, 7, 9, seq); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if v, _ := m.Get(ctx, 7, 9); v != 199 {
		t.Fatalf("marker = %d, want 199", v)
	}
}

func testMarkersGetManyAndForUsers(t *testing.T, m *cluster.Markers) {
	ctx := context.Background()
	for _, s := range [][3]int64{{1, 10, 3}, {1, 11, 4}, {2, 10, 8}} {
		if _, _, err := m.SetMax(ctx, s[0], s[1], s[2]); err != nil {
			t.Fatal(err)
		}
	}
	got, err := m.GetMany(ctx, 1, []int64{11, 12, 10})
	if err != nil {
		t.Fatal(err)
	}
	if got[0] != 4 || got[1] != 0 || got[2] != 3 {
		t.Fatalf("GetMany = %v", got)
	}
	if got, _ := m.GetMany(ctx, 1, nil); len(got) != 0 {
		t.Fatalf("GetMany(nil) = %v", got)
	}
	got, err = m.GetForUsers(ctx, 10, []int64{2, 3, 1})
	if err != nil {
		t.Fatal(err)
	}
	if got[0] != 8 || got[1] != 0 || got[2] != 3 {
		t.Fatalf("GetForUsers = %v", got)
	}
	if v, err := m.Get(ctx, 99, 99); err != nil || v != 0 {
		t.Fatalf("Get(missing) = %d, %v", v, err)
	}
}

func testMarkersParking(t *testing.T, m *cluster.Markers) {
	ctx := context.Background()
	at := time.UnixMilli(1_700_000_000_123)
	var batch []cluster.ReadMarker
	for u := range int64(1200) { // more than one script chunk
		batch = append(batch, cluster.ReadMarker{UserID: u, ChannelID: 5, Seq: 10, ReadAt: at})
	}
	n, err := m.ParkReceipts(ctx, batch)
	if err != nil || n != 1200 {
		t.Fatalf("park = %d, %v", n, err)
	}
	// Parking max-merges: an older value does not replace a newer one.
	if _, err := m.ParkReceipts(ctx, []cluster.ReadMarker{{UserID: 0, ChannelID: 5, Seq: 4, ReadAt: at}, {UserID: 1, ChannelID: 5, Seq: 12, ReadAt: at}}); err != nil {
		t.Fatal(err)
	}
	seen := map[int64]int64{}
	var cursor uint64
	for {
		page, next, err := m.ParkedReceipts(ctx, cursor, 300)
		if err != nil {
			t.Fatal(err)
		}
		for _, mk := range page {
			if mk.ChannelID != 5 || !mk.ReadAt.Equal(at) {
				t.Fatalf("parked %+v", mk)
			}
			seen[mk.UserID] = mk.Seq
		}
		if cursor = next; cursor == 0 {
			break
		}
	}
	if len(seen) != 1200 || seen[0] != 10 || seen[1] != 12 {
		t.Fatalf("parked %d entries, u0=%d u1=%d", len(seen), seen[0], seen[1])
	}
	// Unparking compares: a key parked again with a newer seq stays.
	if err := m.UnparkReceipts(ctx, batch); err != nil {
		t.Fatal(err)
	}
	page := scanParked(t, m)
	if len(page) != 1 || page[0].UserID != 1 || page[0].Seq != 12 {
		t.Fatalf("after unpark: %+v", page)
	}
	if n, _ := m.ParkedCount(ctx); n != 1 {
		t.Fatalf("ParkedCount = %d", n)
	}
}

// SetMax parks every marker it advances in the same script (write-ahead parking), stamped
// with the time of the call; unparking what Kafka acknowledged never drops a newer value,
// in whatever order SetMax and UnparkReceipts run.
func testMarkersSetMaxParks(t *testing.T, m *cluster.Markers) {
	ctx := context.Background()
	parked := func() map[[2]int64]cluster.ReadMarker {
		t.Helper()
		page := scanParked(t, m)
		out := map[[2]int64]cluster.ReadMarker{}
		for _, mk := range page {
			out[[2]int64{mk.UserID, mk.ChannelID}] = mk
		}
		return out
	}
	before := time.Now().Add(-time.Second)
	for _, s := range [][3]int64{{1, 10, 5}, {1, 10, 3}, {2, 10, 1<<53 + 1}, {1, 11, 0}} {
		if _, _, err := m.SetMax(ctx, s[0], s[1], s[2]); err != nil {
			t.Fatal(err)
		}
	}
	p := parked()
	if len(p) != 3 || p[[2]int64{1, 10}].Seq != 5 || p[[2]int64{2, 10}].Seq != 1<<53+1 || p[[2]int64{1, 11}].Seq != 0 {
		t.Fatalf("parked after SetMax: %+v", p)
	}
	if at := p[[2]int64{1, 10}].ReadAt; at.Before(before) || at.After(time.Now().Add(time.Second)) {
		t.Fatalf("parked at %s, want about now", at)
	}

	// Kafka acknowledged 5 for (1,10) while SetMax took 7: 7 stays parked.
	if _, _, err := m.SetMax(ctx, 1, 10, 7); err != nil {
		t.Fatal(err)
	}
	if err := m.UnparkReceipts(ctx, []cluster.ReadMarker{{UserID: 1, ChannelID: 10, Seq: 5}, {UserID: 2, ChannelID: 10, Seq: 1 << 53}}); err != nil {
		t.Fatal(err)
	}
	p = parked()
	if p[[2]int64{1, 10}].Seq != 7 || p[[2]int64{2, 10}].Seq != 1<<53+1 {
		t.Fatalf("unpark of older acknowledged values dropped newer ones: %+v", p)
	}
	// The acknowledged values reach what is parked: those entries go.
	if err := m.UnparkReceipts(ctx, []cluster.ReadMarker{{UserID: 1, ChannelID: 10, Seq: 7}, {UserID: 2, ChannelID: 10, Seq: 1<<53 + 1}, {UserID: 1, ChannelID: 11, Seq: 0}}); err != nil {
		t.Fatal(err)
	}
	if n, _ := m.ParkedCount(ctx); n != 0 {
		t.Fatalf("ParkedCount = %d after unparking everything", n)
	}
	// A marker that does not advance is not parked again.
	if _, adv, _ := m.SetMax(ctx, 1, 10, 6); adv {
		t.Fatal("SetMax below the marker advanced it")
	}
	if n, _ := m.ParkedCount(ctx); n != 0 {
		t.Fatalf("ParkedCount = %d after a SetMax that did not advance", n)
	}
	// The parked hash outlives the cache: after the user's marker expired, a SetMax with a
	// lower seq advances the cache but cannot lower what is parked.
	if _, err := m.ParkReceipts(ctx, []cluster.ReadMarker{{UserID: 3, ChannelID: 10, Seq: 9, ReadAt: before}}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := m.SetMax(ctx, 3, 10, 4); err != nil {
		t.Fatal(err)
	}
	if mk := parked()[[2]int64{3, 10}]; mk.Seq != 9 || !mk.ReadAt.Equal(before.Truncate(time.Millisecond)) {
		t.Fatalf("parked (3,10) = %+v, want seq 9 as parked", mk)
	}
}

// scanParked reads every parked marker, page after page (a partitioned hash has one or
// more pages per partition).
func scanParked(t *testing.T, m *cluster.Markers) []cluster.ReadMarker {
	t.Helper()
	var out []cluster.ReadMarker
	var cursor uint64
	for range 10000 {
		page, next, err := m.ParkedReceipts(context.Background(), cursor, 1000)
		if err != nil {
			t.Fatalf("scan parked: %v", err)
		}
		out = append(out, page...)
		if cursor = next; cursor == 0 {
			return out
		}
	}
	t.Fatal("scan parked: no end")
	return nil
}
