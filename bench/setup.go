package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parley-chat/parley/transport/auth"
)

// SetupStats is the setup phase: users, workspace and channels through the REST API.
type SetupStats struct {
	Duration time.Duration `json:"durationNs"`
	Seconds  float64       `json:"seconds"`
	Users    int           `json:"users"`
	Channels int           `json:"channels"`
	Calls    int64         `json:"restCalls"`
	// Workspace is the run's workspace id (0 when the scenario needs none).
	Workspace int64 `json:"workspace,string,omitempty"`
	// Analyzed: the server's database was ANALYZEd after the load (needs --db-url).
	Analyzed bool `json:"analyzed"`
}

func newRunID() string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// makeClients names every client's user, signs its token and places it: node round-robin,
// source address round-robin, channel indexes by the scenario, and the first Senders
// clients send (so senders spread over channels and nodes like everyone else); nodeFor
// spreads each channel's clients over the nodes.
func (r *runner) makeClients() ([]ClientSpec, [][]int, error) {
	cfg := r.cfg
	ttl := cfg.Warmup + cfg.Duration + cfg.Drain + 24*time.Hour
	v, err := auth.New(auth.Config{HS256Secret: cfg.JWTSecret, Issuer: cfg.JWTIssuer, Audience: cfg.JWTAudience, DevTokenTTL: ttl},
		slog.New(slog.DiscardHandler), nil)
	if err != nil {
		return nil, nil, fmt.Errorf("token signer: %w", err)
	}
	defer v.Close()
	rng := mrand.New(mrand.NewPCG(uint64(len(r.runID)), 0x9e3779b97f4a7c15))
	specs := make([]ClientSpec, cfg.Connections)
	subs := make([][]int, cfg.Connections)
	for i := range specs {
		name := fmt.Sprintf("b%s-%05d", r.runID, i)
		tok, _, err := v.Issue(name, ttl)
		if err != nil {
			return nil, nil, fmt.Errorf("sign token for %s: %w", name, err)
		}
		node := r.nodeFor(i)
		s := ClientSpec{Index: i, Username: name, Token: tok, URL: cfg.URLs[node], Node: node, Probe: r.sc.probe && i == 0}
		if n := len(cfg.SourceAddrs); n > 0 {
			s.Source = cfg.SourceAddrs[i%n].String()
		}
		subs[i] = r.sc.subscriptions(&cfg, i, rng)
		s.UserQueue = len(subs[i]) == 0
		if i < cfg.Senders {
			s.Rate = cfg.Rate
		}
		// The last Receivers clients subscribe, so that with Senders + Receivers ≤
		// Connections the senders only send.
		s.Subscribe = i >= cfg.Connections-cfg.Receivers
		specs[i] = s
	}
	return specs, subs, nil
}

// setup creates the workspace (owned by client 0's user), the channels, and makes every
// other user a member (invitation, acceptance, and channel joins when the scenario wants
// them), with at most SetupConcurrency calls in flight. Scenarios without channels need no
// setup: the server creates each user from its token at CONNECT.
func (r *runner) setup(ctx context.Context, specs []ClientSpec, subs [][]int) (SetupStats, error) {
	cfg := r.cfg
	st := SetupStats{Users: len(specs), Channels: cfg.Channels}
	if cfg.Channels == 0 {
		return st, nil
	}
	start := time.Now()
	var calls atomic.Int64
	call := func(ctx context.Context, method, base, path, token string, body, out any) error {
		calls.Add(1)
		return r.rest.do(ctx, method, base, path, token, body, out)
	}
	owner := &specs[0]
	var me apiUser
	if err := call(ctx, http.MethodGet, owner.URL, "/api/users/me", owner.Token, nil, &me); err != nil {
		return st, fmt.Errorf("setup: owner: %w", err)
	}
	owner.UserID = me.ID
	var ws apiWorkspace
	if err := call(ctx, http.MethodPost, owner.URL, "/api/workspaces", owner.Token,
		map[string]string{"name": "bench " + r.runID + " " + cfg.Scenario}, &ws); err != nil {
		return st, fmt.Errorf("setup: workspace: %w", err)
	}
	st.Workspace = ws.ID
	channels := make([]int64, cfg.Channels)
	r.progress.phase("setup: channels", int64(cfg.Channels))
	err := pool(ctx, cfg.SetupConcurrency, cfg.Channels, func(ctx context.Context, i int) error {
		var ch apiChannel
		body := map[string]string{"name": fmt.Sprintf("bench-%s-%d", r.runID, i), "type": "public", "topic": "parley bench"}
		if err := call(ctx, http.MethodPost, owner.URL, "/api/workspaces/"+itoa(ws.ID)+"/channels", owner.Token, body, &ch); err != nil {
			return fmt.Errorf("setup: channel %d: %w", i, err)
		}
		channels[i] = ch.ID
		r.progress.add(1)
		return nil
	})
	if err != nil {
		return st, err
	}
	if r.sc.prepare != nil {
		if err := r.sc.prepare(ctx, r, *owner, channels); err != nil {
			return st, fmt.Errorf("setup: %w", err)
		}
	}
	for i := range specs {
		for _, ci := range subs[i] {
			specs[i].Channels = append(specs[i].Channels, channels[ci])
		}
	}
	r.progress.phase("setup: users", int64(len(specs)))
	err = pool(ctx, cfg.SetupConcurrency, len(specs), func(ctx context.Context, i int) error {
		s := &specs[i]
		if i > 0 {
			var u apiUser
			if err := call(ctx, http.MethodGet, s.URL, "/api/users/me", s.Token, nil, &u); err != nil {
				return fmt.Errorf("setup: user %s: %w", s.Username, err)
			}
			s.UserID = u.ID
			var inv apiInvitation
			if err := call(ctx, http.MethodPost, owner.URL, "/api/workspaces/"+itoa(ws.ID)+"/invitations", owner.Token,
				map[string]string{"username": s.Username, "role": "member"}, &inv); err != nil {
				return fmt.Errorf("setup: invite %s: %w", s.Username, err)
			}
			if err := call(ctx, http.MethodPost, s.URL, "/api/invitations/accept", s.Token,
				map[string]string{"token": inv.Token}, nil); err != nil &&
				// a retried accept (after a 503 whose request had committed) finds it done
				!(statusOf(err) == http.StatusGone && strings.Contains(err.Error(), "invitation accepted")) {
				return fmt.Errorf("setup: %s accepts: %w", s.Username, err)
			}
		}
		if r.sc.join {
			for _, c := range s.Channels {
				err := call(ctx, http.MethodPost, s.URL, "/api/channels/"+itoa(c)+"/members", s.Token,
					map[string]string{"userId": itoa(s.UserID)}, nil)
				if err != nil && statusOf(err) != http.StatusConflict { // the creator is a member already
					return fmt.Errorf("setup: %s joins channel %d: %w", s.Username, c, err)
				}
			}
		}
		r.progress.add(1)
		return nil
	})
	st.Duration = time.Since(start)
	st.Seconds = st.Duration.Seconds()
	st.Calls = calls.Load()
	return st, err
}

// pool runs fn(0..n-1) on at most conc goroutines and returns the first error, cancelling
// the rest.
func pool(ctx context.Context, conc, n int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(conc, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := fn(ctx, i); err != nil {
					cancel(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil && ctx.Err() != nil {
		return err
	}
	return nil
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }
