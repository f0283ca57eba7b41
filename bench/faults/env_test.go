package faults

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/parley-chat/parley/cluster/redistest"
	"github.com/parley-chat/parley/persistence"
	"github.com/parley-chat/parley/persistence/pgtest"
	"github.com/parley-chat/parley/transport"
)

// faultsEnv gates the suite: it takes minutes, so plain `go test ./...` skips it and
// `make test-faults` (run by CI) sets it.
const faultsEnv = "PARLEY_FAULTS"

// findingsEnv runs the tests of findings not fixed yet (each skips otherwise, naming it).
const findingsEnv = "PARLEY_FAULTS_FINDINGS"

func skipFinding(t *testing.T, finding string) {
	t.Helper()
	if os.Getenv(findingsEnv) != "1" {
		t.Skipf("finding: %s (%s=1 runs it)", finding, findingsEnv)
	}
}

func requireFaults(t *testing.T) {
	t.Helper()
	if os.Getenv(faultsEnv) != "1" {
		t.Skipf("fault suite: run with %s=1 (make test-faults)", faultsEnv)
	}
}

// nextNodeID hands each node of the suite its own id, so that nodes of different tests
// sharing the real Redis never make the same ids (the marker and parking keys are per id).
var nextNodeID atomic.Int32

func init() { nextNodeID.Store(int32(700 + os.Getpid()%100)) }

// nextRedisDB spreads tests over Redis databases 8..15 for the same reason.
var nextRedisDB atomic.Int32

// env is one scenario's world: its own PostgreSQL database and a toxiproxy in front of the
// server, a toxiproxy in front of the real Redis (its own database number), and a kfake
// broker the test can stop and restart on the same port without losing what it acknowledged.
type env struct {
	t       *testing.T
	dbURL   string // direct to PostgreSQL (checks)
	pg      *toxiproxy.Proxy
	redis   *toxiproxy.Proxy
	redisDB int
	kafka   *broker
	// busPrefix keeps this test's cross-node bus apart from every other test's on the
	// shared Redis (Pub/Sub ignores database numbers).
	busPrefix string
	// redisCluster, under PARLEY_REDIS_MODE=cluster, is this test's own Redis Cluster with
	// a proxy per node (redis is then nil); sentinel, set by a test, a Sentinel set-up the
	// nodes use instead of either.
	redisCluster *redisCluster
	sentinel     *redistest.Sentinel
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, dbURL: pgtest.NewDatabase(t)}
	u, err := url.Parse(e.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	e.pg = newProxy(t, "postgres", u.Host)
	if clusterMode() {
		e.redisCluster = newRedisCluster(t)
	} else {
		e.redis = newProxy(t, "redis", redistest.Addr())
		e.redisDB = 8 + int(nextRedisDB.Add(1)-1)%8
	}
	e.kafka = newBroker(t)
	e.busPrefix = fmt.Sprintf("faults:%d:%d:bus:", os.Getpid(), nextNodeID.Add(1))
	return e
}

func newProxy(t *testing.T, name, upstream string) *toxiproxy.Proxy {
	t.Helper()
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop())
	p := toxiproxy.NewProxy(srv, name, "127.0.0.1:0", upstream)
	if err := p.Start(); err != nil {
		t.Fatalf("toxiproxy %s: %v", name, err)
	}
	t.Cleanup(p.Stop)
	return p
}

// proxiedDBURL is the database URL through the PostgreSQL proxy.
func (e *env) proxiedDBURL() string {
	u, _ := url.Parse(e.dbURL)
	u.Host = e.pg.Listen
	return u.String()
}

func (e *env) proxiedRedisURL() string {
	return "redis://" + e.redis.Listen + "/" + strconv.Itoa(e.redisDB)
}

// down cuts every connection through p and refuses new ones; up lets them in again on the
// same port.
func down(p *toxiproxy.Proxy) { p.Stop() }

