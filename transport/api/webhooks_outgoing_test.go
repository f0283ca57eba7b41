package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/parley-chat/parley/persistence"
)

type createdOutgoing struct {
	persistence.OutgoingWebhook
	Secret string `json:"secret"`
}

// A member who may post subscribes a URL to the channel: the secret is shown once, the hook
// gets a bot of its own in the channel; bad input (a private or malformed URL, an unknown
// event, a bad trigger word) is 400 and stores nothing; only the channel's members see the
// hooks and their log; the creator or an admin revokes (ADR 0037).
func TestOutgoingWebhooksREST(t *testing.T) {
	t.Parallel()
	tm := newTeam(t, harnessOpts{})
	carol := tm.join("carol", "member")
	path := fmt.Sprintf("/api/channels/%d/webhooks/outgoing", tm.gen)

	var hook createdOutgoing
	if st := tm.bob.ok("POST", path, map[string]any{"url": "https://hooks.example.com/parley", "events": []string{"message"},
		"triggerWords": []string{"deploy", "!ship"}}, &hook); st != http.StatusCreated {
		t.Fatalf("create: %d", st)
	}
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(hook.Secret) || hook.ID == 0 || hook.ChannelID != tm.gen ||
		hook.CreatorID != tm.bob.id || hook.URL != "https://hooks.example.com/parley" || strings.Join(hook.TriggerWords, ",") != "deploy,!ship" {
		t.Fatalf("created %+v", hook)
	}
	if n := tm.h.count(`SELECT count(*) FROM users u JOIN channel_members cm ON cm.user_id = u.id
		WHERE u.id = $1 AND u.is_bot AND cm.channel_id = $2`, hook.BotUserID, tm.gen); n != 1 {
		t.Fatalf("the hook's bot is not a bot member of the channel (%d)", n)
	}

	for name, body := range map[string]map[string]any{
		"loopback":       {"url": "http://127.0.0.1:8080/hook", "events": []string{"message"}},
		"localhost":      {"url": "http://localhost/hook", "events": []string{"message"}},
		"private":        {"url": "http://10.1.2.3/hook", "events": []string{"message"}},
		"link-local":     {"url": "http://169.254.169.254/latest/meta-data", "events": []string{"message"}},
		"scheme":         {"url": "ftp://hooks.example.com/x", "events": []string{"message"}},
		"userinfo":       {"url": "https://u:p@hooks.example.com/x", "events": []string{"message"}},
		"no url":         {"events": []string{"message"}},
		"no events":      {"url": "https://hooks.example.com/x"},
		"unknown event":  {"url": "https://hooks.example.com/x", "events": []string{"reaction"}},
		"spaced trigger": {"url": "https://hooks.example.com/x", "events": []string{"message"}, "triggerWords": []string{"two words"}},
	} {
		b := tm.bob.expect(http.StatusBadRequest, "POST", path, body)
		var p struct{ Code, Field string }
		_ = json.Unmarshal(b, &p)
		if name != "no events" && name != "unknown event" && name != "spaced trigger" && p.Field != "url" {
			t.Errorf("%s: problem %s, want field url", name, b)
		}
	}
	if n := tm.h.count(`SELECT count(*) FROM outgoing_webhooks`); n != 1 {
		t.Fatalf("%d hooks stored after refusals, want 1", n)
	}

	// Listed without the secret.
	st, raw := tm.alice.do("GET", path, nil)
	if st != http.StatusOK || strings.Contains(string(raw), hook.Secret) || strings.Contains(string(raw), `"secret"`) ||
		!strings.Contains(string(raw), id(hook.ID)) {
		t.Fatalf("list: %d %s", st, raw)
	}

	// A guest may not subscribe a URL.
	gus := tm.join("gus", "guest")
	if st, b := gus.do("POST", path, map[string]any{"url": "https://hooks.example.com/x", "events": []string{"message"}}); st != http.StatusForbidden && st != http.StatusNotFound {
		t.Fatalf("guest creates: %d %s", st, b)
	}
	// A private channel the caller is not in: neither create nor list.
	ops := tm.channel(tm.alice, "ops", "private")
	opsPath := fmt.Sprintf("/api/channels/%d/webhooks/outgoing", ops)
	if st, b := tm.bob.do("POST", opsPath, map[string]any{"url": "https://hooks.example.com/x", "events": []string{"message"}}); st != http.StatusForbidden && st != http.StatusNotFound {
		t.Fatalf("outsider creates in a private channel: %d %s", st, b)
	}
	if st, _ := tm.bob.do("GET", opsPath, nil); st != http.StatusForbidden && st != http.StatusNotFound {
		t.Fatalf("outsider lists a private channel's hooks: %d", st)
	}

	// The delivery log, as the deliverer writes it.
	ctx := context.Background()
	if err := tm.h.store.RecordOutgoingDelivery(ctx, hook.ID, "o1-2", 7, persistence.DeliveryAttempt{Status: persistence.DeliveryDelivered,
		Attempts: 2, LastError: "HTTP 503", Latency: 1500 * time.Millisecond, At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	deliveries := fmt.Sprintf("/api/webhooks/%d/deliveries", hook.ID)
	st, raw = carol.do("GET", deliveries, nil)
	if st != http.StatusOK {
		t.Fatalf("deliveries: %d %s", st, raw)
	}
	for _, want := range []string{`"deliveryId":"o1-2"`, `"seq":7`, `"status":"delivered"`, `"attempts":2`, `"lastError":"HTTP 503"`, `"latencyMs":1500`} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("deliveries %s: no %s", raw, want)
		}
	}
	if !regexp.MustCompile(`"createdAt":"[^"]+\.\d{3}Z"`).Match(raw) || !regexp.MustCompile(`"deliveredAt":"[^"]+\.\d{3}Z"`).Match(raw) {
		t.Errorf("deliveries %s: times without exactly 3 fractional digits", raw)
	}
	outsider := tm.h.user("mallory")
	outsider.expect(http.StatusNotFound, "GET", deliveries, nil)

	// Revoking: not carol (neither creator nor admin), then bob; then it is gone.
	carol.expect(http.StatusForbidden, "DELETE", fmt.Sprintf("%s/%d", path, hook.ID), nil)
	tm.bob.expect(http.StatusNoContent, "DELETE", fmt.Sprintf("%s/%d", path, hook.ID), nil)
	tm.bob.expect(http.StatusNotFound, "DELETE", fmt.Sprintf("%s/%d", path, hook.ID), nil)
	tm.bob.expect(http.StatusNotFound, "GET", deliveries, nil)
	var list struct{ Items []persistence.OutgoingWebhook }
	tm.bob.ok("GET", path, nil, &list)
	if len(list.Items) != 0 {
		t.Fatalf("revoked hook still listed: %+v", list.Items)
	}
}
