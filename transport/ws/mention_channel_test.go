package ws_test

import (
	"context"
	"testing"
	"time"

	"github.com/parley-chat/parley/persistence"
)

// Over STOMP, a guest's @channel and an @here in a channel above the size cap get an ERROR
// with the stable code and write nothing; the session goes on (SPEC "Notifications").
func TestChannelWideMentionRefusedOverStomp(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{store: persistence.StoreConfig{ChannelMentionMax: 2}})
	guestTok, guest := e.user("gina")
	memberTok, member := e.user("mark")
	ctx := context.Background()
	if _, err := e.store.Pool().Exec(ctx, `UPDATE workspace_members SET role = 'guest' WHERE user_id = $1`, guest); err != nil {
		t.Fatal(err)
	}
	cid := e.channel(e.owner, "team", persistence.ChannelPublic)
	for _, u := range []int64{guest, member} {
		if _, err := e.store.AddChannelMember(ctx, cid, u); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		tok, content, code string
	}{
		{guestTok, "hello @channel", "forbidden"},
		{guestTok, "@all here?", "forbidden"},
		{memberTok, "@here anyone", "validation_failed"}, // 3 members > 2
	} {
		c := e.dial(tc.tok)
		_, err := c.SendWithReceipt(ctxT(t, 5*time.Second), "/app/message.send", sendBody(cid, tc.content))
		if f := serverError(t, err); f.Value("code") != tc.code {
			t.Errorf("%q: ERROR %v, want code %s", tc.content, f.Headers, tc.code)
		}
		r, err := c.SendWithReceipt(ctxT(t, 5*time.Second), "/app/message.send", sendBody(cid, "plain words"))
		if err != nil || r.Value("seq") == "" {
			t.Fatalf("a plain send after the refusal: %v %v", r, err)
		}
	}
	var n int
	if err := e.store.Pool().QueryRow(ctx, `SELECT count(*) FROM messages WHERE content LIKE '%@%'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d refused messages written (%v)", n, err)
	}
}
