package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/parley-chat/parley/transport/auth"
)

// world is what the attacks and the probe work on: the probe's two users and channel, and
// the attacker's user, workspace, seeded channel (replays, search) and flood channel (REST
// posts, so that the seeded channel keeps its size).
type world struct {
	// probeSenders are the probe's sending users' tokens, one per connection: a node that
	// limits sends per user (not per connection) must not take the probe for a flood.
	probeSenders      []string
	probeReceiver     string // token
	probeChannel      int64
	attacker          string // token
	attackerWorkspace int64
	seeded            int64 // the channel the replays read
	seededCount       int64
	flood             int64 // the channel REST posts go to
}

// newWorld creates the users, workspaces and channels through the REST API and seeds the
// attacker's channel with seed messages straight into PostgreSQL (when t.dbURL is known):
// posting them would take minutes once REST posts are rate limited.
func newWorld(ctx context.Context, t *target, seed, probeSenders int) (*world, error) {
	v, err := auth.New(auth.Config{HS256Secret: t.secret, DevTokenTTL: 48 * time.Hour}, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		return nil, fmt.Errorf("token signer: %w", err)
	}
	defer v.Close()
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	run := hex.EncodeToString(b)
	token := func(name string) (string, error) {
		tok, _, err := v.Issue(name+"-"+run, 48*time.Hour)
		return tok, err
	}
	w := &world{probeSenders: make([]string, probeSenders)}
	for i := range w.probeSenders {
		if w.probeSenders[i], err = token(fmt.Sprintf("probe-send%d", i)); err != nil {
			return nil, err
		}
	}
	if w.probeReceiver, err = token("probe-recv"); err != nil {
		return nil, err
	}
	if w.attacker, err = token("mallory"); err != nil {
		return nil, err
	}
	c := &http.Client{Timeout: 30 * time.Second}
	probeWS, probeGeneral, err := workspace(ctx, c, t.base, w.probeSenders[0], "probe-"+run)
	if err != nil {
		return nil, err
	}
	w.probeChannel = probeGeneral
	members := map[string]string{"probe-recv-" + run: w.probeReceiver}
	for i, tok := range w.probeSenders[1:] {
		members[fmt.Sprintf("probe-send%d-%s", i+1, run)] = tok
	}
	for name, tok := range members {
		var inv struct {
			Token string `json:"token"`
		}
		if _, err := call(ctx, c, http.MethodPost, fmt.Sprintf("%s/api/workspaces/%d/invitations", t.base, probeWS), w.probeSenders[0],
			map[string]string{"username": name}, &inv, http.StatusCreated); err != nil {
			return nil, err
		}
		if _, err := call(ctx, c, http.MethodPost, t.base+"/api/invitations/accept", tok,
			map[string]string{"token": inv.Token}, nil, http.StatusOK); err != nil {
			return nil, err
		}
	}
	if w.attackerWorkspace, w.seeded, err = workspace(ctx, c, t.base, w.attacker, "mallory-"+run); err != nil {
		return nil, err
	}
	var ch struct {
		ID int64 `json:"id,string"`
	}
	if _, err := call(ctx, c, http.MethodPost, fmt.Sprintf("%s/api/workspaces/%d/channels", t.base, w.attackerWorkspace), w.attacker,
		map[string]string{"name": "flood", "type": "public"}, &ch, http.StatusCreated); err != nil {
		return nil, err
	}
	w.flood = ch.ID
	if t.dbURL != "" && seed > 0 {
		if err := seedChannel(ctx, t.dbURL, w.seeded, seed); err != nil {
			return nil, fmt.Errorf("seed: %w", err)
		}
		w.seededCount = int64(seed)
	}
	return w, nil
}

// workspace creates a workspace owned by token's user and returns it and its general channel.
func workspace(ctx context.Context, c *http.Client, base, token, name string) (wid, general int64, err error) {
	var ws struct {
		ID int64 `json:"id,string"`
	}
	if _, err := call(ctx, c, http.MethodPost, base+"/api/workspaces", token, map[string]string{"name": name}, &ws, http.StatusCreated); err != nil {
		return 0, 0, err
	}
	var chans struct {
		Items []struct {
			ID   int64  `json:"id,string"`
			Name string `json:"name"`
		} `json:"items"`
	}
	if _, err := call(ctx, c, http.MethodGet, fmt.Sprintf("%s/api/workspaces/%d/channels", base, ws.ID), token, nil, &chans, http.StatusOK); err != nil {
		return 0, 0, err
	}
	for _, ch := range chans.Items {
		if ch.Name == "general" {
			return ws.ID, ch.ID, nil
		}
	}
	return 0, 0, fmt.Errorf("workspace %s has no general channel", name)
}

// call makes one JSON REST call and decodes the answer into out when its status is want.
func call(ctx context.Context, c *http.Client, method, url, token string, body, out any, want int) (int, error) {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return 0, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, fmt.Errorf("%s %s: %w", method, url, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		return resp.StatusCode, fmt.Errorf("%s %s: %d %s", method, url, resp.StatusCode, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: decode: %w", method, url, err)
		}
	}
	return resp.StatusCode, nil
}

// seedChannel writes n messages into channel cid in one statement, as the group commit
// would (ids below any the node makes: its ids start from the current time), and ANALYZEs.
func seedChannel(ctx context.Context, dbURL string, cid int64, n int) error {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(ctx) }()
	var owner, last int64
	if err := tx.QueryRow(ctx, `SELECT created_by, last_seq FROM channels WHERE id = $1 FOR UPDATE`, cid).Scan(&owner, &last); err != nil {
		return err
	}
	base := cid % 1_000_000 * 1_000_000 // distinct per channel, far below the node's ids
	if _, err := tx.Exec(ctx, `INSERT INTO messages (id, channel_id, seq, user_id, content)
		SELECT $1::bigint + i, $2, $3::bigint + i, $4, 'seeded lorem ipsum message ' || i FROM generate_series(1, $5::bigint) AS i`,
		base, cid, last, owner, n); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `UPDATE channels SET last_seq = last_seq + $2 WHERE id = $1`, cid, n); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	_, err = conn.Exec(ctx, "ANALYZE")
	return err
}
