// Command refload measures issue 4's figures on one node: the Java reference project's
// workload (20 clients, each its own user, 5 msg/s each, all subscribed to one channel) and
// a ramp of per-client rates to find the highest sustained acknowledged rate with P99 under
// 50 ms. It runs the real-time path in process (PostgreSQL store, actor system, /ws handler
// on a loopback listener, a fresh database dropped at exit) and real STOMP clients over
// WebSocket; latency is send → deliver on the clients' clock, over every delivery.
//
//	go run ./bench/refload -duration 30s -ramp 5,10,20,40,80 -step 10s
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/jackc/pgx/v5"

	"github.com/parley-chat/parley/actors"
	"github.com/parley-chat/parley/cluster"
	"github.com/parley-chat/parley/persistence"
	"github.com/parley-chat/parley/stomp"
	"github.com/parley-chat/parley/stomp/stompclient"
	"github.com/parley-chat/parley/transport/api"
	"github.com/parley-chat/parley/transport/auth"
	"github.com/parley-chat/parley/transport/ws"
)

func main() {
	pg := flag.String("postgres", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", "PostgreSQL server (a fresh database is created on it)")
	clients := flag.Int("clients", 20, "clients, each its own user, all subscribed to one channel and all sending")
	rate := flag.Float64("rate", 5, "messages per second per client in the reference run")
	duration := flag.Duration("duration", 30*time.Second, "length of the reference run (0 skips it)")
	ramp := flag.String("ramp", "10,20,40,80,160", "per-client rates (msg/s) of the ramp, comma-separated (empty skips it)")
	step := flag.Duration("step", 10*time.Second, "length of each ramp step")
	idle := flag.Int("idle", 0, "also open this many idle sessions and print the server's memory per session")
	child := flag.String("idle-child", "", "internal: run as the idle sessions' process against this URL")
	childChannel := flag.Int64("idle-channel", 0, "internal: the channel the idle sessions subscribe to")
	flag.Parse()
	if *child != "" {
		if err := idleChild(*child, *childChannel); err != nil {
			fmt.Fprintln(os.Stderr, "refload idle child:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(*pg, *clients, *rate, *duration, *ramp, *step, *idle); err != nil {
		fmt.Fprintln(os.Stderr, "refload:", err)
		os.Exit(1)
	}
}

type node struct {
	url, dbName, admin string
	store              *persistence.Store
	verifier           *auth.Verifier
	sys                *actors.System
	srv                *http.Server
	close              func()
}

func run(pgURL string, clients int, rate float64, duration time.Duration, ramp string, step time.Duration, idle int) error {
	ctx := context.Background()
	n, err := startNode(ctx, pgURL)
	if err != nil {
		return err
	}
	defer n.close()
	cs, cid, err := setup(ctx, n, clients)
	if err != nil {
		return err
	}
	defer func() {
		for _, c := range cs {
			_ = c.client.Close()
		}
	}()
	fmt.Printf("node: in-process, %d clients, channel %d\n\n", clients, cid)
	fmt.Println("| run | per client | offered msg/s | acked msg/s | deliveries/s | P50 ms | P95 ms | P99 ms | max ms | lost | dup/order |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|---|")
	if duration > 0 {
		phase(cs, cid, "reference", rate, duration)
	}
	if ramp != "" {
		for _, f := range strings.Split(ramp, ",") {
			r, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
			if err != nil {
				return fmt.Errorf("ramp: %w", err)
			}
			phase(cs, cid, "ramp", r, step)
		}
	}
	if idle > 0 {
		return measureIdle(ctx, n, cid, idle)
	}
	return nil
}

func startNode(ctx context.Context, pgURL string) (*node, error) {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	n := &node{dbName: "parley_refload_" + hex.EncodeToString(b), admin: pgURL}
	cfg, err := pgx.ParseConfig(pgURL)
	if err != nil {
		return nil, err
	}
	dbURL := fmt.Sprintf("postgres://%s@%s:%d/%s?sslmode=disable", cfg.User, cfg.Host, cfg.Port, n.dbName)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	pool, err := persistence.OpenDB(ctx, persistence.DBConfig{URL: dbURL, CreateDatabase: true}, logger)
	if err != nil {
		return nil, err
	}
	if err := persistence.Migrate(ctx, pool, logger); err != nil {
		return nil, err
	}
	ids, _ := cluster.NewIDGenerator(1, nil)
	n.store = persistence.NewStore(pool, ids, persistence.StoreConfig{})
	n.verifier, err = auth.New(auth.Config{HS256Secret: "refload-secret-refload-secret-refload"}, nil, nil)
	if err != nil {
		return nil, err
	}
	// Per-connection send limit raised so that the ramp can go past SPEC's 20/s per client.
	n.sys, err = actors.New(actors.Config{NodeID: 1, SendRate: 10000, SendBurst: 10000}, actors.Deps{
		Store: n.store, ReadMarks: api.StoreReadMarkers{Store: n.store}, IDs: ids, Logger: logger})
	if err != nil {
		return nil, err
	}
	// Every client comes from 127.0.0.1: no per-address caps (ADR 0025).
	h, err := ws.New(ws.Config{MaxSocketsPerIP: 1 << 20, MaxUnauthenticatedPerIP: ws.DefaultMaxUnauthenticated}, ws.Deps{Sessions: n.sys, Verifier: n.verifier, Users: n.store, Logger: logger})
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /ws", h)
	n.srv = &http.Server{Handler: mux}
	go func() { _ = n.srv.Serve(ln) }()
	n.url = "ws://" + ln.Addr().String() + "/ws"
	n.close = func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = n.srv.Shutdown(sctx)
		_ = n.sys.Shutdown(sctx)
		pool.Close()
		if c, err := pgx.Connect(sctx, n.admin); err == nil {
			_, _ = c.Exec(sctx, "DROP DATABASE IF EXISTS "+n.dbName+" WITH (FORCE)")
			_ = c.Close(sctx)
		}
	}
	return n, nil
}

// client is one load client: its own user, subscribed to the channel, sending.
type client struct {
	client *stompclient.Client
	mu     sync.Mutex
	hist   *hdr.Histogram // send → deliver, microseconds
	next   int64          // next seq expected
	bad    int64          // duplicates or out of order
	got    int64
}

func setup(ctx context.Context, n *node, count int) ([]*client, int64, error) {
	var owner int64
	var wsID, cid int64
	cs := make([]*client, count)
	for i := range count {
		tok, _, err := n.verifier.Issue(fmt.Sprintf("load%03d", i), 2*time.Hour)
		if err != nil {
			return nil, 0, err
		}
		id, err := n.verifier.Verify(ctx, tok)
		if err != nil {
			return nil, 0, err
		}
		u, err := n.store.UpsertUser(ctx, id)
		if err != nil {
			return nil, 0, err
		}
		if i == 0 {
			owner = u.ID
			w, err := n.store.CreateWorkspace(ctx, owner, "load")
			if err != nil {
				return nil, 0, err
			}
			wsID = w.ID
			c, err := n.store.CreateChannel(ctx, wsID, owner, "load", persistence.ChannelPublic, "")
			if err != nil {
				return nil, 0, err
			}
			cid = c.ID
		} else if _, err := n.store.Pool().Exec(ctx, `INSERT INTO workspace_members (workspace_id, user_id, role) VALUES ($1, $2, 'member')`, wsID, u.ID); err != nil {
			return nil, 0, err
		}
		sc, err := stompclient.Dial(ctx, n.url, stompclient.ClientOptions{Token: tok})
		if err != nil {
			return nil, 0, err
		}
		c := &client{client: sc, hist: newHist()}
		if _, err := sc.SubscribeFunc(actors.ChannelDestination(cid), c.onMessage); err != nil {
			return nil, 0, err
		}
		cs[i] = c
	}
	return cs, cid, nil
}

func newHist() *hdr.Histogram { return hdr.New(1, 60_000_000, 3) }

// onMessage runs on the client's read goroutine: the content is "t=<unix nanos> …".
func (c *client) onMessage(f *stomp.Frame, received time.Time) {
	i := strings.Index(string(f.Body), `"content":"t=`)
	if i < 0 {
		return
	}
	rest := f.Body[i+len(`"content":"t=`):]
	j := strings.IndexByte(string(rest), ' ')
	sent, err := strconv.ParseInt(string(rest[:j]), 10, 64)
	if err != nil {
		return
	}
	seq, _ := strconv.ParseInt(f.Value("seq"), 10, 64)
	c.mu.Lock()
	_ = c.hist.RecordValue(received.Sub(time.Unix(0, sent)).Microseconds())
	if c.next != 0 && seq != c.next {
		c.bad++
	}
	c.next = seq + 1
	c.got++
	c.mu.Unlock()
}

// phase runs every client at perClient msg/s for d, waits for the last deliveries and prints
// one row.
func phase(cs []*client, cid int64, name string, perClient float64, d time.Duration) {
	for _, c := range cs {
		c.mu.Lock()
		c.hist.Reset()
		c.got = 0
		c.mu.Unlock()
	}
	var sent, acked, failed atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	end := start.Add(d)
	interval := time.Duration(float64(time.Second) / perClient)
	for i, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Spread the clients' ticks over one interval, as independent users would.
			time.Sleep(interval * time.Duration(i) / time.Duration(len(cs)))
			t := time.NewTicker(interval)
			defer t.Stop()
			var inflight sync.WaitGroup
			for now := range t.C {
				if now.After(end) {
					break
				}
				body := fmt.Appendf(nil, `{"channelId":"%d","content":"t=%d from %d"}`, cid, time.Now().UnixNano(), i)
				sent.Add(1)
				inflight.Add(1)
				go func() {
					defer inflight.Done()
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					defer cancel()
					if _, err := c.client.SendWithReceipt(ctx, "/app/message.send", body); err != nil {
						failed.Add(1)
						return
					}
					acked.Add(1)
				}()
			}
			inflight.Wait()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	want := acked.Load() * int64(len(cs))
	deadline := time.Now().Add(10 * time.Second)
	total := func() (n int64) {
		for _, c := range cs {
			c.mu.Lock()
			n += c.got
			c.mu.Unlock()
		}
		return n
	}
	for total() < want && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	h := newHist()
	var bad int64
	for _, c := range cs {
		c.mu.Lock()
		h.Merge(c.hist)
		bad += c.bad
		c.mu.Unlock()
	}
	got := total()
	ms := func(q float64) string { return fmt.Sprintf("%.1f", float64(h.ValueAtQuantile(q))/1000) }
	fmt.Printf("| %s | %g/s | %.0f | %.0f | %.0f | %s | %s | %s | %.1f | %d | %d |\n",
		name, perClient, float64(sent.Load())/elapsed.Seconds(), float64(acked.Load())/elapsed.Seconds(),
		float64(got)/elapsed.Seconds(), ms(50), ms(95), ms(99), float64(h.Max())/1000, want-got, bad)
	if f := failed.Load(); f > 0 {
		fmt.Printf("|  | %d sends failed |  |  |  |  |  |  |  |  |  |\n", f)
	}
}
