package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// CentrifugoInstall is how a machine gets the peer the harness compares against.
const CentrifugoInstall = "go install github.com/centrifugal/centrifugo/v6@v6.9.1"

// ErrNoCentrifugo is returned when the centrifugo binary is not found.
var ErrNoCentrifugo = errors.New("centrifugo not installed (" + CentrifugoInstall + ")")

// FindCentrifugo returns path if set, else centrifugo on $PATH, else $GOBIN, $GOPATH/bin or
// ~/go/bin (where go install puts it); ErrNoCentrifugo when none exists.
func FindCentrifugo(path string) (string, error) {
	if path != "" {
		if _, err := os.Stat(path); err != nil {
			return "", fmt.Errorf("--centrifugo %s: %w", path, err)
		}
		return path, nil
	}
	if p, err := exec.LookPath("centrifugo"); err == nil {
		return p, nil
	}
	var dirs []string
	if d := os.Getenv("GOBIN"); d != "" {
		dirs = append(dirs, d)
	}
	if d := os.Getenv("GOPATH"); d != "" {
		dirs = append(dirs, filepath.Join(strings.Split(d, string(os.PathListSeparator))[0], "bin"))
	}
	if h, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(h, "go", "bin"))
	}
	for _, d := range dirs {
		p := filepath.Join(d, "centrifugo")
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	return "", ErrNoCentrifugo
}

// centrifugo is one Centrifugo process the harness started on a spare loopback port with a
// generated configuration: HMAC tokens, one namespace "bench" whose channels any connected
// client may subscribe to and publish in, the in-memory broker (no history: Centrifugo keeps
// nothing), Prometheus on.
type centrifugo struct {
	cmd    *exec.Cmd
	dir    string
	addr   string
	secret string
	stderr *syncBuffer
	exited chan struct{}
}

// centNamespace is the namespace of every channel of a run.
const centNamespace = "bench"

func startCentrifugo(ctx context.Context, bin string) (*centrifugo, error) {
	dir, err := os.MkdirTemp("", "parley-bench-centrifugo-")
	if err != nil {
		return nil, err
	}
	secret := make([]byte, 24)
	_, _ = rand.Read(secret)
	c := &centrifugo{dir: dir, secret: hex.EncodeToString(secret), stderr: &syncBuffer{}, exited: make(chan struct{})}
	// A spare port: the kernel's choice, released just before Centrifugo binds it (a narrow
	// race another process could win; the health wait then fails clearly).
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	c.addr = "127.0.0.1:" + strconv.Itoa(port)
	conf := map[string]any{
		"http_server": map[string]any{"address": "127.0.0.1", "port": port},
		"log":         map[string]any{"level": "error"},
		"client": map[string]any{
			"token":           map[string]any{"hmac_secret_key": c.secret},
			"allowed_origins": []string{"*"},
			// The harness's clients use 10 s heart-beats with parley; Centrifugo's default
			// 25 s ping is kept (its clients answer each ping).
		},
		"channel": map[string]any{"namespaces": []map[string]any{{
			"name": centNamespace, "allow_subscribe_for_client": true, "allow_publish_for_client": true,
		}}},
		"prometheus":  map[string]any{"enabled": true},
		"health":      map[string]any{"enabled": true},
		"usage_stats": map[string]any{"disabled": true},
	}
	b, _ := json.MarshalIndent(conf, "", "  ")
	path := filepath.Join(dir, "config.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	c.cmd = exec.Command(bin, "--config", path)
	c.cmd.Dir = dir
	c.cmd.Stdout, c.cmd.Stderr = c.stderr, c.stderr
	if err := c.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() { _ = c.cmd.Wait(); close(c.exited) }()
	if err := c.awaitHealthy(ctx, 15*time.Second); err != nil {
		c.stop()
		return nil, err
	}
	return c, nil
}

func (c *centrifugo) awaitHealthy(ctx context.Context, within time.Duration) error {
	deadline := time.Now().Add(within)
	hc := &http.Client{Timeout: time.Second}
	for {
		resp, err := hc.Get("http://" + c.addr + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-c.exited:
			return fmt.Errorf("centrifugo exited at start: %s", strings.TrimSpace(c.stderr.String()))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("centrifugo on %s not healthy within %s: %v %s", c.addr, within, err, c.stderr.String())
		}
	}
}

func (c *centrifugo) wsURL() string { return "ws://" + c.addr + "/connection/websocket" }

// token signs a connection token for user (HS256 with the generated secret).
func (c *centrifugo) token(user string, ttl time.Duration) (string, error) {
	t := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": user, "exp": time.Now().Add(ttl).Unix()})
	return t.SignedString([]byte(c.secret))
}

// proc reads the process's resident memory and CPU time from /proc, as the node's own
// process_resident_memory_bytes and process_cpu_seconds_total are read.
func (c *centrifugo) proc() (procStats, error) { return readProc(c.cmd.Process.Pid) }

func (c *centrifugo) stop() {
	_ = c.cmd.Process.Signal(os.Interrupt)
	select {
	case <-c.exited:
	case <-time.After(10 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.exited
	}
	os.RemoveAll(c.dir)
}

// procStats is one process's figures from /proc.
type procStats struct {
	RSSBytes   float64
	CPUSeconds float64
}

// clockTicks is USER_HZ, 100 on every Linux the harness runs on.
const clockTicks = 100

func readProc(pid int) (procStats, error) {
	var s procStats
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			s.RSSBytes = kb * 1024
		}
	}
	b, err = os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, err
	}
	// The command name (field 2) may hold spaces: count fields after its closing paren.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) > 12 {
		ut, _ := strconv.ParseFloat(f[11], 64)
		st, _ := strconv.ParseFloat(f[12], 64)
		s.CPUSeconds = (ut + st) / clockTicks
	}
	return s, nil
}

// syncBuffer collects a child's output for error messages.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.b.Len() > 64<<10 {
		return len(p), nil
	}
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
