package persistence_test

import (
	"errors"
	"testing"

	"github.com/parley-chat/parley/persistence"
)

// A bot is a workspace member with isBot and the role member; nobody signs in as it
// through UpsertUser, even with its exact subject; a taken or malformed username changes
// nothing.
func TestBotUsersSignInWithTokensOnly(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "alice")
	bot, err := f.store.CreateBotUser(f.ctx, f.ws, "ci-bot", "CI")
	if err != nil {
		t.Fatal(err)
	}
	if !bot.IsBot || bot.Username != "ci-bot" || bot.DisplayName != "CI" {
		t.Fatalf("bot %+v", bot)
	}
	m, err := f.store.Member(f.ctx, f.ws, bot.ID)
	if err != nil || m.Role != persistence.RoleMember || !m.IsBot {
		t.Fatalf("member %+v, %v", m, err)
	}
	var subject string
	if err := f.store.Pool().QueryRow(f.ctx, `SELECT subject FROM users WHERE id = $1`, bot.ID).Scan(&subject); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.UpsertUser(f.ctx, persistence.Identity{Subject: subject, Username: "ci-bot", Name: "Mallory"}); !errors.Is(err, persistence.ErrBotSignIn) || !errors.Is(err, persistence.ErrForbidden) {
		t.Fatalf("sign-in as the bot: %v, want ErrBotSignIn", err)
	}
	if u, _ := f.store.UserByID(f.ctx, bot.ID); u.DisplayName != "CI" {
		t.Fatalf("the refused sign-in changed the bot: %+v", u)
	}
	if _, err := f.store.CreateBotUser(f.ctx, f.ws, "ci-bot", ""); !errors.Is(err, persistence.ErrConflict) {
		t.Fatalf("taken username: %v, want ErrConflict", err)
	}
	if _, err := f.store.CreateBotUser(f.ctx, f.ws, "Bad Name", ""); !errors.Is(err, persistence.ErrInvalid) {
		t.Fatalf("bad username: %v, want ErrInvalid", err)
	}
	if _, err := f.store.CreateBotUser(f.ctx, 12345, "lost-bot", ""); !errors.Is(err, persistence.ErrNotFound) {
		t.Fatalf("unknown workspace: %v, want ErrNotFound", err)
	}
	if n := f.count(t, `SELECT count(*) FROM users WHERE is_bot`); n != 1 {
		t.Fatalf("%d bot rows, want 1", n)
	}
	if u, err := f.store.UserByID(f.ctx, f.users["alice"]); err != nil || u.IsBot {
		t.Fatalf("alice %+v %v", u, err)
	}
}
