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
// Poster), on one database in one run (ADR 0036). The sequential pair goes through
// StorePoster (one transaction per post); the concurrent pair through the actor system, as in
// production, with 16 posters at once so that the channel actor's group commit batches them.
// Run:
//
//	go test ./transport/api -run '^$' -bench IncomingWebhookPost -benchtime 2000x
func BenchmarkIncomingWebhookPost(b *testing.B) {
	b.Run("sequential", func(b *testing.B) { benchmarkHookPosts(b, false) })
	b.Run("concurrent-actors", func(b *testing.B) { benchmarkHookPosts(b, true) })
}

func benchmarkHookPosts(b *testing.B, concurrent bool) {
	open := api.Limit{Rate: 1e9, Burst: 1 << 30}
	bt := newBotTeam(b, harnessOpts{system: concurrent, cfg: api.Config{Limits: api.Limits{Messages: open, Writes: open, Unauthenticated: open, IncomingWebhook: open}}})
	hook := bt.hook(bt.member, bt.gen, "bench")
	body := []byte(`{"content":"build 1234 passed on main"}`)
	client := bt.h.srv.Client()
	client.Transport.(*http.Transport).MaxIdleConnsPerHost = 64
	post := func(b *testing.B, url, token string) {
		req, _ := http.NewRequest("POST", bt.h.srv.URL+url, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := client.Do(req)
		if err != nil {
			b.Error(err)
			return
		}
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			b.Errorf("%s: %d", url, resp.StatusCode)
		}
	}
	run := func(b *testing.B, url, token string) {
		b.ResetTimer()
		if !concurrent {
			for b.Loop() {
				post(b, url, token)
			}
			return
		}
		b.SetParallelism(8) // 16 posters on 2 processors
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				post(b, url, token)
			}
		})
	}
	b.Run("rest-reference", func(b *testing.B) { run(b, fmt.Sprintf("/api/channels/%d/messages", bt.gen), bt.member.token) })
	b.Run("incoming-webhook", func(b *testing.B) { run(b, hook.URL, "") })
}
