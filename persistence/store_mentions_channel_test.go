package persistence_test

import (
	"fmt"
	"testing"

	"github.com/parley-chat/parley/persistence"
)

// BenchmarkAppendChannelMention is what a channel-wide mention costs the append: a plain
// message (the one-statement path), a direct @mention (the general path) and @channel in a
// channel of members=N, one message per append. Compare ns/op of the sub-benchmarks of one
// run (ADR 0034).
func BenchmarkAppendChannelMention(b *testing.B) {
	names := []string{"alice", "bob"}
	for i := range 98 {
		names = append(names, fmt.Sprintf("user%d", i))
	}
	f := newFixture(b, names...) // 100 members of general
	small := f.addChannels(b, 1)[0]
	f.exec(b, `DELETE FROM channel_members WHERE channel_id = $1 AND user_id <> ALL($2)`, small, []int64{f.users["alice"], f.users["bob"]})
	for _, c := range []struct {
		name    string
		channel int64
		content string
	}{
		{"plain", f.ch, "lunch at noon"},
		{"user", f.ch, "lunch at noon @bob"},
		{"channel/members=2", small, "lunch at noon @channel"},
		{"channel/members=100", f.ch, "lunch at noon @channel"},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				res, err := f.store.AppendMessages(f.ctx, c.channel, []persistence.NewMessage{{UserID: f.users["alice"], Content: c.content}})
				if err != nil || res[0].Err != nil {
					b.Fatal(err, res)
				}
			}
		})
	}
}

// ParseMentions keeps reserved names; the append takes them out (store_append.go).
func TestChannelWideNamesAreNotUsers(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "alice", "bob", "here", "channel")
	res, err := f.store.AppendMessages(f.ctx, f.ch, []persistence.NewMessage{{UserID: f.users["alice"], Content: "@here: @channel."}})
	if err != nil || res[0].Err != nil {
		t.Fatal(err, res)
	}
	// No presence: @here mentions nobody; @channel everyone but the author, once each,
	// including the users called "here" and "channel" as members, not as names.
	got := map[int64]string{}
	for _, m := range res[0].Mentions {
		if _, dup := got[m.UserID]; dup {
			t.Fatalf("user %d mentioned twice: %+v", m.UserID, res[0].Mentions)
		}
		got[m.UserID] = m.Via
	}
	want := map[int64]string{f.users["bob"]: "channel", f.users["here"]: "channel", f.users["channel"]: "channel"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("mentions %v, want %v", got, want)
	}
	if n := f.count(t, `SELECT count(*) FROM mentions WHERE message_id = $1`, res[0].Message.ID); n != 3 {
		t.Fatalf("%d mention rows", n)
	}
}
