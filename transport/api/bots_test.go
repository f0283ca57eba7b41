package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/parley-chat/parley/persistence"
	"github.com/parley-chat/parley/transport/api"
)

type createdBot struct {
	User      persistence.User `json:"user"`
	Token     string           `json:"token"`
	TokenInfo createdToken     `json:"tokenInfo"`
}

// botTeam is a workspace with an owner, an admin, a member and a guest (through
// invitations) and its general channel.
type botTeam struct {
	h                           *harness
	owner, admin, member, guest *client
	outsider                    *client
	ws, gen                     int64
}

func newBotTeam(t testing.TB, o harnessOpts) *botTeam {
	h := newHarness(t, o)
	bt := &botTeam{h: h, owner: h.user("owner"), admin: h.user("admin"), member: h.user("member"), guest: h.user("guest"), outsider: h.user("outsider")}
	var w persistence.Workspace
	bt.owner.ok("POST", "/api/workspaces", map[string]any{"name": "Acme"}, &w)
	bt.ws = w.ID
	for c, role := range map[*client]string{bt.admin: "admin", bt.member: "member", bt.guest: "guest"} {
		var inv persistence.Invitation
		bt.owner.ok("POST", bt.path("/invitations"), map[string]any{"username": c.name, "role": role}, &inv)
		c.ok("POST", "/api/invitations/accept", map[string]any{"token": inv.Token}, nil)
	}
	var chans struct{ Items []persistence.ChannelView }
	bt.owner.ok("GET", bt.path("/channels"), nil, &chans)
	bt.gen = chans.Items[0].ID
	return bt
}

func (bt *botTeam) path(p string) string { return fmt.Sprintf("/api/workspaces/%d%s", bt.ws, p) }

// bot creates a bot as c and returns it with a client holding its first token.
func (bt *botTeam) bot(c *client, username string) (createdBot, *client) {
	bt.h.t.Helper()
	var b createdBot
	if st := c.ok("POST", bt.path("/bots"), map[string]any{"username": username, "displayName": "CI " + username}, &b); st != http.StatusCreated {
		bt.h.t.Fatalf("create bot: %d", st)
	}
	return b, &client{h: bt.h, token: b.Token, id: b.User.ID, name: username}
}

