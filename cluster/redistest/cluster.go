package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Cluster is a local Redis Cluster of 3 masters with one replica each.
type Cluster struct {
	Nodes []*Server // Nodes[0..2] were created masters, Nodes[3..5] their replicas
	dir   string
}

// StartCluster starts six cluster-enabled redis-servers in a fresh temporary directory,
// joins them with `redis-cli --cluster create --cluster-replicas 1` and waits until every
// node reports cluster_state:ok. Stop kills them and removes the directory. About a second.
func StartCluster(ctx context.Context) (*Cluster, error) {
	dir, err := os.MkdirTemp("", "parley-redis-cluster-")
	if err != nil {
		return nil, err
	}
	c := &Cluster{dir: dir}
	for i := range 6 {
		port, err := spareClusterPort()
		if err != nil {
			c.Stop()
			return nil, err
		}
		nd := filepath.Join(dir, strconv.Itoa(i))
		if err := os.MkdirAll(nd, 0o700); err != nil {
			c.Stop()
			return nil, err
		}
		s, err := startServer(ctx, nd, port, "--cluster-enabled", "yes",
			"--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "1000",
			// A replica takes over however long it was cut off: tests kill masters at will.
			"--cluster-replica-validity-factor", "0")
		if err != nil {
			c.Stop()
			return nil, err
		}
		c.Nodes = append(c.Nodes, s)
	}
	args := []string{"--cluster", "create"}
	for _, n := range c.Nodes {
		args = append(args, n.Addr)
	}
	args = append(args, "--cluster-replicas", "1", "--cluster-yes")
	if out, err := exec.CommandContext(ctx, "redis-cli", args...).CombinedOutput(); err != nil {
		c.Stop()
		return nil, fmt.Errorf("redistest: redis-cli --cluster create: %w: %s", err, out)
	}
	if err := c.WaitOK(ctx); err != nil {
		c.Stop()
		return nil, err
	}
	return c, nil
}

// Addrs are the seed addresses of every node.
func (c *Cluster) Addrs() []string {
	out := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		out[i] = n.Addr
	}
	return out
}

// WaitOK waits until every live node reports cluster_state:ok and all 16384 slots are
// served by live masters.
func (c *Cluster) WaitOK(ctx context.Context) error {
	return poll(ctx, "cluster_state:ok", func() bool {
		for _, n := range c.Nodes {
			if !n.Alive() {
				continue
			}
			if info(ctx, n.Addr, "cluster", "cluster_state") != "ok" ||
				info(ctx, n.Addr, "cluster", "cluster_slots_ok") != "16384" {
				return false
			}
		}
		return true
	})
}

// MasterOf returns the live node serving key's slot as master.
func (c *Cluster) MasterOf(ctx context.Context, key string) (*Server, error) {
	for _, n := range c.Nodes {
		if !n.Alive() {
			continue
		}
		cl := redis.NewClient(&redis.Options{Addr: n.Addr, MaxRetries: -1})
		slot, err1 := cl.ClusterKeySlot(ctx, key).Result()
		slots, err2 := cl.ClusterSlots(ctx).Result()
		cl.Close()
		if err1 != nil || err2 != nil {
			continue
		}
		for _, r := range slots {
			if int64(r.Start) <= slot && slot <= int64(r.End) && len(r.Nodes) > 0 {
				for _, m := range c.Nodes {
					if m.ClientAddr() == r.Nodes[0].Addr && m.Alive() {
						return m, nil
					}
				}
			}
		}
	}
	return nil, errors.New("redistest: no live master for " + key)
}

// Client returns a cluster client on c, closed at cleanup, and a key prefix unique to the
// test; keys under it are deleted at cleanup.
func (c *Cluster) Client(t testing.TB) (*redis.ClusterClient, string) {
	t.Helper()
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs()})
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	prefix := "test:" + hex.EncodeToString(b) + ":"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = rdb.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
			iter := m.Scan(ctx, 0, prefix+"*", 1000).Iterator()
			for iter.Next(ctx) {
				m.Del(ctx, iter.Val())
			}
			return nil
		})
		_ = rdb.Close()
	})
	return rdb, prefix
}

// Stop kills every node and removes the directory. Idempotent.
func (c *Cluster) Stop() {
	for _, n := range c.Nodes {
		n.Kill()
	}
	_ = os.RemoveAll(c.dir)
}

