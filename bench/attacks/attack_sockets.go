package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
)

// idleSockets upgrades o.sockets WebSockets (at most 64 handshakes in flight), never sends
// CONNECT and pings each every 5 s, as issue 21's finding 2(a) did; it counts the sockets
// still open at each of o.idleChecks after the last upgrade, and the upgrades refused.
func idleSockets(ctx context.Context, e *env, _ time.Duration) ([]figure, []string) {
	var (
		mu       sync.Mutex
		conns    []net.Conn
		refused  = map[int]int{} // HTTP status of a refused upgrade
		dialErrs int
		open     atomic.Int64
		readers  sync.WaitGroup
	)
	d := ws.Dialer{NetDial: e.dialer.DialContext, Timeout: 10 * time.Second}
	sem := make(chan struct{}, 64)
	var dials sync.WaitGroup
	for range e.o.sockets {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		dials.Go(func() {
			defer func() { <-sem }()
			c, _, _, err := d.Dial(ctx, e.t.ws)
			mu.Lock()
			defer mu.Unlock()
			var se ws.StatusError
			switch {
			case errors.As(err, &se):
				refused[int(se)]++
				return
			case err != nil:
				dialErrs++
				return
			}
			conns = append(conns, c)
			open.Add(1)
			readers.Go(func() { // whatever the node sends; the read ends when it closes
				buf := make([]byte, 512)
				for {
					if _, err := c.Read(buf); err != nil {
						open.Add(-1)
						return
					}
				}
			})
		})
	}
	dials.Wait()
	rampEnd := time.Now()
	// One goroutine pings every socket every 5 s: each ping is a frame that, on today's
	// main, restarts the CONNECT deadline.
	pingCtx, stopPing := context.WithCancel(ctx)
	var pinger sync.WaitGroup
	pinger.Go(func() {
		ping := ws.MustCompileFrame(ws.MaskFrame(ws.NewPingFrame(nil)))
		for sleepCtx(pingCtx, 5*time.Second) {
			mu.Lock()
			cs := append([]net.Conn(nil), conns...)
			mu.Unlock()
			for _, c := range cs {
				_ = c.SetWriteDeadline(time.Now().Add(time.Second))
				_, _ = c.Write(ping)
			}
		}
	})
	mu.Lock()
	figs := []figure{{"upgraded", float64(len(conns))}}
	for _, status := range slices.Sorted(maps.Keys(refused)) {
		figs = append(figs, figure{"upgrade " + strconv.Itoa(status), float64(refused[status])})
	}
	if dialErrs > 0 {
		figs = append(figs, figure{"dial errors", float64(dialErrs)})
	}
	mu.Unlock()
	for _, at := range e.o.idleChecks {
		if !sleepCtx(ctx, time.Until(rampEnd.Add(at))) {
			break
		}
		figs = append(figs, figure{fmt.Sprintf("open after %s", at), float64(open.Load())})
	}
	stopPing()
	pinger.Wait()
	mu.Lock()
	for _, c := range conns {
		_ = c.Close()
	}
	mu.Unlock()
	readers.Wait()
	return figs, nil
}

// slowBody opens o.slowConns connections from the attacker's address, each sending
// `POST /api/workspaces` with Content-Length 100000 and no token, then one byte of the
// body every 5 s (finding 2(b)); it counts the connections the node still holds at
// o.slowHold and the answers (status codes) they got.
func slowBody(ctx context.Context, e *env, _ time.Duration) ([]figure, []string) {
	type result struct {
		status   int       // first answer's status; 0: none
		answered time.Time // when it came
		closedAt time.Time // when the node closed the connection; zero: still open
	}
	n := e.o.slowConns
	res := make([]result, n)
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	hold, cancel := context.WithTimeout(ctx, e.o.slowHold)
	defer cancel()
	var dialErrs atomic.Int64
	for i := range n {
		wg.Go(func() {
			c, err := e.dialer.DialContext(hold, "tcp", e.hostPort())
			if err != nil {
				dialErrs.Add(1)
				return
			}
			defer c.Close()
			head := "POST /api/workspaces HTTP/1.1\r\nHost: " + e.hostPort() +
				"\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"
			if _, err := c.Write([]byte(head)); err != nil {
				return
			}
			done := make(chan struct{})
			go func() { // the answer, then EOF when the node closes
				defer close(done)
				br := bufio.NewReader(c)
				line, err := br.ReadString('\n')
				if err == nil {
					if f := strings.Fields(line); len(f) >= 2 {
						s, _ := strconv.Atoi(f[1])
						mu.Lock()
						res[i].status, res[i].answered = s, time.Now()
						mu.Unlock()
					}
					_, err = br.Discard(1 << 30)
				}
				mu.Lock()
				if hold.Err() == nil {
					res[i].closedAt = time.Now()
				}
				mu.Unlock()
			}()
			t := time.NewTicker(5 * time.Second)
			defer t.Stop()
			for {
				select {
				case <-done:
					return
				case <-hold.Done():
					_ = c.Close()
					<-done
					return
				case <-t.C:
					_ = c.SetWriteDeadline(time.Now().Add(time.Second))
					if _, err := c.Write([]byte(" ")); err != nil {
						_ = c.Close()
						<-done
						return
					}
				}
			}
		})
	}
	wg.Wait()
	var held int
	statuses := map[int]int{}
	var firstAnswer, lastClose time.Duration
	for _, r := range res {
		if r.closedAt.IsZero() {
			held++
		}
		if r.status != 0 {
			statuses[r.status]++
			if a := r.answered.Sub(start); firstAnswer == 0 || a < firstAnswer {
				firstAnswer = a
			}
		}
		if !r.closedAt.IsZero() {
			lastClose = max(lastClose, r.closedAt.Sub(start))
		}
	}
	figs := []figure{{fmt.Sprintf("open at %s", e.o.slowHold), float64(held)}}
	for _, s := range slices.Sorted(maps.Keys(statuses)) {
		figs = append(figs, figure{"answered " + strconv.Itoa(s), float64(statuses[s])})
	}
	var notes []string
	if firstAnswer > 0 {
		notes = append(notes, fmt.Sprintf("first answer after %.1f s", firstAnswer.Seconds()))
	}
	if lastClose > 0 {
		notes = append(notes, fmt.Sprintf("last close by the node after %.1f s", lastClose.Seconds()))
	}
	if d := dialErrs.Load(); d > 0 {
		figs = append(figs, figure{"dial errors", float64(d)})
	}
	return figs, notes
}
