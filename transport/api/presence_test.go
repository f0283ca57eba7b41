package api_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/parley-chat/parley/cluster"
	"github.com/parley-chat/parley/cluster/redistest"
)

// GET …/presence answers the statuses of workspace members (from Redis), leaves
// non-members out, refuses bad id lists and hides other workspaces.
func TestPresenceSnapshot(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.Client(t)
	bus, err := cluster.NewRedisBus(rdb, cluster.BusConfig{TopicPrefix: prefix + "bus:"}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bus.Close() })
	pres, err := cluster.NewPresence(rdb, bus, cluster.PresenceConfig{KeyPrefix: prefix + "presence:"}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pres.Close(context.Background()) })
	tm := newTeam(t, harnessOpts{presence: pres})
	carol := tm.h.user("carol") // in no workspace of alice's
	pres.SetLocal(tm.bob.id, cluster.StatusAway)
	pres.SetLocal(carol.id, cluster.StatusOnline)
	path := fmt.Sprintf("/api/workspaces/%d/presence?userIds=", tm.ws)
	deadline := time.Now().Add(10 * time.Second)
	for {
		var got map[string]string
		tm.alice.ok("GET", path+fmt.Sprintf("%d,%d,%d", tm.alice.id, tm.bob.id, carol.id), nil, &got)
		if got[id(tm.bob.id)] == "away" {
			if len(got) != 2 || got[id(tm.alice.id)] != "offline" {
				t.Fatalf("snapshot %v: want alice offline, bob away, carol left out", got)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("bob never away: %v", got)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, bad := range []string{"", "x", "1,,2", "-3", fmt.Sprint(make([]struct{}, 0))} {
		tm.alice.expect(http.StatusBadRequest, "GET", path+bad, nil)
	}
	many := "1"
	for i := 2; i <= 501; i++ {
		many += fmt.Sprintf(",%d", i)
	}
	tm.alice.expect(http.StatusBadRequest, "GET", path+many, nil)
	carol.expect(http.StatusNotFound, "GET", path+id(tm.bob.id), nil)
}
