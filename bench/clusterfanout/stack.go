package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/parley-chat/parley/cluster/redistest"
	"github.com/parley-chat/parley/persistence"
)

// stack is one round's system under test: a Redis (one server, or a 3+3 cluster), an
// in-process Kafka, a fresh database and three `parley serve` processes sharing them.
type stack struct {
	mode       string
	redisAddrs []string // every Redis process, masters and replicas
	urls       []string
	dbURL      string
	stops      []func() // in reverse order of start
}

// startStack brings a mode's stack up; on error it stops what it started.
func startStack(ctx context.Context, o options, mode string, logDir string) (*stack, error) {
	s := &stack{mode: mode}
	if err := s.start(ctx, o, logDir); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

func (s *stack) start(ctx context.Context, o options, logDir string) error {
	redisEnv, err := s.startRedis(ctx)
	if err != nil {
		return err
	}
	kafka, err := persistence.StartEmbeddedKafka(ctx, persistence.EmbeddedKafkaConfig{})
	if err != nil {
		return fmt.Errorf("kafka: %w", err)
	}
	s.stops = append(s.stops, kafka.Close)
	db, err := createDB(ctx, o.postgres)
	if err != nil {
		return err
	}
	s.stops = append(s.stops, func() { dropDB(o.postgres, db) })
	s.dbURL = dbURL(o.postgres, db)
	for i := 1; i <= o.nodes; i++ {
		port, err := sparePort()
		if err != nil {
			return err
		}
		env := append(os.Environ(),
			"PARLEY_ADDR=127.0.0.1:"+strconv.Itoa(port),
			"PARLEY_NODE_ID="+strconv.Itoa(i),
			"DATABASE_URL="+s.dbURL,
			redisEnv,
			"PARLEY_REDIS_PREFIX="+db+":",
			"KAFKA_BROKERS="+strings.Join(kafka.Addrs(), ","),
			// The harness opens every client from 127.0.0.1 and its one owner invites
			// every user over REST: the per-address and per-user caps are for the internet.
			"PARLEY_MAX_SOCKETS_PER_IP=1000000",
			"PARLEY_REST_WRITE_LIMIT=1000000,1000000",
			"PARLEY_UNAUTHENTICATED_LIMIT=1000000,1000000",
			// The machine's PostgreSQL (max_connections 100) is shared with other work.
			"PARLEY_DB_MAX_CONNS="+strconv.Itoa(o.dbConns),
		)
		logf, err := os.Create(filepath.Join(logDir, fmt.Sprintf("%s-node%d.log", s.mode, i)))
		if err != nil {
			return err
		}
		cmd := exec.Command(o.bin, "serve")
		cmd.Env, cmd.Stdout, cmd.Stderr = env, logf, logf
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			logf.Close()
			return fmt.Errorf("node %d: %w", i, err)
		}
		s.stops = append(s.stops, func() { stopProc(cmd); logf.Close() })
		url := "http://127.0.0.1:" + strconv.Itoa(port)
		// One at a time: the first migrates the shared database.
		if err := waitReady(ctx, url, 60*time.Second); err != nil {
			return fmt.Errorf("node %d (log %s): %w", i, logf.Name(), err)
		}
		s.urls = append(s.urls, url)
	}
	return nil
}

// startRedis starts the mode's Redis and returns the nodes' environment line for it.
func (s *stack) startRedis(ctx context.Context) (string, error) {
	switch s.mode {
	case "single":
		r, err := redistest.StartStandalone(ctx)
		if err != nil {
			return "", err
		}
		s.stops = append(s.stops, r.Stop)
		s.redisAddrs = []string{r.Addr}
		return "REDIS_URL=redis://" + r.Addr + "/0", nil
	case "cluster":
		c, err := redistest.StartCluster(ctx)
		if err != nil {
			return "", err
		}
		s.stops = append(s.stops, c.Stop)
		s.redisAddrs = c.Addrs()
		return "REDIS_CLUSTER_ADDRS=" + strings.Join(c.Addrs(), ","), nil
	}
	return "", fmt.Errorf("mode %q: want single or cluster", s.mode)
}

func (s *stack) stop() {
	for i := len(s.stops) - 1; i >= 0; i-- {
		s.stops[i]()
	}
	s.stops = nil
}

// stopProc asks a node to drain (SIGTERM) and kills it after 20 s.
func stopProc(cmd *exec.Cmd) {
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

func waitReady(ctx context.Context, url string, d time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url+"/readyz", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s/readyz: %w", url, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func sparePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// createDB makes a fresh database. The machine's PostgreSQL is shared and now and then out
// of connections (SQLSTATE 53300): wait for one, up to three minutes.
func createDB(ctx context.Context, admin string) (string, error) {
	deadline := time.Now().Add(3 * time.Minute)
	var c *pgx.Conn
	var err error
	for {
		if c, err = pgx.Connect(ctx, admin); err == nil {
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return "", fmt.Errorf("postgres: %w", err)
		}
		time.Sleep(time.Second)
	}
	defer c.Close(context.Background())
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	db := "parley_rcbench_" + hex.EncodeToString(b)
	if _, err := c.Exec(ctx, "CREATE DATABASE "+db); err != nil {
		return "", fmt.Errorf("create database: %w", err)
	}
	return db, nil
}

func dropDB(admin, db string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, admin)
	if err != nil {
		return
	}
	defer c.Close(ctx)
	_, _ = c.Exec(ctx, "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)")
}

// dbURL is admin's URL with the database replaced.
func dbURL(admin, db string) string {
	cfg, err := pgx.ParseConfig(admin)
	if err != nil {
		return admin
	}
	return fmt.Sprintf("postgres://%s@%s:%d/%s?sslmode=disable", cfg.User, cfg.Host, cfg.Port, db)
}

var errFailed = errors.New("a run failed its checks")
