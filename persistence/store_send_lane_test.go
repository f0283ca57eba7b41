package persistence_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/parley-chat/parley/cluster"
	"github.com/parley-chat/parley/persistence"
)

// With a send lane, message commits go through while every connection of the main pool is
// taken (a reconnect storm's sign-ins and subscriptions, ADR 0051); without one they wait
// for the main pool like any query.
func TestSendLaneCommitsWhileTheMainPoolIsTaken(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "alice")
	pool := f.store.Pool()
	lane, err := persistence.OpenDB(f.ctx, persistence.DBConfig{URL: pool.Config().ConnString(), MaxConns: 2}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(lane.Close)
	ids, err := cluster.NewIDGenerator(2, nil) // the fixture's store is node 1
	if err != nil {
		t.Fatal(err)
	}
	laned := persistence.NewStore(pool, ids, persistence.StoreConfig{SendPool: lane})
	u := f.users["alice"]

	var held []*pgxpool.Conn
	for range pool.Config().MaxConns {
		c, err := pool.Acquire(f.ctx)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	defer func() {
		for _, c := range held {
			c.Release()
		}
	}()
	msg := func(n string) []persistence.NewMessage {
		return []persistence.NewMessage{{UserID: u, Content: n, ClientMsgID: n}}
	}
	ctx, cancel := context.WithTimeout(f.ctx, 5*time.Second)
	defer cancel()
	if _, err := laned.AppendMessages(ctx, f.ch, msg("lane-1")); err != nil {
		t.Fatalf("append on the send lane while the main pool is taken: %v", err)
	}
	res, errs := laned.AppendBatches(ctx, []persistence.ChannelBatch{{ChannelID: f.ch, Messages: msg("lane-2")}})
	if errs[0] != nil || len(res[0]) != 1 || res[0][0].Err != nil {
		t.Fatalf("coalesced append on the send lane: %+v, %v", res, errs)
	}
	// The control: the same store without a lane waits for the main pool.
	short, cancelShort := context.WithTimeout(f.ctx, 200*time.Millisecond)
	defer cancelShort()
	if _, err := f.store.AppendMessages(short, f.ch, msg("main")); err == nil {
		t.Fatal("append without a lane went through with the main pool taken: the test proves nothing")
	}
}
