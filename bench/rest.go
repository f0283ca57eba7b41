package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// restClient calls parley's public REST API as one user or another (each call names its
// token): the harness sets up and reads only through what any client may use.
type restClient struct {
	http *http.Client
}

func newRESTClient(conns int) *restClient {
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        conns * 4,
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     90 * time.Second,
	}
	return &restClient{http: &http.Client{Transport: tr, Timeout: 60 * time.Second}}
}

func (c *restClient) close() { c.http.CloseIdleConnections() }

// apiError is a non-2xx answer: its status and problem+json code.
type apiError struct {
	Method, Path string
	Status       int
	Code         string
	Detail       string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%s %s: %d %s: %s", e.Method, e.Path, e.Status, e.Code, e.Detail)
}

func statusOf(err error) int {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.Status
	}
	return 0
}

// do sends body (JSON, nil for none) and decodes a 2xx answer into out (nil to discard). It
// retries 429 and 503 a few times, honouring Retry-After; other failures are returned.
func (c *restClient) do(ctx context.Context, method, base, path, token string, body, out any) error {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return err
		}
	}
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(base, "/")+path, bytes.NewReader(payload))
		if err != nil {
			return err
		}
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := c.http.Do(req)
		if err != nil {
			return fmt.Errorf("%s %s: %w", method, path, err)
		}
		data, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
		resp.Body.Close()
		if err != nil {
			return fmt.Errorf("%s %s: reading answer: %w", method, path, err)
		}
		if resp.StatusCode >= 200 && resp.StatusCode < 300 {
			if out == nil || len(data) == 0 {
				return nil
			}
			if err := json.Unmarshal(data, out); err != nil {
				return fmt.Errorf("%s %s: decoding answer: %w", method, path, err)
			}
			return nil
		}
		if (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable) && attempt < 5 {
			wait := time.Duration(200*(attempt+1)) * time.Millisecond
			if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
				wait = time.Duration(s) * time.Second
			}
			select {
			case <-time.After(wait):
				continue
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		var p struct {
			Code   string `json:"code"`
			Detail string `json:"detail"`
			Title  string `json:"title"`
		}
		_ = json.Unmarshal(data, &p)
		if p.Detail == "" {
			p.Detail = p.Title
		}
		if p.Detail == "" && len(data) < 200 {
			p.Detail = strings.TrimSpace(string(data))
		}
		return &apiError{Method: method, Path: path, Status: resp.StatusCode, Code: p.Code, Detail: p.Detail}
	}
}

// The shapes the harness reads (SPEC "REST API"; ids are decimal strings).
type (
	apiUser struct {
		ID       int64  `json:"id,string"`
		Username string `json:"username"`
	}
	apiWorkspace struct {
		ID int64 `json:"id,string"`
	}
	apiChannel struct {
		ID int64 `json:"id,string"`
	}
	apiInvitation struct {
		Token string `json:"token"`
	}
)
