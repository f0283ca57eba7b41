package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/parley-chat/parley/cluster/redistest"
	"github.com/parley-chat/parley/persistence/pgtest"
	"github.com/parley-chat/parley/stomp/stompclient"
)

// `make cluster` as a user runs it (three `parley serve` processes and a three-broker Kafka
// process, ADR 0045),
// on this test's own ports, database, Redis prefix and directory: an API token minted on
// node 1 works on every node, and once revoked on node 1 it is refused by REST on every
// node and the STOMP sessions it opened on every node get ERROR token_revoked within 1 s
// (SPEC "Integrations", ADR 0035).
func TestMakeClusterRevokesATokenOnEveryNode(t *testing.T) {
	if testing.Short() {
		t.Skip("starts four processes through make")
	}
	t.Parallel()
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("no make")
	}
	rdb, prefix := redistest.Client(t)
	ports := make([]string, 4) // three nodes and the first of three brokers
	for i := range ports[:3] {
		_, ports[i], _ = net.SplitHostPort(freeAddr(t))
	}
	ports[3] = strconv.Itoa(freePortRun(t, 3))
	dir := t.TempDir()
	vars := []string{"BIN=" + filepath.Join(dir, "parley"), "CLUSTER_DIR=" + dir,
		"CLUSTER_DB=" + pgtest.NewDatabase(t), "CLUSTER_REDIS=redis://" + redistest.Addr(), "CLUSTER_PREFIX=" + prefix,
		"CLUSTER_PORTS=" + strings.Join(ports[:3], " "), "CLUSTER_KAFKA_PORT=" + ports[3]}
	makeIt := func(target string) ([]byte, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "make", append([]string{"-C", "../..", "--no-print-directory", target}, vars...)...)
		cmd.Env = cleanEnv()
		return cmd.CombinedOutput()
	}
	t.Cleanup(func() {
		if t.Failed() {
			for i := 1; i <= 3; i++ {
				logs, _ := os.ReadFile(filepath.Join(dir, fmt.Sprintf("node%d.log", i)))
				t.Logf("node %d log:\n%s", i, logs)
			}
		}
		if out, err := makeIt("cluster-stop"); err != nil {
			t.Errorf("make cluster-stop: %v\n%s", err, out)
		}
	})
	if out, err := makeIt("cluster"); err != nil {
		logs, _ := os.ReadFile(filepath.Join(dir, "node1.log"))
		t.Fatalf("make cluster: %v\n%s\nnode 1:\n%s", err, out, logs)
	}
	// The nodes were given all three brokers and the receipt topic is replicated on them.
	conn, err := kafka.Dial("tcp", "127.0.0.1:"+ports[3])
	if err != nil {
		t.Fatal(err)
	}
	parts, err := conn.ReadPartitions("read-receipts")
	conn.Close()
	if err != nil || len(parts) == 0 || len(parts[0].Replicas) != 3 {
		t.Fatalf("read-receipts on make cluster's Kafka: %v, %+v; want 3 replicas", err, parts)
	}
	bases := make([]string, 3)
	for i, p := range ports[:3] {
		bases[i] = "http://127.0.0.1:" + p
	}

	alice := devToken(t, bases[0], "alice")
	var tok struct {
		ID    string `json:"id"`
		Token string `json:"token"`
	}
	rest(t, bases[0], alice, http.MethodPost, "/api/users/me/tokens", map[string]string{"name": "ci"}, &tok)
	sessions := make([]*stompclient.Client, len(bases))
	for i, base := range bases {
		rest(t, base, tok.Token, http.MethodGet, "/api/users/me", nil, nil)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		c, err := stompclient.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/ws", stompclient.ClientOptions{Token: tok.Token})
		cancel()
		if err != nil {
			t.Fatalf("node %d: CONNECT with the token: %v", i+1, err)
		}
		t.Cleanup(func() { _ = c.Close() })
		sessions[i] = c
	}
	// Each session's node subscribes the user's bus topic just after CONNECT; from then on
	// a revocation published on node 1 reaches it.
	var me struct {
		ID string `json:"id"`
	}
	rest(t, bases[0], alice, http.MethodGet, "/api/users/me", nil, &me)
	topic := prefix + "bus:u:" + me.ID
	for deadline := time.Now().Add(10 * time.Second); ; {
		n, err := rdb.PubSubNumSub(context.Background(), topic).Result()
		if err == nil && n[topic] >= int64(len(bases)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s has %v subscribers (%v), want %d", topic, n[topic], err, len(bases))
		}
		time.Sleep(20 * time.Millisecond)
	}

	rest(t, bases[0], alice, http.MethodDelete, "/api/users/me/tokens/"+tok.ID, nil, nil)
	revoked := time.Now()
	for i, base := range bases {
		req, _ := http.NewRequest(http.MethodGet, base+"/api/users/me", nil)
		req.Header.Set("Authorization", "Bearer "+tok.Token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("node %d: REST with the revoked token: %d, want 401", i+1, resp.StatusCode)
		}
	}
	for i, c := range sessions {
		select {
		case f := <-c.Errors():
			if f.Value("code") != "token_revoked" {
				t.Errorf("node %d: ERROR %v %q, want code token_revoked", i+1, f.Headers, f.Body)
			}
		case <-time.After(time.Second - time.Since(revoked)):
			t.Fatalf("node %d: no ERROR token_revoked within 1 s of the revocation", i+1)
		}
	}
	t.Logf("revoked on node 1; every node refused it within %s", time.Since(revoked).Round(time.Millisecond))
}

// freePortRun finds n consecutive free ports on 127.0.0.1 (`parley kafka --brokers n`
// listens on port..port+n-1) and returns the first.
func freePortRun(t *testing.T, n int) int {
	t.Helper()
	for range 100 {
		_, p, _ := net.SplitHostPort(freeAddr(t))
		first, _ := strconv.Atoi(p)
		free := first+n-1 <= 65535
		for i := 1; i < n && free; i++ {
			ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(first+i)))
			if err != nil {
				free = false
				break
			}
			ln.Close()
		}
		if free {
			return first
		}
	}
	t.Fatalf("no %d consecutive free ports", n)
	return 0
}
