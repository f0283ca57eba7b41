package transport

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/parley-chat/parley/internal/logtest"
	"github.com/parley-chat/parley/persistence/pgtest"
)

func startTestNode(t *testing.T, logs slog.Handler, mutate func(*Config)) (*Server, string) {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.DatabaseURL = pgtest.NewDatabase(t)
	cfg.DrainTimeout = 10 * time.Second
	if mutate != nil {
		mutate(&cfg)
	}
	srv, err := New(context.Background(), cfg, slog.New(logs), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Run(context.Background()) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-errc
		http.DefaultClient.CloseIdleConnections()
	})
	return srv, "http://" + srv.Addr().String()
}

type readyBody struct {
	Status string   `json:"status"`
	Down   []string `json:"down"`
}

func getReady(t *testing.T, url string) (int, readyBody) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b readyBody
	if err := json.NewDecoder(resp.Body).Decode(&b); err != nil {
		t.Fatalf("%s: %v", url, err)
	}
	return resp.StatusCode, b
}

// waitReady polls url until it answers code with status, or fails the test after 20 s.
func waitReady(t *testing.T, url string, code int, status string) readyBody {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got, b := getReady(t, url)
		if got == code && b.Status == status {
			return b
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d %+v, want %d %s", url, got, b, code, status)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// While Redis is down a node still acknowledges and delivers sends (SPEC guarantees 3 and
// 4), so /readyz stays 200 "degraded" and only ?full=1 answers 503. The outage is logged as
// one line when Redis goes, one when it is back, and none of the bus's per-attempt warnings.
func TestReadyzIsDegradedNotDownWhileRedisIsDown(t *testing.T) {
	mr := miniredis.NewMiniRedis()
	if err := mr.Start(); err != nil {
		t.Fatal(err)
	}
	defer mr.Close()
	var logs logtest.Recorder
	_, base := startTestNode(t, &logs, func(c *Config) {
		c.RedisURL = "redis://" + mr.Addr()
		c.NodeID = 7 // no lease: its renewals would be a second voice about the same outage
		c.RedisPrefix = "readyz-redis:"
	})
	waitReady(t, base+"/readyz", http.StatusOK, "ready")

	mr.Close()
	b := waitReady(t, base+"/readyz", http.StatusOK, "degraded")
	if !slices.Equal(b.Down, []string{"redis"}) {
		t.Fatalf("down %v, want [redis]", b.Down)
	}
	waitReady(t, base+"/readyz?full=1", http.StatusServiceUnavailable, "not_ready")
	// Keep Redis down for a while: the bus retries, /readyz and the watch check again.
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); {
		getReady(t, base+"/readyz")
		time.Sleep(100 * time.Millisecond)
	}

	if err := mr.Restart(); err != nil {
		t.Fatal(err)
	}
	waitReady(t, base+"/readyz?full=1", http.StatusOK, "ready")
	deadline := time.Now().Add(10 * time.Second)
	for logs.CountAttr("dependency back", "dependency", "redis") == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := logs.CountAttr("dependency down", "dependency", "redis"); n != 1 {
		t.Errorf("%d 'dependency down' lines for redis, want 1", n)
	}
	if n := logs.CountAttr("dependency back", "dependency", "redis"); n != 1 {
		t.Errorf("%d 'dependency back' lines for redis, want 1", n)
	}
	if n := logs.CountAttr("dependency still down", "dependency", "redis"); n != 0 {
		t.Errorf("%d reminders in an outage shorter than the reminder interval", n)
	}
	for _, w := range logs.Warnings() {
		if w != "dependency down" {
			t.Errorf("warning %q during a Redis outage; the tracker's line is the only one wanted", w)
		}
	}
}

// Shutdown flips /readyz to 503 before it releases anything, so that a check reaching the
// node while its dependencies are still up does not call a draining node ready.
func TestReadyzIsDrainingFromTheStartOfShutdown(t *testing.T) {
	srv, base := startTestNode(t, slog.DiscardHandler, nil)
	waitReady(t, base+"/readyz", http.StatusOK, "ready")

	// The last closer pushed runs first: while it blocks, every dependency is still up.
	inDrain, release := make(chan struct{}), make(chan struct{})
	srv.closers.push("test: hold the drain", func(context.Context) error {
		close(inDrain)
		<-release
		return nil
	})
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		done <- srv.Shutdown(ctx)
	}()
	<-inDrain
	rec := httptest.NewRecorder()
	srv.handleReadyz(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var b readyBody
	_ = json.NewDecoder(rec.Body).Decode(&b)
	if rec.Code != http.StatusServiceUnavailable || b.Status != "draining" {
		t.Fatalf("/readyz while draining: %d %+v, want 503 draining", rec.Code, b)
	}
}

// Before Run serves, the node is not ready even though its dependencies are.
func TestReadyzIsNotReadyBeforeRun(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.DatabaseURL = pgtest.NewDatabase(t)
	srv, err := New(context.Background(), cfg, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}()
	rec := httptest.NewRecorder()
	srv.handleReadyz(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	if rec.Code != http.StatusServiceUnavailable || !json.Valid(rec.Body.Bytes()) {
		t.Fatalf("/readyz before Run: %d %s", rec.Code, rec.Body)
	}
}
