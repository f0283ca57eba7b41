package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// SpawnConfig starts the nodes under test as `parley serve` subprocesses of the harness
// (issue 27): a fresh database and Redis prefix for the run, shared by every node, and
// optionally one node signalled mid-run, the fault the clients must resume from.
type SpawnConfig struct {
	// Nodes is how many to start; 0: none (the run uses URLs).
	Nodes int
	// Executable is the parley binary. Default: this process's.
	Executable string
	// AdminDatabaseURL is the PostgreSQL server the run's database is created on (and dropped
	// from after). Default postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable.
	AdminDatabaseURL string
	// RedisURL is the nodes' bus, under a fresh prefix. Default redis://127.0.0.1:6379.
	RedisURL string
	// Env is added to every node's environment (after the harness's own settings).
	Env []string
	// FaultNode is the index of the node sent FaultSignal FaultAt after the load starts;
	// FaultSignal 0: no fault.
	FaultNode   int
	FaultSignal syscall.Signal
	FaultAt     time.Duration
	// RestartAfter, when positive, starts the signalled node again (same address) this long
	// after it exited.
	RestartAfter time.Duration
}

// spawned is the run's nodes.
type spawned struct {
	cfg   SpawnConfig
	db    string
	admin *pgx.ConnConfig
	env   []string
	mu    sync.Mutex
	nodes []*nodeProc
}

type nodeProc struct {
	id     int
	addr   string
	cmd    *exec.Cmd
	exited chan struct{}
	logs   *lockedTail
}

// startNodes creates the database and starts cfg.Nodes nodes one after the other (the first
// migrates the database), each ready (/readyz 200) before the next.
func startNodes(ctx context.Context, cfg SpawnConfig, runID string) (*spawned, []string, error) {
	if cfg.Executable == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, nil, fmt.Errorf("spawn: %w", err)
		}
		cfg.Executable = exe
	}
	if cfg.AdminDatabaseURL == "" {
		cfg.AdminDatabaseURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	}
	if cfg.RedisURL == "" {
		cfg.RedisURL = "redis://127.0.0.1:6379"
	}
	admin, err := pgx.ParseConfig(cfg.AdminDatabaseURL)
	if err != nil {
		return nil, nil, fmt.Errorf("spawn: admin database URL: %w", err)
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	s := &spawned{cfg: cfg, admin: admin, db: "parley_bench_" + runID + "_" + hex.EncodeToString(b)}
	if err := s.adminExec(ctx, "CREATE DATABASE "+s.db); err != nil {
		return nil, nil, fmt.Errorf("spawn: %w", err)
	}
	s.env = append(os.Environ(),
		fmt.Sprintf("DATABASE_URL=postgres://%s@%s:%d/%s?sslmode=disable", admin.User, admin.Host, admin.Port, s.db),
		"REDIS_URL="+cfg.RedisURL, "PARLEY_REDIS_PREFIX="+s.db+":", "PARLEY_DEV=true",
		// The harness's clients all come from loopback: the per-address caps are for the
		// internet (ADR 0025), and a storm opens thousands of sockets before CONNECT.
		"PARLEY_MAX_SOCKETS_PER_IP=1000000", "PARLEY_MAX_UNAUTH_SOCKETS_PER_IP=1000000", "PARLEY_MAX_UNAUTH_SOCKETS=1000000",
		"PARLEY_REST_WRITE_LIMIT=1000000,1000000", "PARLEY_UNAUTHENTICATED_LIMIT=1000000,1000000",
		"PARLEY_LOG_LEVEL=warn", "PARLEY_DB_MAX_CONNS=8")
	s.env = append(s.env, cfg.Env...)
	var urls []string
	for i := range cfg.Nodes {
		addr, err := freeLoopbackAddr()
		if err != nil {
			s.stop()
			return nil, nil, err
		}
		n := &nodeProc{id: i + 1, addr: addr}
		if err := s.start(ctx, n); err != nil {
			s.stop()
			return nil, nil, err
		}
		s.nodes = append(s.nodes, n)
		urls = append(urls, "http://"+addr)
	}
	return s, urls, nil
}

