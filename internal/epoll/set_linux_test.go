//go:build linux

package epoll

import (
	"errors"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

// tcpPair is a connected pair of loopback TCP sockets and the server side's RawConn.
func tcpPair(t *testing.T) (client net.Conn, server *net.TCPConn, raw syscall.RawConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	sc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close(); sc.Close() })
	server = sc.(*net.TCPConn)
	if raw, err = server.SyscallConn(); err != nil {
		t.Fatal(err)
	}
	return client, server, raw
}

func TestSetReportsReadySocketsWakesAndTimesOut(t *testing.T) {
	s, err := New()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	events := make([]syscall.EpollEvent, 8)

	// Nothing registered, nothing ready: the deadline ends the wait.
	if _, err := s.Wait(events, time.Now().Add(20*time.Millisecond)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("empty set: %v, want a deadline error", err)
	}

	client, _, raw := tcpPair(t)
	if err := s.Add(raw, syscall.EPOLLIN, 0); err == nil {
		t.Fatal("token 0 accepted")
	}
	const tok = 1<<40 + 7 // both halves of the event's data bytes
	if err := s.Add(raw, syscall.EPOLLIN|syscall.EPOLLONESHOT, tok); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	n, err := s.Wait(events, time.Now().Add(5*time.Second))
	if err != nil || n != 1 || Token(&events[0]) != tok {
		t.Fatalf("ready socket: n=%d err=%v token=%d", n, err, Token(&events[0]))
	}
	// One-shot and not re-armed: the unread byte is not reported again until Modify.
	if n, err := s.Wait(events, time.Now().Add(20*time.Millisecond)); n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("disarmed socket reported: n=%d err=%v", n, err)
	}
	if err := s.Modify(raw, syscall.EPOLLIN|syscall.EPOLLONESHOT, tok); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Wait(events, time.Now().Add(5*time.Second)); n != 1 || err != nil {
		t.Fatalf("re-armed socket: n=%d err=%v", n, err)
	}

	// Removed: ready or not, never reported; a Wake still ends the wait, from another goroutine.
	s.Remove(raw)
	go func() { time.Sleep(10 * time.Millisecond); s.Wake() }()
	// Woken, it returns nothing and no error, well before its deadline.
	n, err = s.Wait(events, time.Now().Add(5*time.Second))
	if err != nil || n != 0 {
		t.Fatalf("wake: n=%d err=%v", n, err)
	}
	// The pipe was drained: the next wait does not see the same wake again.
	if _, err := s.Wait(events, time.Now().Add(20*time.Millisecond)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("stale wake: err=%v, want a deadline error", err)
	}
}
