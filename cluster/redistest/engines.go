package redistest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// Real Redis topologies for tests (ADR 0043): processes of the machine's redis-server on
// spare loopback ports, in a temporary directory, killed by Stop. No mock: the cluster
// answers MOVED and CROSSSLOT and fails over as a production one does.

// Server is one redis-server process.
type Server struct {
	Port int
	Addr string // 127.0.0.1:Port
	cmd  *exec.Cmd
	mu   sync.Mutex
	dead bool
	// announced is the address the cluster names for this node when a proxy stands in
	// front of it (Cluster.Announce); empty: Addr.
	announced string
}

// Kill stops the process at once (SIGKILL), as a crashed host would. Idempotent.
func (s *Server) Kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dead {
		return
	}
	s.dead = true
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	_ = s.cmd.Wait()
}

// Alive reports whether Kill has not been called.
func (s *Server) Alive() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.dead
}

// spareClusterPort finds a loopback port p free for both clients and, as Redis Cluster's
// bus needs, p+10000.
func spareClusterPort() (int, error) {
	for range 200 {
		p := 20000 + rand.IntN(25000)
		ok := true
		for _, q := range []int{p, p + 10000} {
			l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(q))
			if err != nil {
				ok = false
				break
			}
			l.Close()
		}
		if ok {
			return p, nil
		}
	}
	return 0, errors.New("redistest: no spare port pair")
}

// startServer runs redis-server with args in dir and waits until it answers PING.
func startServer(ctx context.Context, dir string, port int, args ...string) (*Server, error) {
	return startProc(ctx, dir, port, nil, args...)
}

// startSentinelProc runs a Sentinel on conf (which it rewrites, so it must be writable).
func startSentinelProc(ctx context.Context, dir, conf string, port int) (*Server, error) {
	return startProc(ctx, dir, port, []string{conf, "--sentinel"})
}

func startProc(ctx context.Context, dir string, port int, lead []string, args ...string) (*Server, error) {
	all := append(lead, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir,
		"--save", "", "--appendonly", "no", "--logfile", filepath.Join(dir, "redis.log"))
	all = append(all, args...)
	cmd := exec.Command("redis-server", all...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // never outlive the test
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("redistest: start redis-server: %w", err)
	}
	s := &Server{Port: port, Addr: "127.0.0.1:" + strconv.Itoa(port), cmd: cmd}
	c := redis.NewClient(&redis.Options{Addr: s.Addr, MaxRetries: -1})
	defer c.Close()
	for {
		if err := c.Ping(ctx).Err(); err == nil {
			return s, nil
		}
		select {
		case <-ctx.Done():
			s.Kill()
			return nil, fmt.Errorf("redistest: redis-server on %d did not answer: %w (log %s)", port, ctx.Err(), tail(filepath.Join(dir, "redis.log")))
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 400 {
		b = b[len(b)-400:]
	}
	return strings.TrimSpace(string(b))
}

// info reads one field of INFO's section from addr ("" when absent).
func info(ctx context.Context, addr, section, field string) string {
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	defer c.Close()
	var text string
	var err error
	if section == "cluster" {
		text, err = c.ClusterInfo(ctx).Result()
	} else {
		text, err = c.Info(ctx, section).Result()
	}
	if err != nil {
		return ""
	}
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		if k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), ":"); ok && k == field {
			return v
		}
	}
	return ""
}

// poll calls f every 20ms until it returns true or ctx ends.
func poll(ctx context.Context, what string, f func() bool) error {
	for !f() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("redistest: %s: %w", what, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}
