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

func TestReadyzNamesTheDependencyThatIsDown(t *testing.T) {
	srv, base, errc := startServer(t, func(c *transport.Config) { c.KafkaBrokers = []string{"127.0.0.1:1"} })
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		<-errc
		http.DefaultClient.CloseIdleConnections()
	}()
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Checks map[string]struct{ Status string } `json:"checks"`
	}
	json.NewDecoder(resp.Body).Decode(&body)
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503", resp.StatusCode)
	}
	if body.Checks["kafka"].Status != "down" || body.Checks["postgres"].Status != "up" || body.Checks["redis"].Status != "up" {
		t.Fatalf("checks: %+v", body.Checks)
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
	srv, base, errc := startServer(t, nil)
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		<-errc
		http.DefaultClient.CloseIdleConnections()
	}()
	page := func(path string) (int, string) {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	status, docs := page("/docs")
	if status != http.StatusOK || !strings.Contains(docs, "/openapi.json") {
		t.Fatalf("/docs: %d, not the API reader", status)
	}
	for _, p := range []string{"/docs/", "/docs/index.html"} {
		if status, body := page(p); status != http.StatusOK || body != docs {
			t.Errorf("%s: %d, not the /docs page", p, status)
		}
	}
}
