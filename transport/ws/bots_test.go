package ws_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/parley-chat/parley/stomp/stompclient"
)

// A bot connects with its API token; a JWT whose subject is the bot's is refused with
// ERROR unauthorized, like bad credentials (ADR 0036).
func TestBotConnectsWithTokensOnly(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	_, owner := e.user("owner")
	ctx := context.Background()
	w, err := e.store.CreateWorkspace(ctx, owner, "W")
	if err != nil {
		t.Fatal(err)
	}
	bot, err := e.store.CreateBotUser(ctx, w.ID, "ci", "CI")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := e.mintToken(bot.ID, time.Hour)
	e.dial(raw)

	asBot, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": fmt.Sprintf("bot:%d", bot.ID),
		"preferred_username": "ci", "exp": time.Now().Add(time.Hour).Unix()}).SignedString([]byte(testSecret))
	if err != nil {
		t.Fatal(err)
	}
	_, err = stompclient.Dial(ctxT(t, 10*time.Second), e.url, stompclient.ClientOptions{Token: asBot})
	if f := serverError(t, err); f.Value("code") != "unauthorized" {
		t.Fatalf("CONNECT with a JWT naming the bot: ERROR %v %q, want unauthorized", f.Headers, f.Body)
	}
	if n, err := e.store.UserByID(ctx, bot.ID); err != nil || !n.IsBot {
		t.Fatalf("the bot after the refusal: %+v %v", n, err)
	}
}
