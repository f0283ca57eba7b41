package transport_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/parley-chat/parley/persistence/pgtest"
	"github.com/parley-chat/parley/transport"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func startServer(t *testing.T, mutate func(*transport.Config)) (*transport.Server, string, chan error) {
	t.Helper()
	cfg := transport.DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.DatabaseURL = pgtest.NewDatabase(t)
	cfg.DrainTimeout = 10 * time.Second
	cfg.Files.Dir = t.TempDir()
	if mutate != nil {
		mutate(&cfg)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := transport.New(context.Background(), cfg, logger, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Run(context.Background()) }()
	return srv, "http://" + srv.Addr().String(), errc
}

// serve starts a server like startServer and shuts it down when the test ends.
func serve(t *testing.T, mutate func(*transport.Config)) (*transport.Server, string) {
	t.Helper()
	srv, base, errc := startServer(t, mutate)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		<-errc
		http.DefaultClient.CloseIdleConnections()
	})
	return srv, base
}

// get returns url's status code and body.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestShutdownIsIdempotentAndLeavesNothingRunning(t *testing.T) {
	srv, base, errc := startServer(t, nil)
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	var body struct {
		Status string                       `json:"status"`
		Checks map[string]map[string]string `json:"checks"`
	}
	json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(body.Checks) != 3 {
		t.Fatalf("/readyz: %d %+v", resp.StatusCode, body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	done := make(chan error, 2)
	for range 2 {
		go func() { done <- srv.Shutdown(ctx) }()
	}
	for range 2 {
		if err := <-done; err != nil {
			t.Fatalf("shutdown: %v", err)
		}
	}
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("third shutdown: %v", err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("run: %v", err)
	}
	http.DefaultClient.CloseIdleConnections()
}

// Kafka down leaves the node serving (read markers wait in the fallback): /readyz is 200
// "degraded" naming it, while the operators' ?full=1 answers 503.
func TestReadyzNamesTheDependencyThatIsDown(t *testing.T) {
	_, base := serve(t, func(c *transport.Config) { c.KafkaBrokers = []string{"127.0.0.1:1"} })
	for _, tc := range []struct {
		path   string
		code   int
		status string
	}{
		{"/readyz", http.StatusOK, "degraded"},
		{"/readyz?full=1", http.StatusServiceUnavailable, "not_ready"},
	} {
		resp, err := http.Get(base + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			Status string
			Down   []string
			Checks map[string]struct{ Status string }
		}
		json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != tc.code || body.Status != tc.status {
			t.Fatalf("%s: %d %q, want %d %q", tc.path, resp.StatusCode, body.Status, tc.code, tc.status)
		}
		if h := resp.Header.Get("X-Parley-Down"); h != "kafka" || len(body.Down) != 1 {
			t.Fatalf("%s: X-Parley-Down %q, down %v", tc.path, h, body.Down)
		}
		if body.Checks["kafka"].Status != "down" || body.Checks["postgres"].Status != "up" || body.Checks["redis"].Status != "up" {
			t.Fatalf("%s: checks: %+v", tc.path, body.Checks)
		}
	}
}

// With --metrics-addr, /metrics is served there only: the main listener, which a reverse
// proxy exposes, answers 404.
func TestMetricsOnTheirOwnListener(t *testing.T) {
	srv, base := serve(t, func(c *transport.Config) { c.MetricsAddr = "127.0.0.1:0" })
	if code, _ := get(t, base+"/metrics"); code != http.StatusNotFound {
		t.Fatalf("main listener /metrics: %d, want 404", code)
	}
	code, body := get(t, "http://"+srv.MetricsAddr().String()+"/metrics")
	if code != http.StatusOK || !strings.Contains(body, "parley_build_info") || !strings.Contains(body, "parley_dependency_up") ||
		!strings.Contains(body, "parley_db_send_pool_max_conns 4") { // the send lane, on by default (ADR 0051)
		t.Fatalf("metrics listener: %d, %d bytes", code, len(body))
	}
	if code, _ := get(t, "http://"+srv.MetricsAddr().String()+"/readyz"); code != http.StatusNotFound {
		t.Fatalf("metrics listener serves /readyz: %d", code)
	}
	if code, _ := get(t, base+"/readyz"); code != http.StatusOK {
		t.Fatalf("main listener /readyz: %d", code)
	}
	// pprof is opt-in: not served unless Config.Pprof.
	if code, _ := get(t, "http://"+srv.MetricsAddr().String()+"/debug/pprof/goroutine?debug=1"); code != http.StatusNotFound {
		t.Fatalf("metrics listener serves pprof without --pprof: %d", code)
	}
}

// --pprof serves /debug/pprof/ on the metrics listener alone, and needs one.
func TestPprofOnlyOnTheMetricsListener(t *testing.T) {
	srv, base := serve(t, func(c *transport.Config) { c.MetricsAddr = "127.0.0.1:0"; c.Pprof = true })
	if code, body := get(t, "http://"+srv.MetricsAddr().String()+"/debug/pprof/goroutine?debug=1"); code != http.StatusOK || !strings.Contains(body, "goroutine profile") {
		t.Fatalf("metrics listener pprof: %d, %.80q", code, body)
	}
	if _, body := get(t, base+"/debug/pprof/goroutine?debug=1"); strings.Contains(body, "goroutine profile") {
		t.Fatal("main listener serves pprof")
	}
	cfg := transport.DefaultConfig()
	cfg.Pprof = true
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "pprof") {
		t.Fatalf("pprof without metrics-addr: %v", err)
	}
}

func TestInvalidConfigIsRejectedBeforeAnythingStarts(t *testing.T) {
	cfg := transport.DefaultConfig()
	cfg.NodeID = 4096
	cfg.JWTLeeway = time.Minute
	_, err := transport.New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), prometheus.NewRegistry())
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{"node-id 4096", "jwt-leeway"} {
		if !contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// Issue 21: "/docs/" showed the chat app; it leads to the API reader at /docs.
func TestDocsWithASlashLeadsToTheDocs(t *testing.T) {
	_, base := serve(t, nil)
	status, docs := get(t, base+"/docs")
	if status != http.StatusOK || !strings.Contains(docs, "/openapi.json") {
		t.Fatalf("/docs: %d, not the API reader", status)
	}
	for _, p := range []string{"/docs/", "/docs/index.html"} {
		if status, body := get(t, base+p); status != http.StatusOK || body != docs {
			t.Errorf("%s: %d, not the /docs page", p, status)
		}
	}
}
