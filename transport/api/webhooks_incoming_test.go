package api_test

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/parley-chat/parley/internal/logtest"
	"github.com/parley-chat/parley/persistence"
	"github.com/parley-chat/parley/transport/api"
)

type createdHook struct {
	persistence.IncomingWebhook
	URL string `json:"url"`
}

var hookURL = regexp.MustCompile(`^/hooks/([0-9]+)/([A-Za-z0-9_-]{43})$`)

// hook creates an incoming webhook of channel cid as c.
func (bt *botTeam) hook(c *client, cid int64, name string) createdHook {
	bt.h.t.Helper()
	var h createdHook
	if st := c.ok("POST", fmt.Sprintf("/api/channels/%d/webhooks/incoming", cid), map[string]any{"name": name}, &h); st != http.StatusCreated {
		bt.h.t.Fatalf("create hook: %d", st)
	}
	return h
}

// postHook POSTs body (raw when a string) to a hook URL without credentials.
func postHook(t *testing.T, h *harness, url string, body any) (*http.Response, []byte) {
	t.Helper()
	if s, ok := body.(string); ok {
		req, _ := http.NewRequest("POST", h.srv.URL+url, strings.NewReader(s))
		req.Header.Set("Content-Type", "application/json")
		resp, err := h.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	return send(t, h, "POST", url, "", body, nil)
}

// An incoming webhook is made by a channel member who may post (not a guest, not a bot, not
// in a DM), stores only its secret's hash, posts through the Poster as its own bot without
// credentials (content or Slack's text, idempotent by clientMsgId, mentions included),
// refuses bad bodies without writing, answers 404 to wrong secrets and once revoked, 409
// in an archived channel, and never logs its secret (ADR 0036).
func TestIncomingWebhooks(t *testing.T) {
	posters(t, func(t *testing.T, o harnessOpts) {
		rec := &logtest.Recorder{}
		o.logger = slog.New(rec)
		bt := newBotTeam(t, o)
		h := bt.h
		hooks := fmt.Sprintf("/api/channels/%d/webhooks/incoming", bt.gen)
		var guestIn persistence.ChannelView
		bt.member.ok("POST", bt.path("/channels"), map[string]any{"name": "with-guest", "type": "public"}, &guestIn)
		bt.member.ok("POST", fmt.Sprintf("/api/channels/%d/members", guestIn.ID), map[string]any{"userId": id(bt.guest.id)}, nil)

		ci := bt.hook(bt.member, bt.gen, "CI")
		m := hookURL.FindStringSubmatch(ci.URL)
		if m == nil || m[1] != id(ci.ID) || ci.ChannelID != bt.gen || ci.CreatedBy != bt.member.id || ci.Name != "CI" {
			t.Fatalf("created %+v", ci)
		}
		secret := m[2]
		sum := sha256.Sum256([]byte(secret))
		if n := h.count(`SELECT count(*) FROM incoming_webhooks WHERE id = $1 AND secret_hash = $2`, ci.ID, sum[:]); n != 1 {
			t.Fatalf("%d rows with the secret's SHA-256", n)
		}
		if n := h.count(`SELECT count(*) FROM incoming_webhooks h WHERE strpos(row_to_json(h)::text, $1) > 0`, secret); n != 0 {
			t.Fatalf("%d rows hold the secret in clear", n)
		}
		// Its bot is a bot member of the channel.
		var botUser persistence.User
		bt.member.ok("GET", "/api/users/"+id(ci.BotUserID), nil, &botUser)
		if !botUser.IsBot || botUser.DisplayName != "CI" {
			t.Fatalf("the hook's bot %+v", botUser)
		}
		if n := h.count(`SELECT count(*) FROM channel_members WHERE channel_id = $1 AND user_id = $2`, bt.gen, ci.BotUserID); n != 1 {
			t.Fatal("the hook's bot is not a member of the channel")
		}

		// Who may make one.
		bt.admin.ok("POST", hooks, map[string]any{"name": "admin's"}, nil)
		bt.guest.expect(http.StatusForbidden, "POST", fmt.Sprintf("/api/channels/%d/webhooks/incoming", guestIn.ID), map[string]any{"name": "g"})
		bt.outsider.expect(http.StatusNotFound, "POST", hooks, map[string]any{"name": "o"})
		_, ciBot := bt.bot(bt.owner, "ci-bot")
		ciBot.expect(http.StatusForbidden, "POST", hooks, map[string]any{"name": "b"})
		var dm persistence.ChannelView
		bt.member.ok("POST", bt.path("/dms"), map[string]any{"userIds": []string{id(bt.owner.id)}}, &dm)
		bt.member.expect(http.StatusForbidden, "POST", fmt.Sprintf("/api/channels/%d/webhooks/incoming", dm.ID), map[string]any{"name": "dm"})
		for _, body := range []any{map[string]any{"name": ""}, map[string]any{"name": strings.Repeat("x", 65)}, map[string]any{"name": "x", "url": "y"}} {
			bt.member.expect(http.StatusBadRequest, "POST", hooks, body)
		}
		if n := h.count(`SELECT count(*) FROM incoming_webhooks`); n != 2 {
			t.Fatalf("%d hooks after refusals, want 2", n)
		}

		// Posting: content, Slack's text, a retry, a mention.
		resp, b := postHook(t, h, ci.URL, map[string]any{"content": "deploy **done**", "clientMsgId": "run-1"})
		var first persistence.Message
		if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &first) != nil || first.UserID != ci.BotUserID ||
			first.ChannelID != bt.gen || first.Seq == 0 || first.Content != "deploy **done**" {
			t.Fatalf("post: %d %s", resp.StatusCode, b)
		}
		resp, b = postHook(t, h, ci.URL, map[string]any{"content": "deploy **done**", "clientMsgId": "run-1"})
		var again persistence.Message
		if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &again) != nil || again.ID != first.ID || again.Seq != first.Seq {
			t.Fatalf("retry: %d %s, want message %d again", resp.StatusCode, b, first.ID)
		}
		resp, b = postHook(t, h, ci.URL, `{"text": "from slack @member", "username": "ignored", "icon_emoji": ":ghost:"}`)
		var slack persistence.Message
		if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &slack) != nil || slack.Content != "from slack @member" || slack.Seq != first.Seq+1 {
			t.Fatalf("slack text: %d %s", resp.StatusCode, b)
		}
		var mentions struct{ Items []persistence.MentionItem }
		bt.member.ok("GET", "/api/mentions", nil, &mentions)
		if len(mentions.Items) != 1 {
			t.Fatalf("member's mentions after the hook named them: %+v", mentions.Items)
		}
		var page struct{ Items []persistence.Message }
		bt.member.ok("GET", fmt.Sprintf("/api/channels/%d/messages", bt.gen), nil, &page)
		if len(page.Items) < 2 || page.Items[0].ID != slack.ID || page.Items[1].ID != first.ID {
			t.Fatalf("history %+v", page.Items)
		}

		// Refusals change nothing.
		count := func() int64 { return h.count(`SELECT count(*) FROM messages WHERE user_id = $1`, ci.BotUserID) }
		before := count()
		for _, bad := range []struct {
			url    string
			body   any
			status int
		}{
			{ci.URL, `{"content": "x"`, 400},
			{ci.URL, `not json`, 400},
			{ci.URL, `[]`, 400},
			{ci.URL, `{"content": "   "}`, 400},
			{ci.URL, `{}`, 400},
			{ci.URL, `{"content": 5}`, 400},
			{ci.URL, map[string]any{"content": strings.Repeat("a", persistence.MaxContentRunes+1)}, 400},
			{ci.URL, map[string]any{"content": "ok", "clientMsgId": strings.Repeat("c", 65)}, 400},
			{ci.URL, `{"content": "a"} {"content": "b"}`, 400},
			{fmt.Sprintf("/hooks/%d/%s", ci.ID, strings.Repeat("A", 43)), map[string]any{"content": "wrong secret"}, 404},
			{fmt.Sprintf("/hooks/%d/%s", ci.ID+1, secret), map[string]any{"content": "unknown id"}, 404},
			{"/hooks/abc/" + secret, map[string]any{"content": "bad id"}, 404},
			{ci.URL, `{"content": "` + strings.Repeat("a", 1<<20) + `"}`, 413},
			{fmt.Sprintf("/hooks/%d", ci.ID), map[string]any{"content": "no secret"}, 404},
		} {
			resp, b := postHook(t, h, bad.url, bad.body)
			if resp.StatusCode != bad.status || resp.Header.Get("Content-Type") != "application/problem+json" {
				t.Errorf("POST %s %v: %d %s, want %d", strings.Replace(bad.url, secret, "…", 1), bad.body, resp.StatusCode, b, bad.status)
			}
			if strings.Contains(string(b), secret) {
				t.Errorf("the answer holds the secret: %s", b)
			}
		}
		if n := count(); n != before {
			t.Fatalf("%d messages by the hook after refusals, want %d", n, before)
		}
		resp, _ = send(t, h, "GET", ci.URL, "", nil, nil)
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("GET a hook: %d, want 405", resp.StatusCode)
		}

		// Listing shows no secrets.
		_, raw := bt.member.do("GET", hooks, nil)
		var list struct{ Items []persistence.IncomingWebhook }
		if err := json.Unmarshal(raw, &list); err != nil || len(list.Items) != 2 || strings.Contains(string(raw), secret) || strings.Contains(string(raw), "url") {
			t.Fatalf("list %s", raw)
		}
		bt.outsider.expect(http.StatusNotFound, "GET", hooks, nil)
		ciBot.expect(http.StatusForbidden, "GET", hooks, nil)

		// Archived: 409, nothing written; unarchived, it posts again.
		bt.owner.ok("PATCH", fmt.Sprintf("/api/channels/%d", bt.gen), map[string]any{"archived": true}, nil)
		if resp, b := postHook(t, h, ci.URL, map[string]any{"content": "into the archive"}); resp.StatusCode != http.StatusConflict {
			t.Fatalf("archived: %d %s, want 409", resp.StatusCode, b)
		}
		bt.owner.ok("PATCH", fmt.Sprintf("/api/channels/%d", bt.gen), map[string]any{"archived": false}, nil)
		if resp, b := postHook(t, h, ci.URL, map[string]any{"content": "back"}); resp.StatusCode != http.StatusOK {
			t.Fatalf("unarchived: %d %s", resp.StatusCode, b)
		}

		// Revocation: not by another plain member or a bot; by its creator; then 404.
		bt.guest.expect(http.StatusNotFound, "DELETE", fmt.Sprintf("/api/webhooks/incoming/%d", ci.ID), nil)
		ciBot.expect(http.StatusForbidden, "DELETE", fmt.Sprintf("/api/webhooks/incoming/%d", ci.ID), nil)
		bt.member.expect(http.StatusNoContent, "DELETE", fmt.Sprintf("/api/webhooks/incoming/%d", ci.ID), nil)
		if resp, b := postHook(t, h, ci.URL, map[string]any{"content": "after revocation"}); resp.StatusCode != http.StatusNotFound {
			t.Fatalf("revoked: %d %s, want 404", resp.StatusCode, b)
		}
		bt.member.expect(http.StatusNotFound, "DELETE", fmt.Sprintf("/api/webhooks/incoming/%d", ci.ID), nil)

		for _, r := range rec.Records() {
			line := r.Message
			r.Attrs(func(a slog.Attr) bool { line += " " + a.String(); return true })
			if strings.Contains(line, secret) {
				t.Errorf("logged: %s", line)
			}
		}
	})
}

