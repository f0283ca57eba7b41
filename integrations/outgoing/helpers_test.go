package outgoing_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-chat/parley/cluster"
	"github.com/parley-chat/parley/integrations"
	"github.com/parley-chat/parley/integrations/outgoing"
	"github.com/parley-chat/parley/persistence"
	"github.com/parley-chat/parley/persistence/pgtest"
)

// env is a real store on a fresh database, an embedded Kafka (kfake), a receiver on
// loopback and the service under test, with one channel that has one member.
type env struct {
	t     testing.TB
	ctx   context.Context
	store *persistence.Store
	ids   *cluster.IDGenerator
	kafka []string
	user  persistence.User
	ws    int64
	ch    int64
	recv  *receiver
}

func newEnv(t *testing.T) *env {
	e := newBenchEnv(t)
	e.recv = newReceiver(t)
	return e
}

// newBenchEnv is newEnv without the receiver.
func newBenchEnv(t testing.TB) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	pool, _ := pgtest.NewPool(t, nil)
	ids, err := cluster.NewIDGenerator(3, nil)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, ctx: ctx, ids: ids, store: persistence.NewStore(pool, ids, persistence.StoreConfig{})}
	k, err := persistence.StartEmbeddedKafka(ctx, persistence.EmbeddedKafkaConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(k.Close)
	e.kafka = k.Addrs()
	if e.user, err = e.store.UpsertUser(ctx, persistence.Identity{Subject: "alice", Username: "alice"}); err != nil {
		t.Fatal(err)
	}
	w, err := e.store.CreateWorkspace(ctx, e.user.ID, "hooks")
	if err != nil {
		t.Fatal(err)
	}
	e.ws = w.ID
	c, err := e.store.CreateChannel(ctx, w.ID, e.user.ID, "ci", persistence.ChannelPublic, "")
	if err != nil {
		t.Fatal(err)
	}
	e.ch = c.ID
	return e
}

// channel makes another public channel in the workspace.
func (e *env) channel(name string) int64 {
	e.t.Helper()
	c, err := e.store.CreateChannel(e.ctx, e.ws, e.user.ID, name, persistence.ChannelPublic, "")
	if err != nil {
		e.t.Fatal(err)
	}
	return c.ID
}

// hook makes an outgoing webhook the way the API does: a bot, its membership, the row.
func (e *env) hook(url string, triggers ...string) persistence.OutgoingWebhook {
	e.t.Helper()
	return e.hookIn(e.ch, url, triggers...)
}

func (e *env) hookIn(ch int64, url string, triggers ...string) persistence.OutgoingWebhook {
	e.t.Helper()
	secret, err := integrations.NewSecret()
	if err != nil {
		e.t.Fatal(err)
	}
	id := e.ids.Next()
	bot, err := e.store.CreateBotUser(e.ctx, e.ws, "outgoing-"+strconv.FormatInt(id, 10), "Outgoing webhook")
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.store.AddChannelMember(e.ctx, ch, bot.ID); err != nil {
		e.t.Fatal(err)
	}
	h, err := e.store.CreateOutgoingWebhook(e.ctx, persistence.NewOutgoingWebhook{ID: id, ChannelID: ch, CreatorID: e.user.ID,
		BotUserID: bot.ID, URL: url, Secret: secret, Events: []string{"message"}, TriggerWords: triggers})
	if err != nil {
		e.t.Fatal(err)
	}
	h.Secret = secret
	return h
}

// service starts a deliverer with fast retries; allowPrivate as the operator setting.
func (e *env) service(allowPrivate bool, mod func(*outgoing.Config)) *outgoing.Service {
	e.t.Helper()
	client, err := integrations.NewClient(integrations.ClientConfig{AllowPrivate: allowPrivate, Timeout: 5 * time.Second})
	if err != nil {
		e.t.Fatal(err)
	}
	cfg := outgoing.Config{Brokers: e.kafka, PollInterval: 20 * time.Millisecond, FirstBackoff: 50 * time.Millisecond,
		MaxBackoff: 200 * time.Millisecond, SessionTimeout: 6 * time.Second}
	if mod != nil {
		mod(&cfg)
	}
	svc, err := outgoing.New(cfg, outgoing.Deps{Store: e.store, Client: client, Poster: storePoster{e.store}, NextID: e.ids.Next, Logger: testLogger(e.t)})
	if err != nil {
		e.t.Fatal(err)
	}
	svc.Start()
	e.t.Cleanup(func() { _ = svc.Close() })
	return svc
}