// Owners and admins make bots; members, guests, outsiders and bots cannot. A bot is a
// member with isBot, authenticates with the token it came with and those minted for it, and
// cannot log in, manage the workspace or mint its own tokens (ADR 0036).
func TestBotAccounts(t *testing.T) {
	t.Parallel()
	bt := newBotTeam(t, harnessOpts{})
	h := bt.h
	ci, ciAs := bt.bot(bt.owner, "ci-bot")
	if !ci.User.IsBot || ci.User.Username != "ci-bot" || ci.User.DisplayName != "CI ci-bot" ||
		!strings.HasPrefix(ci.Token, "plt_") || ci.TokenInfo.Token != ci.Token || ci.TokenInfo.ID == 0 {
		t.Fatalf("created %+v", ci)
	}
	_, deployAs := bt.bot(bt.admin, "deploy")

	bt.member.expect(http.StatusForbidden, "POST", bt.path("/bots"), map[string]any{"username": "m-bot"})
	bt.guest.expect(http.StatusForbidden, "POST", bt.path("/bots"), map[string]any{"username": "g-bot"})
	bt.outsider.expect(http.StatusNotFound, "POST", bt.path("/bots"), map[string]any{"username": "o-bot"})
	ciAs.expect(http.StatusForbidden, "POST", bt.path("/bots"), map[string]any{"username": "b-bot"})
	// Bad input: 400 or 409, nothing stored.
	for _, body := range []any{
		map[string]any{"username": "Upper"}, map[string]any{"username": ""}, map[string]any{"username": strings.Repeat("a", 65)},
		map[string]any{"username": "ok", "displayName": strings.Repeat("é", 81)}, map[string]any{"username": "ok", "expiresIn": 5},
		map[string]any{"username": "ok", "role": "admin"},
	} {
		bt.owner.expect(http.StatusBadRequest, "POST", bt.path("/bots"), body)
	}
	bt.owner.expect(http.StatusConflict, "POST", bt.path("/bots"), map[string]any{"username": "member"})
	if n := h.count(`SELECT count(*) FROM users WHERE is_bot`); n != 2 {
		t.Fatalf("%d bot users after refusals, want 2", n)
	}

	// The bot is itself on REST, a member with isBot, listed among the bots.
	var me struct {
		persistence.User
	}
	ciAs.ok("GET", "/api/users/me", nil, &me)
	if me.ID != ci.User.ID || !me.IsBot {
		t.Fatalf("the bot's token is %+v", me.User)
	}
	var members struct{ Items []persistence.Member }
	bt.member.ok("GET", bt.path("/members"), nil, &members)
	found := false
	for _, m := range members.Items {
		if m.UserID == ci.User.ID {
			found = m.IsBot && m.Role == persistence.RoleMember
		}
	}
	if !found {
		t.Fatalf("the bot is not a member with isBot: %+v", members.Items)
	}
	var bots struct{ Items []persistence.Bot }
	bt.member.ok("GET", bt.path("/bots"), nil, &bots)
	if len(bots.Items) != 2 || bots.Items[0].User.ID != ci.User.ID || bots.Items[0].CreatedBy != bt.owner.id || !bots.Items[0].User.IsBot {
		t.Fatalf("bots %+v", bots.Items)
	}
	bt.outsider.expect(http.StatusNotFound, "GET", bt.path("/bots"), nil)

	// It reads and posts like a member, and joins public channels.
	ciAs.ok("POST", fmt.Sprintf("/api/channels/%d/messages", bt.gen), map[string]any{"content": "build green"}, nil)
	var pub persistence.ChannelView
	bt.member.ok("POST", bt.path("/channels"), map[string]any{"name": "builds", "type": "public"}, &pub)
	ciAs.ok("POST", fmt.Sprintf("/api/channels/%d/members", pub.ID), map[string]any{"userId": id(ci.User.ID)}, nil)

	// It manages nothing.
	ciAs.expect(http.StatusForbidden, "POST", "/api/workspaces", map[string]any{"name": "Mine"})
	ciAs.expect(http.StatusForbidden, "POST", bt.path("/channels"), map[string]any{"name": "botland", "type": "public"})
	ciAs.expect(http.StatusForbidden, "POST", bt.path("/invitations"), map[string]any{"username": "someone"})
	ciAs.expect(http.StatusForbidden, "PATCH", fmt.Sprintf("/api/channels/%d", pub.ID), map[string]any{"name": "renamed"})
	ciAs.expect(http.StatusForbidden, "PATCH", bt.path("/members/"+id(bt.member.id)), map[string]any{"role": "admin"})
	ciAs.expect(http.StatusForbidden, "POST", "/api/users/me/tokens", map[string]any{"name": "mine"})
	ciAs.expect(http.StatusForbidden, "POST", fmt.Sprintf("/api/bots/%d/tokens", ci.User.ID), map[string]any{"name": "mine"})
	ciAs.expect(http.StatusForbidden, "POST", fmt.Sprintf("/api/channels/%d/webhooks/incoming", bt.gen), map[string]any{"name": "h"})
	// Nobody makes it an admin or the owner.
	bt.owner.expect(http.StatusForbidden, "PATCH", bt.path("/members/"+id(ci.User.ID)), map[string]any{"role": "admin"})
	bt.owner.expect(http.StatusForbidden, "PATCH", bt.path("/members/"+id(ci.User.ID)), map[string]any{"role": "owner"})
	if n := h.count(`SELECT count(*) FROM workspace_members wm JOIN users u ON u.id = wm.user_id WHERE u.is_bot AND wm.role <> 'member'`); n != 0 {
		t.Fatalf("%d bot memberships with another role", n)
	}
	// ... not even behind the API's back (the trigger of migration 00009).
	if _, err := h.store.Pool().Exec(t.Context(), `UPDATE workspace_members SET role = 'admin' WHERE user_id = $1`, ci.User.ID); err == nil ||
		!strings.Contains(err.Error(), "a bot cannot be a workspace admin") {
		t.Fatalf("making a bot an admin in SQL: %v", err)
	}
	// It accepts no invitation to another workspace.
	var w2 persistence.Workspace
	bt.outsider.ok("POST", "/api/workspaces", map[string]any{"name": "Other"}, &w2)
	var inv persistence.Invitation
	bt.outsider.ok("POST", fmt.Sprintf("/api/workspaces/%d/invitations", w2.ID), map[string]any{"username": "ci-bot"}, &inv)
	ciAs.expect(http.StatusForbidden, "POST", "/api/invitations/accept", map[string]any{"token": inv.Token})

	// No login as a bot: a JWT whose subject is the bot's, or a dev login under its name.
	jwtAsBot, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": fmt.Sprintf("bot:%d", ci.User.ID),
		"preferred_username": "ci-bot", "exp": time.Now().Add(time.Hour).Unix()}).SignedString([]byte(testSecret))
	if err != nil {
		t.Fatal(err)
	}
	if st, b := (&client{h: h, token: jwtAsBot, name: "jwt as bot"}).do("GET", "/api/users/me", nil); st != http.StatusUnauthorized || strings.Contains(string(b), "bot:") {
		t.Fatalf("a JWT naming the bot: %d %s", st, b)
	}

	// Tokens minted for the bot by its workspace's managers.
	var second createdToken
	if st := bt.admin.ok("POST", fmt.Sprintf("/api/bots/%d/tokens", ci.User.ID), map[string]any{"name": "second", "expiresIn": 3600}, &second); st != http.StatusCreated {
		t.Fatalf("mint: %d", st)
	}
	secondAs := &client{h: h, token: second.Token, name: "second"}
	secondAs.ok("GET", "/api/users/me", nil, nil)
	bt.member.expect(http.StatusForbidden, "POST", fmt.Sprintf("/api/bots/%d/tokens", ci.User.ID), map[string]any{"name": "x"})
	bt.guest.expect(http.StatusForbidden, "GET", fmt.Sprintf("/api/bots/%d/tokens", ci.User.ID), nil)
	bt.outsider.expect(http.StatusNotFound, "POST", fmt.Sprintf("/api/bots/%d/tokens", ci.User.ID), map[string]any{"name": "x"})
	bt.owner.expect(http.StatusNotFound, "POST", fmt.Sprintf("/api/bots/%d/tokens", bt.member.id), map[string]any{"name": "x"})
	bt.owner.expect(http.StatusBadRequest, "POST", fmt.Sprintf("/api/bots/%d/tokens", ci.User.ID), map[string]any{"name": ""})
	_, raw := bt.owner.do("GET", fmt.Sprintf("/api/bots/%d/tokens", ci.User.ID), nil)
	if strings.Contains(string(raw), second.Token) || strings.Contains(string(raw), ci.Token) || !strings.Contains(string(raw), second.Prefix) {
		t.Fatalf("token list %s", raw)
	}
	bt.owner.expect(http.StatusNoContent, "DELETE", fmt.Sprintf("/api/bots/%d/tokens/%d", ci.User.ID, second.ID), nil)
	secondAs.expect(http.StatusUnauthorized, "GET", "/api/users/me", nil)
	ciAs.ok("GET", "/api/users/me", nil, nil)

	// Deactivation revokes every token (their sessions end: TokenRevoked) and refuses new ones.
	bt.member.expect(http.StatusForbidden, "DELETE", fmt.Sprintf("/api/bots/%d", ci.User.ID), nil)
	before := len(h.events.revokedTokens())
	bt.admin.expect(http.StatusNoContent, "DELETE", fmt.Sprintf("/api/bots/%d", ci.User.ID), nil)
	ciAs.expect(http.StatusUnauthorized, "GET", "/api/users/me", nil)
	if got := h.events.revokedTokens()[before:]; len(got) != 1 || got[0] != [2]int64{ci.User.ID, ci.TokenInfo.ID} {
		t.Fatalf("TokenRevoked calls %v", got)
	}
	bt.owner.expect(http.StatusConflict, "POST", fmt.Sprintf("/api/bots/%d/tokens", ci.User.ID), map[string]any{"name": "again"})
	deployAs.ok("GET", "/api/users/me", nil, nil) // another bot is untouched
	bt.owner.ok("GET", bt.path("/bots"), nil, &bots)
	if bots.Items[0].DeactivatedAt == nil || bots.Items[1].DeactivatedAt != nil {
		t.Fatalf("after deactivation %+v", bots.Items)
	}
}

// A dev login under a bot's username is refused; it never becomes the bot.
func TestBotCannotDevLogin(t *testing.T) {
	t.Parallel()
	bt := newBotTeam(t, harnessOpts{cfg: api.Config{DevMode: true}})
	bt.bot(bt.owner, "ci-bot")
	st, b := (&client{h: bt.h, name: "anon"}).do("POST", "/api/auth/dev/login", map[string]any{"username": "ci-bot"})
	if st != http.StatusForbidden {
		t.Fatalf("dev login as the bot: %d %s", st, b)
	}
	(&client{h: bt.h, name: "anon"}).ok("POST", "/api/auth/dev/login", map[string]any{"username": "ci-bot-fan"}, nil)
}
