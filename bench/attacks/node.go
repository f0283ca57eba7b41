package main

import (
	"bytes"
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

// target is the node under attack: its base URL, the secret its tokens are signed with,
// the database the harness may seed (empty: no seeding) and, for a child node, its pid.
type target struct {
	base, ws  string
	secret    string
	dbURL     string
	pid       int
	devLogin  bool
	stop      func()
	childLogs *syncBuffer
}

// startChild runs `parley serve` on a free loopback port with a fresh database on pgServer
// and embedded Redis and Kafka, and waits for /readyz. stop ends it and drops the database.
func startChild(ctx context.Context, bin, pgServer string, dev bool, extra []string) (*target, error) {
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	dbName := "parley_attacks_" + hex.EncodeToString(suffix)
	pcfg, err := pgx.ParseConfig(pgServer)
	if err != nil {
		return nil, fmt.Errorf("--postgres: %w", err)
	}
	dbURL := fmt.Sprintf("postgres://%s@%s:%d/%s?sslmode=disable", pcfg.User, pcfg.Host, pcfg.Port, dbName)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	secretBytes := make([]byte, 24)
	_, _ = rand.Read(secretBytes)
	t := &target{base: "http://" + addr, ws: "ws://" + addr + "/ws", secret: hex.EncodeToString(secretBytes),
		dbURL: dbURL, devLogin: dev, childLogs: &syncBuffer{}}
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(),
		"PARLEY_ADDR="+addr, "DATABASE_URL="+dbURL, "REDIS_URL=", "KAFKA_BROKERS=",
		"PARLEY_JWT_SECRET="+t.secret, "PARLEY_DEV="+strconv.FormatBool(dev), "PARLEY_LOG_LEVEL=warn")
	cmd.Env = append(cmd.Env, extra...)
	cmd.Stdout, cmd.Stderr = t.childLogs, t.childLogs
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s serve: %w", bin, err)
	}
	t.pid = cmd.Process.Pid
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.stop = func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		dropDatabase(pgServer, dbName)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-exited:
			dropDatabase(pgServer, dbName)
			return nil, fmt.Errorf("parley serve exited at start:\n%s", t.childLogs.String())
		default:
		}
		if ready(ctx, t.base) {
			return t, nil
		}
		if time.Now().After(deadline) {
			t.stop()
			return nil, fmt.Errorf("parley serve not ready within 60 s:\n%s", t.childLogs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func ready(ctx context.Context, base string) bool {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/readyz", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func dropDatabase(server, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, server)
	if err != nil {
		return
	}
	defer c.Close(ctx)
	_, _ = c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
}

// procSample is a process's open files and resident memory, from /proc.
type procSample struct {
	FDs    int     `json:"fds"`
	RSSMiB float64 `json:"rssMiB"`
}

// sampleProc reads /proc/<pid>; ok is false when pid is 0 or the process is gone.
func sampleProc(pid int) (procSample, bool) {
	if pid <= 0 {
		return procSample{}, false
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return procSample{}, false
	}
	s := procSample{FDs: len(fds)}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return procSample{}, false
	}
	for line := range strings.SplitSeq(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			s.RSSMiB = float64(int(kb/1024*10)) / 10
		}
	}
	return s, true
}

// procWatch keeps the highest fd count and RSS seen while it runs.
type procWatch struct {
	mu   sync.Mutex
	max  procSample
	seen bool
	stop chan struct{}
	done chan struct{}
}

func watchProc(pid int, every time.Duration) *procWatch {
	w := &procWatch{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			if s, ok := sampleProc(pid); ok {
				w.mu.Lock()
				w.seen = true
				w.max.FDs = max(w.max.FDs, s.FDs)
				w.max.RSSMiB = max(w.max.RSSMiB, s.RSSMiB)
				w.mu.Unlock()
			}
			select {
			case <-w.stop:
				return
			case <-t.C:
			}
		}
	}()
	return w
}

// end stops the watch and returns the maxima (nil when nothing was read).
func (w *procWatch) end() *procSample {
	close(w.stop)
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.seen {
		return nil
	}
	m := w.max
	return &m
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.b.Len() > 1<<20 { // keep the tail only
		s.b.Reset()
	}
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
