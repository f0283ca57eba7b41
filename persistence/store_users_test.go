package persistence_test

import (
	"testing"

	"github.com/parley-chat/parley/persistence"
)

// Signing in again with the same claims reads the user and writes nothing (no new row
// version); changed claims still update the row, and a display name the user chose still
// outlives the tokens' name claim.
func TestSignInWritesOnlyWhatChanged(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "alice")
	id := persistence.Identity{Subject: "sub-carol", Username: "carol", Name: "Carol", Email: "carol@example.com"}
	first, err := f.store.UpsertUser(f.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	xmin := func() string {
		t.Helper()
		var x string
		if err := f.store.Pool().QueryRow(f.ctx, `SELECT xmin::text FROM users WHERE id = $1`, first.ID).Scan(&x); err != nil {
			t.Fatal(err)
		}
		return x
	}
	before := xmin()
	again, err := f.store.UpsertUser(f.ctx, id)
	if err != nil || again != first {
		t.Fatalf("same claims: %+v, %v; want %+v", again, err, first)
	}
	if got := xmin(); got != before {
		t.Fatalf("signing in with unchanged claims wrote the row (xmin %s → %s)", before, got)
	}
	// No name or email claim: nothing to change either.
	if u, err := f.store.UpsertUser(f.ctx, persistence.Identity{Subject: "sub-carol", Username: "carol"}); err != nil || u != first || xmin() != before {
		t.Fatalf("claims without name and email: %+v, %v", u, err)
	}
	id.Email, id.Name = "carol@example.org", "Carol B."
	changed, err := f.store.UpsertUser(f.ctx, id)
	if err != nil || changed.Email != "carol@example.org" || changed.DisplayName != "Carol B." || changed.ID != first.ID {
		t.Fatalf("changed claims: %+v, %v", changed, err)
	}
	if xmin() == before {
		t.Fatal("changed claims did not update the row")
	}
	// A display name the user set is kept, and a sign-in with another name claim returns it.
	if _, err := f.store.Pool().Exec(f.ctx, `UPDATE users SET display_name = 'CB', display_name_set = true WHERE id = $1`, first.ID); err != nil {
		t.Fatal(err)
	}
	id.Name = "Someone Else"
	if u, err := f.store.UpsertUser(f.ctx, id); err != nil || u.DisplayName != "CB" {
		t.Fatalf("chosen display name: %+v, %v", u, err)
	}
}