// adminExec runs sql on the admin database, retrying for a minute while the server has no
// connection slot free (SQLSTATE 53300): the benchmark machine's PostgreSQL is shared.
func (s *spawned) adminExec(ctx context.Context, sql string) error {
	var c *pgx.Conn
	var err error
	for deadline := time.Now().Add(time.Minute); ; {
		if c, err = pgx.ConnectConfig(ctx, s.admin); err == nil || !strings.Contains(err.Error(), "53300") || time.Now().After(deadline) {
			break
		}
		sleep(ctx, time.Second)
	}
	if err != nil {
		return err
	}
	defer c.Close(context.Background())
	_, err = c.Exec(ctx, sql)
	return err
}

func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("spawn: free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// start runs node n and waits until it is ready.
func (s *spawned) start(ctx context.Context, n *nodeProc) error {
	n.cmd = exec.Command(s.cfg.Executable, "serve")
	n.cmd.Env = append(append([]string(nil), s.env...), "PARLEY_ADDR="+n.addr, "PARLEY_NODE_ID="+strconv.Itoa(n.id))
	n.logs = &lockedTail{}
	n.cmd.Stdout, n.cmd.Stderr = n.logs, n.logs
	n.exited = make(chan struct{})
	if err := n.cmd.Start(); err != nil {
		return fmt.Errorf("spawn node %d: %w", n.id, err)
	}
	go func() {
		_ = n.cmd.Wait()
		close(n.exited)
	}()
	deadline := time.Now().Add(60 * time.Second)
	client := &http.Client{Timeout: time.Second}
	for {
		select {
		case <-n.exited:
			return fmt.Errorf("spawn node %d exited at start: %s", n.id, n.logs.String())
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		if resp, err := client.Get("http://" + n.addr + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("spawn node %d not ready within 60s: %s", n.id, n.logs.String())
		}
		time.Sleep(100 * time.Millisecond) // polling a child's readiness, bounded by deadline
	}
}

// fault signals the configured node and, with RestartAfter, starts it again. It returns
// when the signal was sent; restart errors are returned on the channel.
func (s *spawned) fault(ctx context.Context) (time.Time, <-chan error, error) {
	c := s.cfg
	if c.FaultNode < 0 || c.FaultNode >= len(s.nodes) {
		return time.Time{}, nil, fmt.Errorf("spawn: fault node %d of %d", c.FaultNode, len(s.nodes))
	}
	n := s.nodes[c.FaultNode]
	at := time.Now()
	if err := n.cmd.Process.Signal(c.FaultSignal); err != nil {
		return at, nil, fmt.Errorf("spawn: signal node %d: %w", n.id, err)
	}
	done := make(chan error, 1)
	if c.RestartAfter <= 0 {
		close(done)
		return at, done, nil
	}
	go func() {
		defer close(done)
		select {
		case <-n.exited:
		case <-ctx.Done():
			return
		}
		sleep(ctx, c.RestartAfter)
		s.mu.Lock()
		defer s.mu.Unlock()
		if err := s.start(ctx, n); err != nil {
			done <- err
		}
	}()
	return at, done, nil
}

// stop kills every node still running and drops the database.
func (s *spawned) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range s.nodes {
		select {
		case <-n.exited:
			continue
		default:
		}
		_ = n.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-n.exited:
		case <-time.After(15 * time.Second):
			_ = n.cmd.Process.Kill()
			<-n.exited
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	_ = s.adminExec(ctx, "DROP DATABASE IF EXISTS "+s.db+" WITH (FORCE)")
}

// lockedTail keeps the last 8 KiB a node wrote, for the error when it fails.
type lockedTail struct {
	mu sync.Mutex
	b  []byte
}

func (l *lockedTail) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b = append(l.b, p...)
	if len(l.b) > 8<<10 {
		l.b = append([]byte(nil), l.b[len(l.b)-8<<10:]...)
	}
	return len(p), nil
}

func (l *lockedTail) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return string(l.b)
}