func up(t *testing.T, p *toxiproxy.Proxy) {
	t.Helper()
	var err error
	for range 50 { // the port was ours a moment ago; a late close may hold it briefly
		if err = p.Start(); err == nil || errors.Is(err, toxiproxy.ErrProxyAlreadyStarted) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("restart proxy %s on %s: %v", p.Name, p.Listen, err)
}

// addToxic adds a toxic given as toxiproxy's JSON and returns a func that removes it.
func addToxic(t *testing.T, p *toxiproxy.Proxy, js string) (remove func()) {
	t.Helper()
	w, err := p.Toxics.AddToxicJson(strings.NewReader(js))
	if err != nil {
		t.Fatalf("toxic %s: %v", js, err)
	}
	return func() {
		if err := p.Toxics.RemoveToxic(context.Background(), w.Name); err != nil {
			t.Errorf("remove toxic %s: %v", w.Name, err)
		}
	}
}

// broker is a kfake Kafka broker that keeps its log in a directory, so stopping it and
// starting it again on the same port is a broker restart, not a new empty cluster.
type broker struct {
	t   *testing.T
	cfg persistence.EmbeddedKafkaConfig
	k   *persistence.EmbeddedKafka
}

func newBroker(t *testing.T) *broker {
	t.Helper()
	b := &broker{t: t, cfg: persistence.EmbeddedKafkaConfig{DataDir: t.TempDir()}}
	b.start()
	_, port, _ := net.SplitHostPort(b.k.Addrs()[0])
	b.cfg.Port, _ = strconv.Atoi(port)
	t.Cleanup(func() {
		if b.k != nil {
			b.k.Close()
		}
	})
	return b
}

func (b *broker) addrs() []string { return []string{"127.0.0.1:" + strconv.Itoa(b.cfg.Port)} }

func (b *broker) start() {
	b.t.Helper()
	var err error
	for range 50 {
		if b.k, err = persistence.StartEmbeddedKafka(context.Background(), b.cfg); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.t.Fatalf("start kafka: %v", err)
}

func (b *broker) stop() {
	b.k.Close()
	b.k = nil
}

// node is a parley node running in this process.
type node struct {
	srv    *transport.Server
	reg    *prometheus.Registry
	base   string // http://host:port
	cancel context.CancelFunc
	done   chan error
}

// nodeConfig is a node of env: PostgreSQL and Redis through the proxies, the test broker.
func (e *env) nodeConfig() transport.Config {
	cfg := transport.DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.NodeID = int(nextNodeID.Add(1))
	cfg.DatabaseURL = e.proxiedDBURL()
	e.setRedis(&cfg)
	cfg.KafkaBrokers = e.kafka.addrs()
	cfg.RedisPrefix = e.busPrefix // keys and bus topics of this test only
	cfg.DrainTimeout = 10 * time.Second
	cfg.Realtime.SendRate = 200 // the suite's load, not the rate limit, is under test
	cfg.Realtime.SendBurst = 200
	return cfg
}

func testLogger() *slog.Logger {
	if os.Getenv("PARLEY_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// startNode runs cfg in this process until the test ends (or stop is called).
func startNode(t *testing.T, cfg transport.Config) *node {
	t.Helper()
	reg := prometheus.NewRegistry()
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := transport.New(ctx, cfg, testLogger(), reg)
	if err != nil {
		cancel()
		t.Fatalf("start node: %v", err)
	}
	n := &node{srv: srv, reg: reg, base: "http://" + srv.Addr().String(), cancel: cancel, done: make(chan error, 1)}
	go func() { n.done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		if err := n.stop(); err != nil {
			t.Logf("node stopped: %v", err)
		}
	})
	return n
}

// stop drains the node and waits for it; later calls return nil.
func (n *node) stop() error {
	n.cancel()
	err, ok := <-n.done
	if !ok {
		return nil
	}
	close(n.done)
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

func (n *node) wsURL() string { return "ws" + strings.TrimPrefix(n.base, "http") + "/ws" }

// metric sums the samples of a counter or gauge, or for a histogram returns its sum and
// count (the average is sum/count).
func metric(reg prometheus.Gatherer, name string, labels ...string) (sum, count float64) {
	mfs, err := reg.Gather()
	if err != nil {
		return 0, 0
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, lp := range m.GetLabel() {
					if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
						found = true
					}
				}
				if !found {
					continue next
				}
			}
			switch {
			case m.Counter != nil:
				sum += m.GetCounter().GetValue()
				count++
			case m.Gauge != nil:
				sum += m.GetGauge().GetValue()
				count++
			case m.Histogram != nil:
				sum += m.GetHistogram().GetSampleSum()
				count += float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return sum, count
}

// waitFor polls cond until it holds or d passes.
func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

func must(t *testing.T, err error, what string, args ...any) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", fmt.Sprintf(what, args...), err)
	}
}
