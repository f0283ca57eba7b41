package persistence_test

import (
	"fmt"
	"testing"

	"github.com/parley-chat/parley/persistence"
)

// A batch of replies makes the root's author and the repliers followers and tells the
// followers but the batch's only replier, on the batch's last reply to the thread, with
// unread counts capped at ThreadUpdateCountCap; the fast path (a plain root) writes no
// follow.
func TestAppendThreadFollowsAndUpdates(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "alice", "bob", "carol")
	alice, bob, carol := f.users["alice"], f.users["bob"], f.users["carol"]
	res, err := f.store.AppendMessages(f.ctx, f.ch, []persistence.NewMessage{{UserID: alice, Content: "root"}})
	if err != nil {
		t.Fatal(err)
	}
	root := res[0].Message.ID
	if n := f.count(t, `SELECT count(*) FROM thread_follows`); n != 0 {
		t.Fatalf("a root wrote %d follows", n)
	}
	batch := make([]persistence.NewMessage, persistence.ThreadUpdateCountCap+5)
	for i := range batch {
		batch[i] = persistence.NewMessage{UserID: bob, ParentID: root, Content: fmt.Sprintf("re %d", i)}
	}
	batch[3].Content = "cc @carol"
	res, err = f.store.AppendMessages(f.ctx, f.ch, batch)
	if err != nil {
		t.Fatal(err)
	}
	last := res[len(res)-1]
	got := map[int64]int64{}
	for _, u := range last.ThreadUpdates {
		got[u.UserID] = u.UnreadReplies
		if u.RootID != root || u.ReplyCount != len(batch) || u.LastReplySeq != last.Message.Seq {
			t.Errorf("update %+v", u)
		}
	}
	if len(got) != 2 || got[alice] != persistence.ThreadUpdateCountCap || got[carol] != persistence.ThreadUpdateCountCap {
		t.Fatalf("thread updates %v, want alice and carol at the cap, not bob", got)
	}
	for _, r := range res[:len(res)-1] {
		if len(r.ThreadUpdates) != 0 {
			t.Fatalf("updates on an earlier reply of the batch: %+v", r.ThreadUpdates)
		}
	}
	if n := f.count(t, `SELECT count(*) FROM thread_follows WHERE root_id = $1 AND following`, root); n != 3 {
		t.Fatalf("%d followers, want alice, bob and carol", n)
	}
	if m, err := f.store.ThreadReadMarker(f.ctx, bob, root); err != nil || m != last.Message.Seq {
		t.Fatalf("bob's thread marker %d (%v), want his last reply %d", m, err, last.Message.Seq)
	}
}
