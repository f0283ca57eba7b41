package multinode_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
	"go.uber.org/goleak"

	"github.com/parley-chat/parley/actors"
	"github.com/parley-chat/parley/bench"
	"github.com/parley-chat/parley/cluster"
	"github.com/parley-chat/parley/cluster/redistest"
	"github.com/parley-chat/parley/integrations/slash"
	"github.com/parley-chat/parley/persistence"
	"github.com/parley-chat/parley/persistence/pgtest"
	"github.com/parley-chat/parley/stomp"
	"github.com/parley-chat/parley/stomp/stompclient"
	"github.com/parley-chat/parley/transport"
)

func TestMain(m *testing.M) {
	// go-redis logs every failed dial of a cut link to stderr.
	redis.SetLogger(quietRedis{})
	goleak.VerifyTestMain(m)
}

type quietRedis struct{}

func (quietRedis) Printf(context.Context, string, ...any) {}

// node is one parley server of a test cluster.
type node struct {
	id    int
	srv   *transport.Server
	url   string // http://127.0.0.1:port
	reg   *prometheus.Registry
	proxy *toxiproxy.Proxy // between the node and Redis, when asked for
	rdb   *redis.Client    // the test's own client on the real Redis
	bus   string           // the cluster's bus topic prefix
	db    string           // the cluster's PostgreSQL URL
}

type clusterOptions struct {
	nodes int
	// proxied are the node ids (1-based) whose Redis traffic goes through a toxiproxy.
	proxied []int
	// awayAfter is the nodes' actors.Config.AwayAfter (0: the default).
	awayAfter time.Duration
	// refusePrivate are the node ids (1-based) that keep the SSRF guard on; the others
	// let integrations reach the tests' receivers on loopback (--webhook-allow-private).
	refusePrivate []int
	// slash is the nodes' slash-command configuration (zero: the defaults).
	slash slash.Config
	// redisCluster, when set, is the Redis Cluster the nodes use (REDIS_CLUSTER_ADDRS)
	// instead of the test Redis (ADR 0043); proxied is then ignored.
	redisCluster *redistest.Cluster
}

// startCluster starts opts.nodes nodes with node ids 1..n, one after the other (the first
// migrates the shared database), and stops them at cleanup.
func startCluster(t *testing.T, opts clusterOptions) []*node {
	t.Helper()
	db := pgtest.NewDatabase(t)
	rdb, prefix := redistest.Client(t)
	ctx := context.Background()
	kafka, err := persistence.StartEmbeddedKafka(ctx, persistence.EmbeddedKafkaConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kafka.Close) // registered first: runs after every node has stopped
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("PARLEY_TEST_LOG") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	var nodes []*node
	for i := 1; i <= opts.nodes; i++ {
		n := &node{id: i, reg: prometheus.NewRegistry(), rdb: rdb, bus: prefix + "bus:", db: db}
		redisAddr := redistest.Addr()
		for _, p := range opts.proxied {
			if p == i {
				srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop())
				n.proxy = toxiproxy.NewProxy(srv, fmt.Sprintf("redis-%d", i), "127.0.0.1:0", redistest.Addr())
				if err := n.proxy.Start(); err != nil {
					t.Fatalf("toxiproxy: %v", err)
				}
				t.Cleanup(n.proxy.Stop)
				redisAddr = n.proxy.Listen
			}
		}
		cfg := transport.DefaultConfig()
		cfg.Addr = "127.0.0.1:0"
		cfg.NodeID = i
		cfg.DatabaseURL = db
		cfg.RedisURL = "redis://" + redisAddr
		if opts.redisCluster != nil {
			cfg.RedisURL, cfg.RedisClusterAddrs = "", opts.redisCluster.Addrs()
		}
		cfg.RedisPrefix = prefix
		// A dead node's users go offline within 1.5 s (ADR 0033).
		cfg.Presence = cluster.PresenceConfig{TTL: time.Second, SweepInterval: 200 * time.Millisecond}
		cfg.KafkaBrokers = kafka.Addrs()
		cfg.DrainTimeout = 10 * time.Second
		cfg.Bus = cluster.BusConfig{
			TopicPrefix:    n.bus,
			PublishTimeout: 300 * time.Millisecond,
			ConnectTimeout: time.Second,
			PingInterval:   150 * time.Millisecond,
			ReconnectMin:   10 * time.Millisecond,
			ReconnectMax:   200 * time.Millisecond,
		}
		cfg.Realtime = actors.Config{
			SendRate: 1000, SendBurst: 1000, NoHeartBeat: true,
			GapWait: 50 * time.Millisecond, AnnounceInterval: 200 * time.Millisecond,
			AwayAfter: opts.awayAfter,
		}
		cfg.WebhookAllowPrivate = !slices.Contains(opts.refusePrivate, i)
		cfg.Slash = opts.slash
		srv, err := transport.New(ctx, cfg, logger.With("test_node", i), n.reg)
		if err != nil {
			t.Fatalf("start node %d: %v", i, err)
		}
		n.srv = srv
		n.url = "http://" + srv.Addr().String()
		done := make(chan error, 1)
		go func() { done <- srv.Run(context.Background()) }()
		t.Cleanup(func() {
			sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if err := srv.Shutdown(sctx); err != nil {
				t.Logf("node %d shutdown: %v", i, err)
			}
			<-done
		})
		nodes = append(nodes, n)
	}
	t.Cleanup(http.DefaultClient.CloseIdleConnections)
	return nodes
}

