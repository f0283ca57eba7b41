package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

// runHealthcheck is the container healthcheck: the image is distroless (no shell, no curl),
// so the binary checks its own /readyz. Exit 0 on 200 (ready or degraded), 1 otherwise.
func runHealthcheck(args []string) int {
	f := newEnvFlags("healthcheck", "Exit 0 when the node's readiness URL answers 200 (ready, or degraded: Redis or Kafka down but serving), 1 otherwise. For container healthchecks.")
	var url string
	var timeout time.Duration
	f.str(&url, "url", "PARLEY_HEALTHCHECK_URL", "http://127.0.0.1:9000/readyz", "URL to check; add ?full=1 to require every dependency")
	f.duration(&timeout, "timeout", "PARLEY_HEALTHCHECK_TIMEOUT", 5*time.Second, "how long to wait for the answer")
	if err := f.parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(os.Stderr, "parley healthcheck:", err)
		return 2
	}
	if err := healthcheck(url, timeout); err != nil {
		fmt.Fprintln(os.Stderr, "parley healthcheck:", err)
		return 1
	}
	return 0
}

func healthcheck(url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("url %q: %w", url, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s %s", url, resp.Status, body)
	}
	return nil
}
