package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/parley-chat/parley/persistence/pgtest"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "parley-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "parley")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build parley:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// The embedded default: only DATABASE_URL set, Redis and Kafka in-process.
func TestServeEmbeddedDefaultReadyMetricsAndSIGTERM(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	cmd := exec.Command(binary, "serve")
	cmd.Env = append(cleanEnv(), "DATABASE_URL="+pgtest.NewDatabase(t), "PARLEY_ADDR="+addr)
	var logs lockedBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-done
		}
	}()

	base := "http://" + addr
	body := waitServeReady(t, base, done, &logs)
	for _, dep := range []string{"postgres", "redis", "kafka"} {
		if !strings.Contains(body, `"`+dep+`":{"status":"up"}`) {
			t.Errorf("/readyz does not report %s up: %s", dep, body)
		}
	}
	if status, b, err := get(base + "/healthz"); err != nil || status != 200 {
		t.Errorf("/healthz: %d %v %s", status, err, b)
	}
	_, metrics, err := get(base + "/metrics")
	if err != nil || !strings.Contains(metrics, "parley_build_info{") || !strings.Contains(metrics, "go_goroutines") || !strings.Contains(metrics, "go_sched_latencies_seconds_bucket") || !strings.Contains(metrics, "process_resident_memory_bytes") {
		t.Errorf("/metrics lacks parley_build_info, go or process collectors (%v)", err)
	}
	for _, want := range []string{`msg=redis .*mode=embedded`, `msg=kafka .*mode=embedded`, `msg=postgres .*mode=external`} {
		if !regexp.MustCompile(want).MatchString(logs.String()) {
			t.Errorf("start-up log does not match %q", want)
		}
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, logs.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("did not stop within 30s of SIGTERM\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "stopped") {
		t.Errorf("no clean stop in the log:\n%s", logs.String())
	}
}

func TestServeRejectsBadConfiguration(t *testing.T) {
	t.Parallel()
	cases := []struct {
		env  []string
		args []string
		want string
	}{
		{env: []string{"PARLEY_NODE_ID=abc"}, want: "PARLEY_NODE_ID"},
		{args: []string{"--node-id", "5000"}, want: "node-id 5000"},
		{args: []string{"--addr", "nonsense"}, want: "addr"},
		{env: []string{"PARLEY_JWT_LEEWAY=5m"}, want: "jwt-leeway"},
		{args: []string{"--dev=false"}, want: "no token verification configured"},
		{env: []string{"REDIS_URL=http://x"}, want: "redis url"},
		{args: []string{"--log-level", "loud"}, want: "log-level"},
		{args: []string{"--body-timeout", "-1s"}, want: "body-timeout -1s"},
		{env: []string{"PARLEY_MAX_SOCKETS_PER_IP=-5"}, want: "max-sockets-per-ip -5"},
		{args: []string{"--presence-ttl", "44s"}, want: "presence-ttl 44s"}, // + the 5s sweep is over 45s
	}
	for _, c := range cases {
		cmd := exec.Command(binary, append([]string{"serve"}, c.args...)...)
		cmd.Env = append(cleanEnv(), c.env...)
		out, err := cmd.CombinedOutput()
		if err == nil {
			t.Errorf("%v %v: accepted", c.env, c.args)
			continue
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if !strings.Contains(string(out), c.want) || strings.Contains(string(out), "goroutine ") {
			t.Errorf("%v %v: want one clear line naming %q, got:\n%s", c.env, c.args, c.want, out)
		}
		if !strings.Contains(lines[0], "usage") && len(lines) != 1 && !strings.Contains(string(out), "Flags") {
			t.Errorf("%v %v: %d lines of output, want one:\n%s", c.env, c.args, len(lines), out)
		}
	}
}

func TestServeHelpListsEverySetting(t *testing.T) {
	t.Parallel()
	out, err := exec.Command(binary, "serve", "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{"--addr", "$PARLEY_ADDR", "$DATABASE_URL", "$REDIS_URL", "$KAFKA_BROKERS", "(default :9000)", "--drain-timeout", "GOMAXPROCS", "GOMEMLIMIT",
		"--connect-timeout", "--max-unauth-sockets", "(default 2048)", "--max-unauth-sockets-per-ip", "(default 64)",
		"--max-sockets-per-ip", "(default 1000)", "--body-timeout", "(default 30s)", "--idle-timeout"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("help lacks %q", want)
		}
	}
}

func TestTokenAndVersion(t *testing.T) {
	t.Parallel()
	out, err := exec.Command(binary, "token", "--user", "alice").Output()
	if err != nil || strings.Count(strings.TrimSpace(string(out)), ".") != 2 {
		t.Fatalf("token: %v %q", err, out)
	}
	if err := exec.Command(binary, "token").Run(); err == nil {
		t.Fatal("token without --user succeeded")
	}
	out, err = exec.Command(binary, "version").Output()
	if err != nil || !strings.HasPrefix(string(out), "parley ") {
		t.Fatalf("version: %v %q", err, out)
	}
}

// lockedBuffer collects a child's output while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// cleanEnv drops the caller's parley settings so tests see only what they set.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "PARLEY_") || k == "DATABASE_URL" || strings.HasPrefix(k, "REDIS_") || k == "KAFKA_BROKERS" {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// waitServeReady polls base/readyz until it answers 200 and returns its body; it fails the
// test when the process ends first (done) or after 60 s, with the process's output.
func waitServeReady(t *testing.T, base string, done <-chan error, logs *lockedBuffer) string {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		status, body, err := get(base + "/readyz")
		if err == nil && status == http.StatusOK {
			return body
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready within 60s (last: %d %v)\n%s", status, err, logs.String())
		}
		select {
		case err := <-done:
			t.Fatalf("server exited early: %v\n%s", err, logs.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func get(url string) (int, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}
