package persistence_test

import (
	"errors"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/parley-chat/parley/persistence"
)

// messages keeps its references by statement-level triggers instead of foreign keys
// (migration 00004, ADR 0016). These tests hold the guarantees the keys gave: a message
// naming a missing user or channel is refused with nothing written, deleting a channel
// deletes its messages, and a user who has messages cannot be deleted.

func TestAppendRefusesUnknownUser(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "alice", "bob")
	alice := f.users["alice"]
	const ghost = 987654321
	root, err := f.store.AppendMessages(f.ctx, f.ch, []persistence.NewMessage{{UserID: alice, Content: "root"}})
	if err != nil {
		t.Fatal(err)
	}
	for name, batch := range map[string][]persistence.NewMessage{
		// One statement (store_append_fast.go).
		"fast": {{UserID: alice, Content: "ok"}, {UserID: ghost, Content: "who?"}},
		// Two round trips: a reply and a mention take the general path.
		"general": {{UserID: alice, Content: "hi @bob"}, {UserID: ghost, Content: "reply", ParentID: root[0].Message.ID}},
	} {
		_, err := f.store.AppendMessages(f.ctx, f.ch, batch)
		if !isForeignKeyViolation(err) {
			t.Fatalf("%s: err = %v, want a foreign key violation", name, err)
		}
	}
	_, errs := f.store.AppendBatches(f.ctx, []persistence.ChannelBatch{{ChannelID: f.ch,
		Messages: []persistence.NewMessage{{UserID: ghost, Content: "multi", ClientMsgID: "m1"}}}})
	if err := errors.Join(errs...); err == nil {
		t.Fatal("AppendBatches by an unknown user: no error")
	}
	if n := f.count(t, `SELECT count(*) FROM messages WHERE channel_id = $1`, f.ch); n != 1 {
		t.Fatalf("%d messages stored, want only the root", n)
	}
	if n := f.count(t, `SELECT last_seq FROM channels WHERE id = $1`, f.ch); n != 1 {
		t.Fatalf("last_seq = %d after refused appends, want 1", n)
	}
}

func TestInsertRefusesUnknownReferences(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "alice")
	// The append path locks the channel first (ErrNotFound) and writes the poster's read
	// marker, whose own key refuses a missing user; a writer that skips both meets the trigger.
	for _, q := range []string{
		`INSERT INTO messages (id, channel_id, seq, user_id, content) VALUES (1, 424242, 1, $1, 'x'), (2, $2, 1, $1, 'y')`,
		`INSERT INTO messages (id, channel_id, seq, user_id, content) VALUES (1, $2, 1, $1, 'x'), (2, $2, 2, 424242, 'y')`,
	} {
		if _, err := f.store.Pool().Exec(f.ctx, q, f.users["alice"], f.ch); !isForeignKeyViolation(err) {
			t.Fatalf("%s: err = %v, want a foreign key violation", q, err)
		}
	}
	if n := f.count(t, `SELECT count(*) FROM messages`); n != 0 {
		t.Fatalf("%d messages stored by refused inserts", n)
	}
	if _, err := f.store.AppendMessages(f.ctx, 424242, []persistence.NewMessage{{UserID: f.users["alice"], Content: "x"}}); !errors.Is(err, persistence.ErrNotFound) {
		t.Fatalf("append to a missing channel: %v, want ErrNotFound", err)
	}
}

func TestDeletingChannelDeletesItsMessages(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "alice", "bob")
	other := f.addChannels(t, 1)[0]
	alice := f.users["alice"]
	res, err := f.store.AppendMessages(f.ctx, f.ch, []persistence.NewMessage{{UserID: alice, Content: "root"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.AppendMessages(f.ctx, f.ch, []persistence.NewMessage{
		{UserID: f.users["bob"], Content: "reply @alice", ParentID: res[0].Message.ID}}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.AppendMessages(f.ctx, other, []persistence.NewMessage{{UserID: alice, Content: "elsewhere"}}); err != nil {
		t.Fatal(err)
	}
	f.exec(t, `DELETE FROM channels WHERE id = $1`, f.ch)
	if n := f.count(t, `SELECT count(*) FROM messages WHERE channel_id = $1`, f.ch); n != 0 {
		t.Fatalf("%d messages of the deleted channel remain", n)
	}
	if n := f.count(t, `SELECT count(*) FROM threads WHERE channel_id = $1`, f.ch); n != 0 {
		t.Fatalf("%d threads of the deleted channel remain", n)
	}
	if n := f.count(t, `SELECT count(*) FROM messages WHERE channel_id = $1`, other); n != 1 {
		t.Fatalf("the other channel has %d messages, want 1", n)
	}
}

func TestDeletingUserWithMessagesFails(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "alice", "bob", "carol")
	if _, err := f.store.AppendMessages(f.ctx, f.ch, []persistence.NewMessage{{UserID: f.users["bob"], Content: "hi"}}); err != nil {
		t.Fatal(err)
	}
	// A user who never posted goes; the statement that also names bob does not.
	carol := f.users["carol"]
	f.exec(t, `DELETE FROM channel_members WHERE user_id = ANY($1)`, []int64{carol, f.users["bob"]})
	f.exec(t, `DELETE FROM workspace_members WHERE user_id = ANY($1)`, []int64{carol, f.users["bob"]})
	f.exec(t, `DELETE FROM read_receipts WHERE user_id = ANY($1)`, []int64{carol, f.users["bob"]})
	_, err := f.store.Pool().Exec(f.ctx, `DELETE FROM users WHERE id = ANY($1)`, []int64{carol, f.users["bob"]})
	if !isForeignKeyViolation(err) {
		t.Fatalf("deleting a user with messages: err = %v, want a foreign key violation", err)
	}
	if n := f.count(t, `SELECT count(*) FROM users WHERE id = ANY($1)`, []int64{carol, f.users["bob"]}); n != 2 {
		t.Fatalf("%d of the two users remain after the refused delete", n)
	}
	f.exec(t, `DELETE FROM users WHERE id = $1`, carol)
}

func isForeignKeyViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23503"
}