// Available reports whether redis-server and redis-cli are installed, for tests to skip
// with a clear reason where they are not.
func Available() error {
	for _, b := range []string{"redis-server", "redis-cli"} {
		if _, err := exec.LookPath(b); err != nil {
			return fmt.Errorf("%s not installed: %w", b, err)
		}
	}
	if !versionAtLeast7() {
		return errors.New("redis-server older than 7: no sharded Pub/Sub")
	}
	return nil
}

// versionAtLeast7: sharded Pub/Sub (SPUBLISH, SSUBSCRIBE) came in Redis 7.
func versionAtLeast7() bool {
	out, err := exec.Command("redis-server", "--version").Output()
	if err != nil {
		return false
	}
	_, v, _ := strings.Cut(string(out), " v=")
	major, _, _ := strings.Cut(v, ".")
	n, _ := strconv.Atoi(major)
	return n >= 7
}

// shared is the one cluster a test binary's tests share (StartCluster costs about a
// second and six processes); TestMain stops it with StopShared.
var shared struct {
	once sync.Once
	c    *Cluster
	err  error
}

// SharedCluster returns the test binary's cluster, started on first use. Tests sharing it
// keep to their own key prefix (Cluster.Client) and must leave every node alive: a test
// that kills nodes starts its own cluster.
func SharedCluster(t testing.TB) *Cluster {
	t.Helper()
	if err := Available(); err != nil {
		t.Skipf("redistest: %v", err)
	}
	shared.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		shared.c, shared.err = StartCluster(ctx)
	})
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.c
}

// StopShared stops the shared cluster, if it was started; call it from TestMain.
func StopShared() {
	if shared.c != nil {
		shared.c.Stop()
	}
}

// WaitFailover waits until no live node names dead as the master of any slot any more (its
// replica was promoted) and the cluster is ok again. Call it after killing a master.
func (c *Cluster) WaitFailover(ctx context.Context, dead *Server) error {
	err := poll(ctx, "replica of "+dead.Addr+" promoted", func() bool {
		for _, n := range c.Nodes {
			if !n.Alive() {
				continue
			}
			cl := redis.NewClient(&redis.Options{Addr: n.Addr, MaxRetries: -1})
			slots, err := cl.ClusterSlots(ctx).Result()
			cl.Close()
			if err != nil {
				return false
			}
			for _, r := range slots {
				if len(r.Nodes) > 0 && r.Nodes[0].Addr == dead.ClientAddr() {
					return false
				}
			}
		}
		return true
	})
	if err != nil {
		return err
	}
	return c.WaitOK(ctx)
}

// MoveSlot moves the (keyless) slot of key to master dst, as `redis-cli --cluster reshard`
// does for an empty slot: IMPORTING on dst, MIGRATING on the owner, then SETSLOT NODE on
// every master. Sharded Pub/Sub subscribers of the slot are unsubscribed by Redis.
func (c *Cluster) MoveSlot(ctx context.Context, key string, dst *Server) error {
	src, err := c.MasterOf(ctx, key)
	if err != nil {
		return err
	}
	client := func(s *Server) *redis.Client { return redis.NewClient(&redis.Options{Addr: s.Addr, MaxRetries: -1}) }
	sc, dc := client(src), client(dst)
	defer sc.Close()
	defer dc.Close()
	slot, err := sc.ClusterKeySlot(ctx, key).Result()
	if err != nil {
		return err
	}
	srcID, err1 := sc.ClusterMyID(ctx).Result()
	dstID, err2 := dc.ClusterMyID(ctx).Result()
	if err := errors.Join(err1, err2); err != nil {
		return err
	}
	steps := []struct {
		c    *redis.Client
		args []any
	}{
		{dc, []any{"cluster", "setslot", slot, "importing", srcID}},
		{sc, []any{"cluster", "setslot", slot, "migrating", dstID}},
		{dc, []any{"cluster", "setslot", slot, "node", dstID}},
		{sc, []any{"cluster", "setslot", slot, "node", dstID}},
	}
	for _, s := range steps {
		if err := s.c.Do(ctx, s.args...).Err(); err != nil {
			return fmt.Errorf("redistest: %v: %w", s.args, err)
		}
	}
	for _, n := range c.Nodes[:3] {
		if n == src || n == dst || !n.Alive() {
			continue
		}
		oc := client(n)
		err := oc.Do(ctx, "cluster", "setslot", slot, "node", dstID).Err()
		oc.Close()
		if err != nil {
			return fmt.Errorf("redistest: setslot on %s: %w", n.Addr, err)
		}
	}
	return c.WaitOK(ctx)
}
