package api_test

import (
	"bytes"
	"fmt"
	"net/http"
	"testing"

	"github.com/parley-chat/parley/transport/api"
)

// BenchmarkIncomingWebhookPost compares a post to an incoming webhook (hook lookup by id,
// constant-time hash compare, the bot's channel access, the Poster) with the reference, an
// authenticated REST post of the same content by a member (cached JWT, channel access, the
// Poster), on one database in one run (ADR 0036). Run:
//
//	go test ./transport/api -run '^$' -bench IncomingWebhookPost -benchtime 2000x
func BenchmarkIncomingWebhookPost(b *testing.B) {
	open := api.Limit{Rate: 1e9, Burst: 1 << 30}
	bt := newBotTeam(b, harnessOpts{cfg: api.Config{Limits: api.Limits{Messages: open, Writes: open, Unauthenticated: open, IncomingWebhook: open}}})
	hook := bt.hook(bt.member, bt.gen, "bench")
	body := []byte(`{"content":"build 1234 passed on main"}`)
	run := func(b *testing.B, url, token string) {
		client := bt.h.srv.Client()
		b.ResetTimer()
		for b.Loop() {
			req, _ := http.NewRequest("POST", bt.h.srv.URL+url, bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			resp, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode/100 != 2 {
				b.Fatalf("%s: %d", url, resp.StatusCode)
			}
		}
	}
	b.Run("rest-reference", func(b *testing.B) { run(b, fmt.Sprintf("/api/channels/%d/messages", bt.gen), bt.member.token) })
	b.Run("incoming-webhook", func(b *testing.B) { run(b, hook.URL, "") })
}
