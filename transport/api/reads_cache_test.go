package api_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/parley-chat/parley/cluster"
	"github.com/parley-chat/parley/cluster/redistest"
	"github.com/parley-chat/parley/persistence"
	"github.com/parley-chat/parley/transport/api"
)

// cacheOnly records read markers in the cache alone, as the receipt pipeline does until
// Kafka brings them to PostgreSQL: here PostgreSQL lags for as long as the test wants.
type cacheOnly struct{ m *cluster.Markers }

func (c cacheOnly) MarkRead(ctx context.Context, userID, channelID, seq int64) (int64, error) {
	v, _, err := c.m.SetMax(ctx, userID, channelID, seq)
	return v, err
}

func (c cacheOnly) MarkThreadRead(ctx context.Context, userID, channelID, rootID, seq int64) (int64, error) {
	v, _, err := c.m.SetMaxThread(ctx, userID, channelID, rootID, seq)
	return v, err
}

// cachedTeam is a team whose API reads markers through a real cluster.Markers, with five
// messages by alice in general.
func cachedTeam(t *testing.T, m *cluster.Markers, writer api.ReadMarkers) *team {
	t.Helper()
	tm := newTeam(t, harnessOpts{markerCache: m, readMarkers: writer})
	for i := range 5 {
		tm.post(tm.alice, fmt.Sprintf("m%d", i+1))
	}
	return tm
}

func (tm *team) storeMarker(seq int64) {
	tm.h.t.Helper()
	if _, err := tm.h.store.MarkRead(context.Background(), tm.bob.id, tm.gen, seq); err != nil {
		tm.h.t.Fatal(err)
	}
}

// checkBobRead checks that every REST view of bob's read state in general shows marker
// want, and that /api/unreads counts unread more messages in all.
func (tm *team) checkBobRead(want, unread int64) {
	t := tm.h.t
	t.Helper()
	var receipts map[string]int64
	tm.alice.ok("GET", fmt.Sprintf("/api/channels/%d/read-receipts", tm.gen), nil, &receipts)
	if receipts[id(tm.bob.id)] != want {
		t.Errorf("read-receipts: bob at %d, want %d (%v)", receipts[id(tm.bob.id)], want, receipts)
	}
	var list struct{ Items []persistence.ChannelView }
	tm.bob.ok("GET", fmt.Sprintf("/api/workspaces/%d/channels", tm.ws), nil, &list)
	var one persistence.ChannelView
	tm.bob.ok("GET", fmt.Sprintf("/api/channels/%d", tm.gen), nil, &one)
	views := []persistence.ChannelView{one}
	for _, v := range list.Items {
		if v.ID == tm.gen {
			views = append(views, v)
		}
	}
	if len(views) != 2 {
		t.Fatalf("general missing from the channel list %+v", list.Items)
	}
	for _, v := range views {
		if v.LastReadSeq != want || v.UnreadCount != v.LastSeq-want {
			t.Errorf("channel view: lastReadSeq %d unreadCount %d of lastSeq %d, want marker %d", v.LastReadSeq, v.UnreadCount, v.LastSeq, want)
		}
	}
	var p struct {
		Items      []persistence.Message
		TotalCount int64
	}
	for _, sort := range []string{"newest", "channel"} {
		tm.bob.ok("GET", "/api/unreads?sort="+sort, nil, &p)
		if p.TotalCount != unread || int64(len(p.Items)) != unread {
			t.Errorf("unreads (%s): %d items, total %d, want %d", sort, len(p.Items), p.TotalCount, unread)
		}
		for _, m := range p.Items {
			if m.ChannelID == tm.gen && m.Seq <= want {
				t.Errorf("unreads (%s): seq %d is at or below the marker %d", sort, m.Seq, want)
			}
		}
	}
}

func (tm *team) markRead(seq int64) (marker, unread int64) {
	var r struct{ LastReadSeq, UnreadCount int64 }
	tm.bob.ok("PUT", fmt.Sprintf("/api/channels/%d/read", tm.gen), map[string]any{"seq": seq}, &r)
	return r.LastReadSeq, r.UnreadCount
}

func newMarkers(t *testing.T) *cluster.Markers {
	t.Helper()
	rdb, prefix := redistest.Client(t)
	m, err := cluster.NewMarkers(rdb, cluster.MarkersConfig{KeyPrefix: prefix + "read:", ParkedKey: prefix + "parked"})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestReadStateTakesNewerCachedMarker(t *testing.T) {
	t.Parallel()
	m := newMarkers(t)
	tm := cachedTeam(t, m, cacheOnly{m})
	// A second channel with two unread messages and nothing cached: PostgreSQL's marker (0)
	// stands there while general's comes from the cache.
	var second persistence.ChannelView
	tm.alice.ok("POST", fmt.Sprintf("/api/workspaces/%d/channels", tm.ws), map[string]any{"name": "second", "type": "public"}, &second)
	tm.bob.ok("POST", fmt.Sprintf("/api/channels/%d/members", second.ID), map[string]any{"userId": id(tm.bob.id)}, nil)
	for range 2 {
		tm.alice.ok("POST", fmt.Sprintf("/api/channels/%d/messages", second.ID), map[string]any{"content": "x"}, nil)
	}
	tm.storeMarker(2)
	if got, unread := tm.markRead(4); got != 4 || unread != 1 {
		t.Fatalf("PUT read 4: marker %d, %d unread", got, unread)
	}
	if stored := tm.h.count(`SELECT last_read_seq FROM read_receipts WHERE user_id = $1 AND channel_id = $2`, tm.bob.id, tm.gen); stored != 2 {
		t.Fatalf("PostgreSQL marker %d, want it still lagging at 2", stored)
	}
	tm.checkBobRead(4, 1+2)
	// An older read answers the newer cached marker.
	if got, unread := tm.markRead(3); got != 4 || unread != 1 {
		t.Fatalf("PUT read 3: marker %d, %d unread, want 4, 1", got, unread)
	}
}

func TestReadStateFloorIsPostgres(t *testing.T) {
	t.Parallel()
	m := newMarkers(t)
	tm := cachedTeam(t, m, cacheOnly{m})
	// The cache lost bob's markers (a flush): PostgreSQL has 4, the cache nothing, then 1.
	tm.storeMarker(4)
	tm.checkBobRead(4, 1)
	if got, unread := tm.markRead(1); got != 4 || unread != 1 {
		t.Fatalf("PUT read 1 over a stored 4: marker %d, %d unread", got, unread)
	}
	tm.checkBobRead(4, 1)
}

func TestReadStateSurvivesCacheFailure(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.Client(t)
	m, err := cluster.NewMarkers(rdb, cluster.MarkersConfig{KeyPrefix: prefix + "read:"})
	if err != nil {
		t.Fatal(err)
	}
	tm := cachedTeam(t, m, nil) // markers written straight to PostgreSQL
	tm.storeMarker(3)
	if err := rdb.Close(); err != nil {
		t.Fatal(err)
	}
	tm.checkBobRead(3, 2)
	if got, unread := tm.markRead(4); got != 4 || unread != 1 {
		t.Fatalf("PUT read 4: marker %d, %d unread", got, unread)
	}
	tm.checkBobRead(4, 1)
}