// metric sums the samples of a metric on n's /metrics whose labels include every one of
// want (written as `key="value"`).
func (n *node) metric(t *testing.T, name string, want ...string) float64 {
	t.Helper()
	resp, err := http.Get(n.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var sum float64
line:
	for _, l := range strings.Split(string(raw), "\n") {
		rest, ok := strings.CutPrefix(l, name)
		if !ok || (rest != "" && rest[0] != ' ' && rest[0] != '{') {
			continue
		}
		for _, w := range want {
			if !strings.Contains(rest, w) {
				continue line
			}
		}
		f := strings.Fields(rest[strings.LastIndexByte(rest, '}')+1:])
		if len(f) > 0 {
			v, _ := strconv.ParseFloat(f[0], 64)
			sum += v
		}
	}
	return sum
}

// waitTopic waits until Redis counts at least subs subscribers of a bus topic
// ("c:<channel>" or "u:<user>"): from then on a publish reaches them.
func waitTopic(t *testing.T, n *node, topic string, subs int64) {
	t.Helper()
	waitFor(t, "subscribers of "+topic, 10*time.Second, func() bool {
		m, err := n.rdb.PubSubNumSub(context.Background(), n.bus+topic).Result()
		return err == nil && m[n.bus+topic] >= subs
	})
}

// user is a test user with a token valid on every node (they share the dev secret).
type user struct {
	name  string
	id    int64
	token string
}

func newUser(t *testing.T, n *node, name string) *user {
	t.Helper()
	tok, _, err := n.srv.Verifier().Issue(name, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	u := &user{name: name, token: tok}
	var me struct {
		ID int64 `json:"id,string"`
	}
	call(t, n, http.MethodGet, "/api/users/me", u, nil, &me)
	u.id = me.ID
	return u
}

// call does one REST call and fails the test on a non-2xx answer.
func call(t *testing.T, n *node, method, path string, as *user, body, out any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, n.url+path, rd)
	req.Header.Set("Authorization", "Bearer "+as.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		t.Fatalf("%s %s as %s: %d %s", method, path, as.name, resp.StatusCode, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: decode %s: %v", method, path, raw, err)
		}
	}
}

// workspace creates a workspace owned by owner with the given public channels, and makes
// every member a workspace member (invitation and acceptance, each on its own node).
func workspace(t *testing.T, nodes []*node, owner *user, members []*user, channels ...string) []int64 {
	t.Helper()
	var ws struct {
		ID int64 `json:"id,string"`
	}
	call(t, nodes[0], http.MethodPost, "/api/workspaces", owner, map[string]string{"name": "cluster " + owner.name}, &ws)
	wid := strconv.FormatInt(ws.ID, 10)
	var ids []int64
	for _, name := range channels {
		var ch struct {
			ID int64 `json:"id,string"`
		}
		call(t, nodes[0], http.MethodPost, "/api/workspaces/"+wid+"/channels", owner,
			map[string]string{"name": name, "type": "public"}, &ch)
		ids = append(ids, ch.ID)
	}
	for i, m := range members {
		var inv struct {
			Token string `json:"token"`
		}
		call(t, nodes[0], http.MethodPost, "/api/workspaces/"+wid+"/invitations", owner,
			map[string]string{"username": m.name, "role": "member"}, &inv)
		call(t, nodes[i%len(nodes)], http.MethodPost, "/api/invitations/accept", m, map[string]string{"token": inv.Token}, nil)
	}
	return ids
}

// dial opens a STOMP session for u on n.
func dial(t *testing.T, n *node, u *user) *stompclient.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := stompclient.Dial(ctx, "ws"+strings.TrimPrefix(n.url, "http")+"/ws", stompclient.ClientOptions{Token: u.token})
	if err != nil {
		t.Fatalf("dial node %d as %s: %v", n.id, u.name, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if got, want := c.Connected().Value(stomp.HdrServer), "parley/node-"+strconv.Itoa(n.id); got != want {
		t.Errorf("CONNECTED server %q, want %q", got, want)
	}
	return c
}

// receiver records every new message of the channels it subscribed to, in arrival order.
type receiver struct {
	name string
	mu   sync.Mutex
	log  bench.ReceiverLog
	max  map[int64]int64 // channel → highest seq received
	subs []*stompclient.Subscription
}

func newReceiver(t *testing.T, c *stompclient.Client, name string, channels ...int64) *receiver {
	t.Helper()
	r := &receiver{name: name, max: map[int64]int64{}}
	r.log.Channels = channels
	for _, ch := range channels {
		s, err := c.SubscribeFunc(actors.ChannelDestination(ch), r.onMessage)
		if err != nil {
			t.Fatalf("%s: subscribe %d: %v", name, ch, err)
		}
		r.subs = append(r.subs, s)
	}
	return r
}

func (r *receiver) onMessage(f *stomp.Frame, _ time.Time) {
	v, ok := f.Get("seq")
	if !ok {
		return // an event about something else (typing, read…)
	}
	seq, _ := strconv.ParseInt(v, 10, 64)
	id, _ := strconv.ParseInt(f.Value(stomp.HdrMessageID), 10, 64)
	ch, _ := strconv.ParseInt(strings.TrimPrefix(f.Value(stomp.HdrDestination), "/topic/channel."), 10, 64)
	r.mu.Lock()
	r.log.Deliveries = append(r.log.Deliveries, bench.Delivery{Channel: ch, Seq: seq, MessageID: id})
	r.max[ch] = max(r.max[ch], seq)
	r.mu.Unlock()
}

// unsubscribe ends every subscription (with RECEIPTs).
func (r *receiver) unsubscribe() error {
	for _, s := range r.subs {
		if err := s.Unsubscribe(); err != nil {
			return err
		}
	}
	return nil
}

// reached reports whether r has received up to every channel's top seq in tops.
func (r *receiver) reached(tops map[int64]int64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, ch := range r.log.Channels {
		if r.max[ch] < tops[ch] {
			return false
		}
	}
	return true
}

func (r *receiver) snapshot() bench.ReceiverLog {
	r.mu.Lock()
	defer r.mu.Unlock()
	l := r.log
	l.Deliveries = append([]bench.Delivery(nil), l.Deliveries...)
	return l
}

// acks collects acknowledged sends.
type acks struct {
	mu   sync.Mutex
	list []bench.Ack
	tops map[int64]int64
}

// send posts content to channel with a receipt and records the acknowledgement.
func (a *acks) send(c *stompclient.Client, channel int64, content string) error {
	body, _ := json.Marshal(map[string]string{"channelId": strconv.FormatInt(channel, 10), "content": content})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	f, err := c.SendWithReceipt(ctx, actors.DestMessageSend, body)
	if err != nil {
		return err
	}
	seq, err1 := strconv.ParseInt(f.Value("seq"), 10, 64)
	id, err2 := strconv.ParseInt(f.Value(stomp.HdrMessageID), 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return fmt.Errorf("RECEIPT without seq or message-id: %v: %w", f, err)
	}
	a.mu.Lock()
	a.list = append(a.list, bench.Ack{Channel: channel, Seq: seq, MessageID: id})
	if a.tops == nil {
		a.tops = map[int64]int64{}
	}
	a.tops[channel] = max(a.tops[channel], seq)
	a.mu.Unlock()
	return nil
}

func (a *acks) snapshot() ([]bench.Ack, map[int64]int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	tops := make(map[int64]int64, len(a.tops))
	for k, v := range a.tops {
		tops[k] = v
	}
	return append([]bench.Ack(nil), a.list...), tops
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// check runs the total-queue checker over every receiver once each has everything
// acknowledged, and fails the test on any loss, duplicate, reordering or gap.
func check(t *testing.T, a *acks, rs []*receiver, wait time.Duration) bench.CheckResult {
	t.Helper()
	list, tops := a.snapshot()
	deadline := time.Now().Add(wait)
	for _, r := range rs {
		for !r.reached(tops) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
	}
	logs := make([]bench.ReceiverLog, len(rs))
	for i, r := range rs {
		logs[i] = r.snapshot()
	}
	res := bench.CheckLogs(list, logs)
	if res.Failed() || res.Lost != 0 || res.Duplicated != 0 || res.Reordered != 0 || res.Acked != int64(len(list)) {
		t.Fatalf("checker: %+v", res)
	}
	return res
}
