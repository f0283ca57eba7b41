package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"github.com/parley-chat/parley/actors"
	"github.com/parley-chat/parley/persistence"
	"github.com/parley-chat/parley/stomp"
	"github.com/parley-chat/parley/stomp/stompclient"
)

// measureIdle opens count idle sessions from a child process (so that only the server's
// side is in this process's heap), each subscribed to the channel and to its mentions
// queue, and prints the server's memory per session: Go heap plus goroutine stacks.
func measureIdle(ctx context.Context, n *node, cid int64, count int) error {
	var toks []string
	var wsID int64
	if err := n.store.Pool().QueryRow(ctx, `SELECT workspace_id FROM channels WHERE id = $1`, cid).Scan(&wsID); err != nil {
		return err
	}
	for i := range count {
		tok, _, err := n.verifier.Issue(fmt.Sprintf("idle%05d", i), 2*time.Hour)
		if err != nil {
			return err
		}
		id, _ := n.verifier.Verify(ctx, tok)
		u, err := n.store.UpsertUser(ctx, id)
		if err != nil {
			return err
		}
		if _, err := n.store.Pool().Exec(ctx, `INSERT INTO workspace_members (workspace_id, user_id, role) VALUES ($1, $2, 'member')`, wsID, u.ID); err != nil {
			return err
		}
		toks = append(toks, tok)
	}
	before := serverMemory()
	goroutines := runtime.NumGoroutine()
	cmd := exec.Command(os.Args[0], "-idle-child", n.url, "-idle-channel", fmt.Sprint(cid))
	cmd.Stdin = strings.NewReader(strings.Join(toks, "\n") + "\n")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "ready" {
		return fmt.Errorf("idle child: %q %v", line, err)
	}
	time.Sleep(time.Second) // let the last subscriptions settle
	after := serverMemory()
	fmt.Printf("\nidle sessions: %d (each subscribed to the channel and to /user/queue/mentions)\n", count)
	fmt.Printf("server memory per idle session: %.1f KiB (Go heap + goroutine stacks), %.1f goroutines per session\n",
		float64(after-before)/float64(count)/1024, float64(runtime.NumGoroutine()-goroutines)/float64(count))
	return nil
}

func serverMemory() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc + m.StackInuse
}

// idleChild is the child side: dial every token from stdin, subscribe, say ready, then wait
// for the parent to end it.
func idleChild(url string, cid int64) error {
	ctx := context.Background()
	sc := bufio.NewScanner(os.Stdin)
	var cs []*stompclient.Client
	for sc.Scan() {
		tok := strings.TrimSpace(sc.Text())
		if tok == "" {
			continue
		}
		c, err := stompclient.Dial(ctx, url, stompclient.ClientOptions{Token: tok, ReadBufferSize: 1024})
		if err != nil {
			return err
		}
		if _, err := c.SubscribeFunc(actors.ChannelDestination(cid), func(*stomp.Frame, time.Time) {}); err != nil {
			return err
		}
		if _, err := c.SubscribeFunc(persistence.QueueMentions, func(*stomp.Frame, time.Time) {}); err != nil {
			return err
		}
		cs = append(cs, c)
	}
	fmt.Println("ready")
	_, _ = io.Copy(io.Discard, os.Stdin) // the parent kills us
	select {}
}
