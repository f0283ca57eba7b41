package persistence_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/parley-chat/parley/persistence"
)

// TestReactionCapHoldsAgainstAConcurrentAdd: while another add of a new emoji holds the
// message (as SetReaction does) with the 50th distinct emoji written but not committed,
// a 51st waits for it and is then refused. Without the wait it counted 49 and made 51.
func TestReactionCapHoldsAgainstAConcurrentAdd(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "alice", "bob")
	alice, bob := f.users["alice"], f.users["bob"]
	res, err := f.store.AppendMessages(f.ctx, f.ch, []persistence.NewMessage{{UserID: alice, Content: "react"}})
	if err != nil || res[0].Err != nil {
		t.Fatal(err, res)
	}
	mid := res[0].Message.ID
	for i := range persistence.MaxReactionsPerMessage - 1 {
		if _, _, err := f.store.SetReaction(f.ctx, mid, alice, fmt.Sprintf(":e%d:", i), true); err != nil {
			t.Fatal(err)
		}
	}

	// The other add: SetReaction's lock and insert, not yet committed.
	tx, err := f.store.Pool().Begin(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(f.ctx) }()
	if _, err := tx.Exec(f.ctx, `SELECT 1 FROM messages WHERE id = $1 FOR NO KEY UPDATE`, mid); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(f.ctx, `INSERT INTO reactions (message_id, emoji, user_id) VALUES ($1, ':fiftieth:', $2)`, mid, alice); err != nil {
		t.Fatal(err)
	}

	done := make(chan error, 1)
	go func() {
		_, _, err := f.store.SetReaction(f.ctx, mid, bob, ":fifty-first:", true)
		done <- err
	}()
	// It must be waiting for the lock before the other add commits.
	deadline := time.Now().Add(10 * time.Second)
	for f.count(t, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`) == 0 {
		select {
		case err := <-done:
			t.Fatalf("the 51st add finished (%v) without waiting for the uncommitted 50th", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("the 51st add never waited for the lock")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := tx.Commit(f.ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, persistence.ErrTooManyReactions) {
		t.Fatalf("51st distinct reaction: %v, want ErrTooManyReactions", err)
	}
	if n := f.count(t, `SELECT count(DISTINCT emoji) FROM reactions WHERE message_id = $1`, mid); n != int64(persistence.MaxReactionsPerMessage) {
		t.Fatalf("%d distinct reactions, want %d", n, persistence.MaxReactionsPerMessage)
	}
}
