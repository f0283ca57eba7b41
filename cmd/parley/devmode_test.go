package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/parley-chat/parley/persistence/pgtest"
)

// startServe runs `parley serve` on a free port with its own database and the given
// environment and arguments, waits until /readyz answers 200 and returns the base URL and
// the process's output. The node gets SIGTERM at the end of the test.
func startServe(t *testing.T, env []string, args ...string) (string, *lockedBuffer) {
	t.Helper()
	addr := freeAddr(t)
	cmd := exec.Command(binary, append([]string{"serve"}, args...)...)
	cmd.Env = append(append(cleanEnv(), "DATABASE_URL="+pgtest.NewDatabase(t), "PARLEY_ADDR="+addr), env...)
	logs := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	base := "http://" + addr
	waitServeReady(t, base, done, logs)
	return base, logs
}

// devLogin asks the node for a token for username; it returns the status, the response's
// content type and its body.
func devLogin(t *testing.T, base, username string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/auth/dev/login", strings.NewReader(`{"username":"`+username+`"}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
}

const devModeWarning = "anyone who reaches POST /api/auth/dev/login can mint a token for any user"

// Issue 21, finding 1: a node given a JWT secret must not mint tokens for anyone who asks.
func TestServeWithSecretHasNoDevLogin(t *testing.T) {
	t.Parallel()
	base, logs := startServe(t, []string{"PARLEY_JWT_SECRET=" + strings.Repeat("s3cret-", 6)})
	status, ctype, body := devLogin(t, base, "ceo")
	if status != http.StatusNotFound || !strings.HasPrefix(ctype, "application/problem+json") || strings.Contains(body, "accessToken") {
		t.Fatalf("dev login with a configured secret: %d %s %s, want 404 problem+json and no token", status, ctype, body)
	}
	if !strings.Contains(logs.String(), "dev_mode=false") || strings.Contains(logs.String(), devModeWarning) {
		t.Errorf("start-up log does not say dev_mode=false, or warns without dev mode:\n%s", logs.String())
	}
}

// --dev (or PARLEY_DEV=true) keeps dev mode on next to a secret, and says once, at WARN, what
// that allows.
func TestServeWithSecretAndExplicitDevWarnsOnce(t *testing.T) {
	t.Parallel()
	for name, c := range map[string]struct {
		env  []string
		args []string
	}{
		"flag": {args: []string{"--dev"}},
		"env":  {env: []string{"PARLEY_DEV=true"}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			base, logs := startServe(t, append(c.env, "PARLEY_JWT_SECRET="+strings.Repeat("s3cret-", 6)), c.args...)
			status, _, body := devLogin(t, base, "ceo")
			var tok struct{ AccessToken string }
			if status != http.StatusOK || json.Unmarshal([]byte(body), &tok) != nil || tok.AccessToken == "" {
				t.Fatalf("dev login with --dev: %d %s", status, body)
			}
			var warnings []string
			for _, line := range strings.Split(logs.String(), "\n") {
				if strings.Contains(line, devModeWarning) {
					warnings = append(warnings, line)
				}
			}
			if len(warnings) != 1 || !strings.Contains(warnings[0], "level=WARN") {
				t.Errorf("want exactly one WARN line naming the risk, got %d:\n%s", len(warnings), logs.String())
			}
		})
	}
}

// The embedded default (`make run`): nothing configured, dev mode on, no warning.
func TestServeWithNothingConfiguredIsDevMode(t *testing.T) {
	t.Parallel()
	base, logs := startServe(t, nil)
	if status, _, body := devLogin(t, base, "alice"); status != http.StatusOK || !strings.Contains(body, "accessToken") {
		t.Fatalf("dev login in the embedded default: %d %s", status, body)
	}
	if !strings.Contains(logs.String(), "dev_mode=true") || strings.Contains(logs.String(), devModeWarning) {
		t.Errorf("start-up log: want dev_mode=true and no warning:\n%s", logs.String())
	}
}