// Over its rate a hook answers 429 with Retry-After and writes nothing; another hook
// keeps its own budget; the per-address limit of unauthenticated requests applies too.
func TestIncomingWebhookRateLimit(t *testing.T) {
	t.Parallel()
	bt := newBotTeam(t, harnessOpts{cfg: api.Config{Limits: api.Limits{IncomingWebhook: tight(3), Unauthenticated: tight(11)}}})
	a, b := bt.hook(bt.member, bt.gen, "a"), bt.hook(bt.member, bt.gen, "b")
	for i := range 3 {
		if resp, body := postHook(t, bt.h, a.URL, map[string]any{"content": fmt.Sprintf("a%d", i)}); resp.StatusCode != http.StatusOK {
			t.Fatalf("post %d: %d %s", i, resp.StatusCode, body)
		}
	}
	resp, body := postHook(t, bt.h, a.URL, map[string]any{"content": "one too many"})
	expectLimited(t, "fourth post", resp, body)
	if n := bt.h.count(`SELECT count(*) FROM messages WHERE user_id = $1`, a.BotUserID); n != 3 {
		t.Fatalf("%d messages, want 3", n)
	}
	if resp, body := postHook(t, bt.h, b.URL, map[string]any{"content": "b"}); resp.StatusCode != http.StatusOK {
		t.Fatalf("another hook: %d %s", resp.StatusCode, body)
	}
	// Unknown hooks spend no hook bucket (they get 404 whatever the rate).
	for range 5 {
		if resp, _ := postHook(t, bt.h, fmt.Sprintf("/hooks/%d/x", a.ID+7), map[string]any{"content": "x"}); resp.StatusCode != http.StatusNotFound {
			t.Fatalf("unknown hook: %d", resp.StatusCode)
		}
	}
	// Ten hook requests so far from this address: one more passes, then the address is out.
	if resp, body := postHook(t, bt.h, b.URL, map[string]any{"content": "b2"}); resp.StatusCode != http.StatusOK {
		t.Fatalf("eleventh request: %d %s", resp.StatusCode, body)
	}
	resp, body = postHook(t, bt.h, b.URL, map[string]any{"content": "b3"})
	expectLimited(t, "twelfth request from one address", resp, body)
}
