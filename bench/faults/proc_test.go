package faults

import (
	"bytes"
	"context"
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
	"syscall"
	"testing"
	"time"
)

// The SIGTERM and SIGKILL scenarios signal a real `parley serve`, built once per run.
var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
	buildDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		_ = os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

func parleyBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "parley-faults-")
		if buildErr != nil {
			return
		}
		binPath = filepath.Join(buildDir, "parley")
		out, err := exec.Command("go", "build", "-o", binPath, "github.com/parley-chat/parley/cmd/parley").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// child is `parley serve` running as a child process.
type child struct {
	cmd  *exec.Cmd
	base string
	logs *lockedBuffer

	exited   chan struct{}
	exitErr  error
	exitedAt time.Time
}

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

// freeAddr returns a loopback address nobody listens on right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err, "free port")
	defer ln.Close()
	return ln.Addr().String()
}

// startChild runs `parley serve` as e's node (PostgreSQL and Redis through the proxies,
// the test broker) with extra environment, and waits until /readyz answers 200.
func (e *env) startChild(t *testing.T, nodeID int, extra ...string) *child {
	t.Helper()
	addr := freeAddr(t)
	c := &child{base: "http://" + addr, logs: &lockedBuffer{}, exited: make(chan struct{})}
	c.cmd = exec.Command(parleyBinary(t), "serve")
	c.cmd.Env = append(os.Environ(),
		"PARLEY_ADDR="+addr,
		"PARLEY_NODE_ID="+strconv.Itoa(nodeID),
		"DATABASE_URL="+e.proxiedDBURL(),
		"PARLEY_REDIS_PREFIX="+e.busPrefix,
		"KAFKA_BROKERS="+strings.Join(e.kafka.addrs(), ","),
		"PARLEY_SEND_RATE=200", "PARLEY_SEND_BURST=200", "PARLEY_REST_WRITE_LIMIT=1000,1000",
		"PARLEY_LOG_LEVEL=info",
	)
	c.cmd.Env = append(c.cmd.Env, e.redisEnv()...)
	c.cmd.Env = append(c.cmd.Env, extra...)
	c.cmd.Stdout, c.cmd.Stderr = c.logs, c.logs
	must(t, c.cmd.Start(), "start parley serve")
	go func() {
		c.exitErr = c.cmd.Wait()
		c.exitedAt = time.Now()
		close(c.exited)
	}()
	t.Cleanup(func() {
		c.signal(syscall.SIGKILL)
		<-c.exited
		if t.Failed() || os.Getenv("PARLEY_TEST_LOG") != "" {
			t.Logf("node %d log:\n%s", nodeID, tail(c.logs.String(), 60))
		}
	})
	ok := waitFor(30*time.Second, func() bool {
		select {
		case <-c.exited:
			return true
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		r, err := call(ctx, http.MethodGet, c.base+"/readyz", "", nil)
		return err == nil && r.status == http.StatusOK
	})
	select {
	case <-c.exited:
		t.Fatalf("parley serve exited at start: %v\n%s", c.exitErr, tail(c.logs.String(), 40))
	default:
	}
	if !ok {
		t.Fatalf("parley serve not ready within 30 s\n%s", tail(c.logs.String(), 40))
	}
	return c
}

func (c *child) wsURL() string { return "ws" + strings.TrimPrefix(c.base, "http") + "/ws" }

func (c *child) signal(sig syscall.Signal) {
	select {
	case <-c.exited:
	default:
		_ = c.cmd.Process.Signal(sig)
	}
}

// wait waits up to d for the process to exit and returns its exit code (-1: still running
// or killed by a signal).
func (c *child) wait(d time.Duration) (code int, exited bool) {
	select {
	case <-c.exited:
	case <-time.After(d):
		return -1, false
	}
	var ee *exec.ExitError
	if errors.As(c.exitErr, &ee) {
		return ee.ExitCode(), true
	}
	if c.exitErr != nil {
		return -1, true
	}
	return 0, true
}

func tail(s string, lines int) string {
	ls := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(ls[max(0, len(ls)-lines):], "\n")
}
