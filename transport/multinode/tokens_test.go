package multinode_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parley-chat/parley/stomp"
	"github.com/parley-chat/parley/stomp/stompclient"
)

// A personal API token authenticates REST and STOMP on every node; revoked by a REST call
// on node 1, it is refused by REST on both nodes at once, and the STOMP sessions it opened
// on both nodes get ERROR token_revoked and are closed within 1 s (ADR 0035). The owner's
// other sessions (a JWT, another token) stay open.
func TestRevokedAPITokenEndsSessionsOnEveryNode(t *testing.T) {
	t.Parallel()
	nodes := startCluster(t, clusterOptions{nodes: 2})
	alice := newUser(t, nodes[0], "alice")
	mint := func(name string) *user {
		var tok struct {
			ID    int64  `json:"id,string"`
			Token string `json:"token"`
		}
		call(t, nodes[0], http.MethodPost, "/api/users/me/tokens", alice, map[string]string{"name": name}, &tok)
		if !strings.HasPrefix(tok.Token, "plt_") {
			t.Fatalf("token %q", tok.Token)
		}
		return &user{name: name, id: tok.ID, token: tok.Token}
	}
	ci, other := mint("ci"), mint("other")
	for _, n := range nodes {
		var me struct {
			ID int64 `json:"id,string"`
		}
		call(t, n, http.MethodGet, "/api/users/me", ci, nil, &me)
		if me.ID != alice.id {
			t.Fatalf("node %d: the token is user %d, want %d", n.id, me.ID, alice.id)
		}
	}
	onNode1, onNode2 := dial(t, nodes[0], ci), dial(t, nodes[1], ci)
	jwtOnNode2, otherOnNode2 := dial(t, nodes[1], alice), dial(t, nodes[1], other)
	waitTopic(t, nodes[1], "u:"+strconv.FormatInt(alice.id, 10), 2)

	call(t, nodes[0], http.MethodDelete, fmt.Sprintf("/api/users/me/tokens/%d", ci.id), alice, nil, nil)
	revoked := time.Now()
	for _, n := range nodes {
		if st := status(t, n, ci); st != http.StatusUnauthorized {
			t.Errorf("node %d: GET /api/users/me with the revoked token: %d, want 401", n.id, st)
		}
	}
	for i, c := range []*stompclient.Client{onNode1, onNode2} {
		select {
		case f := <-c.Errors():
			if f.Value("code") != "token_revoked" {
				t.Errorf("session on node %d: ERROR %v %q, want code token_revoked", i+1, f.Headers, f.Body)
			}
		case <-time.After(time.Second - time.Since(revoked)):
			t.Fatalf("session on node %d: no ERROR within 1 s of the revocation", i+1)
		}
		select {
		case <-c.Closed():
		case <-time.After(5 * time.Second):
			t.Fatalf("session on node %d still open after its ERROR", i+1)
		}
	}
	// The owner's other credentials are untouched.
	for name, c := range map[string]*stompclient.Client{"JWT": jwtOnNode2, "other token": otherOnNode2} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := c.SendWithReceipt(ctx, "/app/nowhere", []byte("{}"), stomp.Header{Key: "x", Value: "y"})
		cancel()
		select {
		case <-c.Closed():
			t.Errorf("the %s session was closed by another token's revocation (%v)", name, err)
		default:
		}
	}
	call(t, nodes[1], http.MethodGet, "/api/users/me", other, nil, nil)

	// A revoked token cannot open a session either.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if c, err := stompclient.Dial(ctx, "ws"+strings.TrimPrefix(nodes[1].url, "http")+"/ws", stompclient.ClientOptions{Token: ci.token}); err == nil {
		_ = c.Close()
		t.Fatal("CONNECT with a revoked token succeeded")
	} else if !strings.Contains(err.Error(), "unauthorized") && !strings.Contains(err.Error(), "invalid token") {
		t.Errorf("CONNECT with a revoked token: %v, want unauthorized", err)
	}
}

// status is the status of GET /api/users/me as u.
func status(t *testing.T, n *node, u *user) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, n.url+"/api/users/me", nil)
	req.Header.Set("Authorization", "Bearer "+u.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if strings.Contains(string(b), u.token) {
		t.Errorf("the answer holds the token: %s", b)
	}
	return resp.StatusCode
}