func (e *env) post(userID int64, content string) persistence.Message {
	e.t.Helper()
	res, err := e.store.AppendMessages(e.ctx, e.ch, []persistence.NewMessage{{ID: e.ids.Next(), UserID: userID, Content: content}})
	if err != nil || res[0].Err != nil {
		e.t.Fatalf("post %q: %v %v", content, err, res[0].Err)
	}
	return res[0].Message
}

// storePoster posts a reply straight through the store (the node uses the channel actor).
type storePoster struct{ s *persistence.Store }

func (p storePoster) Post(ctx context.Context, userID, channelID int64, m persistence.NewMessage) (persistence.AppendResult, error) {
	res, err := p.s.AppendMessages(ctx, channelID, []persistence.NewMessage{m})
	if err != nil {
		return persistence.AppendResult{}, err
	}
	return res[0], res[0].Err
}

// hit is one request the receiver got.
type hit struct {
	delivery, ts, sig string
	body              []byte
	status            int
	at                time.Time // when it arrived
}

// receiver is an HTTP server on loopback that records every request and answers what
// respond says (default 200 with no body).
type receiver struct {
	srv     *httptest.Server
	mu      sync.Mutex
	hits    []hit
	respond func(h hit, nth int) (int, string) // nth: how many times this delivery id came, 1-based
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		h := hit{delivery: req.Header.Get("X-Parley-Delivery"), ts: req.Header.Get("X-Parley-Timestamp"),
			sig: req.Header.Get("X-Parley-Signature"), body: body, at: time.Now()}
		r.mu.Lock()
		nth := 1
		for _, o := range r.hits {
			if o.delivery == h.delivery {
				nth++
			}
		}
		status, out := http.StatusOK, ""
		if r.respond != nil {
			status, out = r.respond(h, nth)
		}
		h.status = status
		r.hits = append(r.hits, h)
		r.mu.Unlock()
		w.WriteHeader(status)
		_, _ = io.WriteString(w, out)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) setRespond(f func(h hit, nth int) (int, string)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.respond = f
}

func (r *receiver) snapshot() []hit {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]hit(nil), r.hits...)
}

// delivered are the 2xx-answered hits in arrival order.
func (r *receiver) delivered() []hit {
	var out []hit
	for _, h := range r.snapshot() {
		if h.status/100 == 2 {
			out = append(out, h)
		}
	}
	return out
}

// waitFor polls until cond holds or the deadline passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// verify checks a hit's signature with an implementation of its own (not integrations.Sign):
// hex HMAC-SHA256 of "{timestamp}.{body}" with the secret, prefixed "sha256=".
func verify(t *testing.T, secret string, h hit) {
	t.Helper()
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(h.ts))
	mac.Write([]byte{'.'})
	mac.Write(h.body)
	want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	if !hmac.Equal([]byte(want), []byte(h.sig)) {
		t.Fatalf("delivery %s: signature %q, want %q", h.delivery, h.sig, want)
	}
	if ts, err := strconv.ParseInt(h.ts, 10, 64); err != nil || time.Since(time.Unix(ts, 0)).Abs() > time.Minute {
		t.Fatalf("delivery %s: timestamp %q is not the current unix time", h.delivery, h.ts)
	}
}

type eventBody struct {
	Type      string              `json:"type"`
	ChannelID string              `json:"channelId"`
	Message   persistence.Message `json:"message"`
}

func decodeEvent(t *testing.T, b []byte) eventBody {
	t.Helper()
	var ev eventBody
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatalf("event body %s: %v", b, err)
	}
	return ev
}

// testLogger writes to the test's log (shown on failure or with -v).
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
