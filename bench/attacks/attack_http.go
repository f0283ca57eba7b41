package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"time"
)

// flood sends requests made by newReq from o.workers goroutines, each waiting for its
// answer before the next, for the round, and reports answers per second by status.
func flood(ctx context.Context, e *env, round time.Duration, newReq func(ctx context.Context) *http.Request) ([]figure, []string) {
	ctx, cancel := context.WithTimeout(ctx, round)
	defer cancel()
	c := e.httpClient(e.o.workers)
	defer c.CloseIdleConnections()
	var mu sync.Mutex
	statuses := map[int]int{}
	var errs int
	var retryAfter string
	var wg sync.WaitGroup
	start := time.Now()
	for range e.o.workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				resp, err := c.Do(newReq(ctx))
				if err != nil {
					if ctx.Err() == nil {
						mu.Lock()
						errs++
						mu.Unlock()
					}
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				mu.Lock()
				statuses[resp.StatusCode]++
				if resp.StatusCode == http.StatusTooManyRequests && retryAfter == "" {
					retryAfter = resp.Header.Get("Retry-After")
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	keys := make([]int, 0, len(statuses))
	for k := range statuses {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	var figs []figure
	for _, k := range keys {
		figs = append(figs, figure{strconv.Itoa(k) + "/s", float64(statuses[k]) / secs})
	}
	if errs > 0 {
		figs = append(figs, figure{"transport errors/s", float64(errs) / secs})
	}
	var notes []string
	if retryAfter != "" {
		notes = append(notes, "429 with Retry-After "+retryAfter)
	}
	return figs, notes
}

func jsonRequest(ctx context.Context, method, url, token string, body []byte) *http.Request {
	req, _ := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return req
}

// restPosts is one user posting messages over REST as fast as o.workers connections go
// (finding 5), into a channel of its own so that the seeded one keeps its size.
func restPosts(ctx context.Context, e *env, round time.Duration) ([]figure, []string) {
	url := fmt.Sprintf("%s/api/channels/%d/messages", e.t.base, e.w.flood)
	body := []byte(`{"content":"flood"}`)
	return flood(ctx, e, round, func(ctx context.Context) *http.Request {
		return jsonRequest(ctx, http.MethodPost, url, e.w.attacker, body)
	})
}

// searchFlood is one user searching its workspace (the seeded channel matches) as fast as
// o.workers connections go.
func searchFlood(ctx context.Context, e *env, round time.Duration) ([]figure, []string) {
	url := fmt.Sprintf("%s/api/workspaces/%d/search?q=lorem", e.t.base, e.w.attackerWorkspace)
	return flood(ctx, e, round, func(ctx context.Context) *http.Request {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		req.Header.Set("Authorization", "Bearer "+e.w.attacker)
		return req
	})
}

// devLoginFlood asks for dev tokens from one address as fast as o.workers connections go.
func devLoginFlood(ctx context.Context, e *env, round time.Duration) ([]figure, []string) {
	url := e.t.base + "/api/auth/dev/login"
	body := []byte(`{"username":"flood"}`)
	return flood(ctx, e, round, func(ctx context.Context) *http.Request {
		return jsonRequest(ctx, http.MethodPost, url, "", body)
	})
}
