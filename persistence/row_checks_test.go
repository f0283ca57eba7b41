package persistence_test

import (
	"context"
	"strings"
	"testing"

	"github.com/parley-chat/parley/persistence"
)

// has:link keeps its partial index (migrations 00012, 00017): the query states the index's
// predicate, so with sequential scans forbidden the planner can still answer it from
// messages_has_link, and it finds links in any letter case and nothing else.
func TestHasLinkSearchUsesItsIndex(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "alice")
	alice := f.users["alice"]
	var batch []persistence.NewMessage
	for _, c := range []string{"see https://example.com/a", "HTTP://EXAMPLE.COM/B shouting", "no link here",
		"a scheme with no host: https:// alone", "ftp://not.http", "almost http:/x"} {
		batch = append(batch, persistence.NewMessage{UserID: alice, Content: c})
	}
	if _, err := f.store.AppendMessages(f.ctx, f.ch, batch); err != nil {
		t.Fatal(err)
	}
	wa := persistence.WorkspaceAccess{WorkspaceID: f.ws, UserID: alice, Role: persistence.RoleOwner}
	q, err := persistence.ParseSearch("has:link")
	if err != nil {
		t.Fatal(err)
	}
	hits, err := f.store.SearchMessages(f.ctx, wa, q, persistence.SearchOptions{Sort: persistence.SortNewest, Limit: 20})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, h := range hits {
		got = append(got, h.Message.Content)
	}
	if want := "HTTP://EXAMPLE.COM/B shouting|see https://example.com/a"; strings.Join(got, "|") != want {
		t.Errorf("has:link found %q, want %q", got, want)
	}

	sql, args, err := f.store.SearchSQL(f.ctx, wa, q, persistence.SearchOptions{Sort: persistence.SortNewest, Limit: 20})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := f.store.Pool().Acquire(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	if _, err := conn.Exec(f.ctx, `SET enable_seqscan = off`); err != nil {
		t.Fatal(err)
	}
	defer conn.Exec(context.WithoutCancel(f.ctx), `RESET enable_seqscan`) //nolint:errcheck
	var plan string
	if err := conn.QueryRow(f.ctx, `EXPLAIN (FORMAT JSON) `+sql, args...).Scan(&plan); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(plan, `"Index Name": "messages_has_link"`) {
		t.Errorf("has:link does not use messages_has_link:\n%s", plan)
	}
}

// A channel's name is still held to [a-z0-9_-]{1,80} by the database after migration 00017
// replaced the regular expression of its CHECK, and a DM (no name) still passes it.
func TestChannelNameCheck(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "alice")
	for _, name := range []string{"a", "general", "team_42-x", strings.Repeat("z", 80)} {
		if _, err := f.store.Pool().Exec(f.ctx, `UPDATE channels SET name = $2 WHERE id = $1`, f.ch, name); err != nil {
			t.Errorf("name %q refused: %v", name, err)
		}
	}
	for _, name := range []string{"", "General", "a b", "été", "a.b", "a/b", strings.Repeat("z", 81), "tab\t"} {
		_, err := f.store.Pool().Exec(f.ctx, `UPDATE channels SET name = $2 WHERE id = $1`, f.ch, name)
		if err == nil || !strings.Contains(err.Error(), "channels_name_check") {
			t.Errorf("name %q: got %v, want a channels_name_check violation", name, err)
		}
	}
	if _, err := f.store.Pool().Exec(f.ctx, `UPDATE channels SET name = NULL, type = 'dm', dm_members = ARRAY[1, 2]::bigint[] WHERE id = $1`, f.ch); err != nil {
		t.Errorf("a DM without a name: %v", err)
	}
}
