package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/parley-chat/parley/cluster/redistest"
	"github.com/parley-chat/parley/persistence"
	"github.com/parley-chat/parley/persistence/pgtest"
)

// A node is SIGKILLed while an outgoing webhook's deliveries are pending (the receiver has
// been failing them); another node started afterwards on the same PostgreSQL and Kafka
// delivers every one of them: none lost, each carrying the delivery id it had before the
// kill, signed (checked here with crypto/hmac), the first 2xx of each in seq order; each 2xx
// body {content} is posted back in the channel by the hook's bot (through the channel actor)
// (ADR 0037).
func TestOutgoingWebhookDeliveriesSurviveSIGKILL(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDatabase(t)
	_, prefix := redistest.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// Kafka outlives the nodes: it runs in the test process.
	k, err := persistence.StartEmbeddedKafka(ctx, persistence.EmbeddedKafkaConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(k.Close)

	type hit struct {
		delivery, ts, sig string
		body              []byte
		ok                bool
	}
	var (
		mu      sync.Mutex
		hits    []hit
		healthy atomic.Bool
	)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		h := hit{delivery: r.Header.Get("X-Parley-Delivery"), ts: r.Header.Get("X-Parley-Timestamp"),
			sig: r.Header.Get("X-Parley-Signature"), body: b, ok: healthy.Load()}
		mu.Lock()
		hits = append(hits, h)
		mu.Unlock()
		if !h.ok {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		var ev struct{ Message struct{ Seq int64 } }
		_ = json.Unmarshal(b, &ev)
		_, _ = fmt.Fprintf(w, `{"content":"ack %d"}`, ev.Message.Seq)
	}))
	t.Cleanup(recv.Close)
	snapshot := func() []hit {
		mu.Lock()
		defer mu.Unlock()
		return append([]hit(nil), hits...)
	}

	start := func(id int) (string, *exec.Cmd) {
		addr := freeAddr(t)
		cmd := exec.Command(binary, "serve")
		cmd.Env = append(cleanEnv(), "DATABASE_URL="+db, "PARLEY_ADDR="+addr, "PARLEY_DEV=true",
			"REDIS_URL=redis://"+redistest.Addr(), "PARLEY_REDIS_PREFIX="+prefix, "PARLEY_NODE_ID="+strconv.Itoa(id),
			"KAFKA_BROKERS="+k.Addrs()[0], "PARLEY_WEBHOOK_ALLOW_PRIVATE=true")
		var logs lockedBuffer
		cmd.Stdout, cmd.Stderr = &logs, &logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			<-done
			if t.Failed() {
				t.Logf("node %d log:\n%s", id, logs.String())
			}
		})
		base := "http://" + addr
		waitServeReady(t, base, done, &logs)
		return base, cmd
	}
	base1, node1 := start(1)
	alice := devToken(t, base1, "alice")
	var ws struct {
		ID string `json:"id"`
	}
	rest(t, base1, alice, http.MethodPost, "/api/workspaces", map[string]string{"name": "hooks"}, &ws)
	var chans struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
	}
	rest(t, base1, alice, http.MethodGet, "/api/workspaces/"+ws.ID+"/channels", nil, &chans)
	cid := chans.Items[0].ID
	var hook struct {
		ID        string `json:"id"`
		Secret    string `json:"secret"`
		BotUserID string `json:"botUserId"`
	}
	rest(t, base1, alice, http.MethodPost, "/api/channels/"+cid+"/webhooks/outgoing",
		map[string]any{"url": recv.URL + "/hook", "events": []string{"message"}}, &hook)

	const n = 12
	for i := range n {
		rest(t, base1, alice, http.MethodPost, "/api/channels/"+cid+"/messages", map[string]string{"content": fmt.Sprintf("m%d", i)}, nil)
	}
	deadline := time.Now().Add(30 * time.Second)
	for len(snapshot()) < 2 { // the first delivery has been attempted and is waiting to retry
		if time.Now().After(deadline) {
			t.Fatal("no delivery attempted before the kill")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Every delivery is in Kafka (the relay's cursor is past the last message) and none but
	// the first has been sent: what follows must come from the topic.
	conn, err := pgx.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	for {
		var cursor int64
		if err := conn.QueryRow(ctx, `SELECT cursor_seq FROM outgoing_webhooks WHERE id = $1`, hook.ID).Scan(&cursor); err != nil {
			t.Fatal(err)
		}
		if cursor == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("relay cursor at %d, want %d", cursor, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := node1.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	before := snapshot()
	healthy.Store(true)
	base2, _ := start(2)

	// Every seq delivered (2xx) after the restart.
	firstOK := map[int64]int{} // seq → index of its first 2xx
	var order []int64
	deadline = time.Now().Add(90 * time.Second)
	for len(firstOK) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d messages delivered after the restart", len(firstOK), n)
		}
		time.Sleep(50 * time.Millisecond)
		for i, h := range snapshot() {
			var ev struct{ Message struct{ Seq int64 } }
			if err := json.Unmarshal(h.body, &ev); err != nil {
				t.Fatalf("body %s: %v", h.body, err)
			}
			if _, seen := firstOK[ev.Message.Seq]; h.ok && !seen {
				firstOK[ev.Message.Seq] = i
				order = append(order, ev.Message.Seq)
			}
		}
	}
	for i, seq := range order {
		if seq != int64(i+1) {
			t.Fatalf("first deliveries in order %v, want 1..%d", order, n)
		}
	}
	ids := map[int64]string{}
	for _, h := range snapshot() {
		mac := hmac.New(sha256.New, []byte(hook.Secret))
		mac.Write([]byte(h.ts + "."))
		mac.Write(h.body)
		if want := "sha256=" + hex.EncodeToString(mac.Sum(nil)); !hmac.Equal([]byte(want), []byte(h.sig)) {
			t.Fatalf("delivery %s: bad signature", h.delivery)
		}
		var ev struct{ Message struct{ Seq int64 } }
		_ = json.Unmarshal(h.body, &ev)
		if prev, ok := ids[ev.Message.Seq]; ok && prev != h.delivery {
			t.Fatalf("seq %d delivered as %s and %s", ev.Message.Seq, prev, h.delivery)
		}
		ids[ev.Message.Seq] = h.delivery
	}
	t.Logf("%d requests before the kill, %d in all", len(before), len(snapshot()))

	// The replies, posted by the hook's bot through the surviving node.
	deadline = time.Now().Add(30 * time.Second)
	for {
		var page struct {
			Items []struct {
				UserID  string `json:"userId"`
				Content string `json:"content"`
			} `json:"items"`
		}
		rest(t, base2, alice, http.MethodGet, "/api/channels/"+cid+"/messages?after_seq=0&limit=100", nil, &page)
		replies := 0
		for _, m := range page.Items {
			if m.UserID == hook.BotUserID {
				replies++
			}
		}
		if replies == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d replies by the bot, want %d", replies, n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
