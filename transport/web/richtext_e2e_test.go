package web_test

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/parley-chat/parley/persistence/pgtest"
	"github.com/parley-chat/parley/transport"
)

// TestBrowserRichText runs e2e/richtext.mjs (ADR 0042): an XSS corpus rendered in the web
// client with nothing executed, and pins, edit history and who-reacted between two people,
// in Debian's chromium against a real node (its own database, embedded Redis and Kafka, dev
// mode).
func TestBrowserRichText(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skipf("browser test skipped: %s is not installed (apt-get install chromium)", chromiumPath)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("browser test skipped: node is not installed")
	}
	if _, err := os.Stat(filepath.Join("e2e", "node_modules", "playwright-core")); err != nil {
		t.Skip("browser test skipped: e2e/node_modules is missing (run `make npm`, or `npm ci` in transport/web/e2e)")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cfg := transport.DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.DatabaseURL = pgtest.NewDatabase(t)
	srv, err := transport.New(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), prometheus.NewRegistry())
	if err != nil {
		cancel()
		t.Fatalf("start server: %v", err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("server: %v", err)
		}
	})
	artifacts, err := filepath.Abs("artifacts")
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithTimeout(ctx, 2*time.Minute)
	defer stop()
	cmd := exec.CommandContext(runCtx, node, "e2e/richtext.mjs", "--base", "http://"+srv.Addr().String(), "--artifacts", artifacts)
	cmd.Env = append(os.Environ(), "CHROMIUM="+chromiumPath)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		t.Log(sc.Text())
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("browser test failed: %v (screenshots in %s)", err, artifacts)
	}
}
