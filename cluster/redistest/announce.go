package redistest

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
)

// Announce makes node i tell clients (CLUSTER SLOTS, MOVED, ASK) to reach it on
// 127.0.0.1:ports[i] instead of its own port — a proxy in front of it, so that a test can
// cut or slow every connection a client has to the cluster, whichever shard a command goes
// to (a proxy in front of one seed alone would be bypassed: clients connect to the
// addresses the cluster names). The cluster bus stays direct (its port is the node's own
// port + 10000), so the nodes keep seeing each other through a client-side cut; replicas
// replicate through the proxies, since a replica dials its master's announced address.
// It waits until every live node names only the announced addresses.
func (c *Cluster) Announce(ctx context.Context, ports []int) error {
	if len(ports) != len(c.Nodes) {
		return fmt.Errorf("redistest: %d announce ports for %d nodes", len(ports), len(c.Nodes))
	}
	for i, n := range c.Nodes {
		cl := redis.NewClient(&redis.Options{Addr: n.Addr, MaxRetries: -1})
		err := cl.ConfigSet(ctx, "cluster-announce-port", strconv.Itoa(ports[i])).Err()
		cl.Close()
		if err != nil {
			return fmt.Errorf("redistest: announce %d on %s: %w", ports[i], n.Addr, err)
		}
		n.mu.Lock()
		n.announced = "127.0.0.1:" + strconv.Itoa(ports[i])
		n.mu.Unlock()
	}
	want := map[string]bool{}
	for _, n := range c.Nodes {
		want[n.ClientAddr()] = true
	}
	return poll(ctx, "every node announces its proxy", func() bool {
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
				for _, sn := range r.Nodes {
					if !want[sn.Addr] {
						return false
					}
				}
			}
		}
		return true
	})
}

// ClientAddr is where clients are told to reach s: its announced address (Announce), else
// Addr.
func (s *Server) ClientAddr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.announced != "" {
		return s.announced
	}
	return s.Addr
}

// Role is INFO replication's role of the server at addr ("master", "slave"), "" when it
// does not answer.
func Role(ctx context.Context, addr string) string {
	return info(ctx, addr, "replication", "role")
}

// StartProxiedCluster starts a Cluster for t (stopped at cleanup) with an in-process
// toxiproxy in front of every node, which the nodes announce (Announce): proxies[i] fronts
// Nodes[i], and a client seeded with the proxies' addresses reaches every shard through
// them only. Stopping every proxy (or adding a toxic to each) partitions such a client from
// the whole cluster while the cluster itself stays healthy.
func StartProxiedCluster(t testing.TB) (*Cluster, []*toxiproxy.Proxy) {
	t.Helper()
	if err := Available(); err != nil {
		t.Skipf("redistest: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := StartCluster(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Stop)
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop())
	proxies := make([]*toxiproxy.Proxy, len(c.Nodes))
	ports := make([]int, len(c.Nodes))
	for i, n := range c.Nodes {
		p := toxiproxy.NewProxy(srv, "redis-"+strconv.Itoa(i), "127.0.0.1:0", n.Addr)
		if err := p.Start(); err != nil {
			t.Fatalf("redistest: toxiproxy for %s: %v", n.Addr, err)
		}
		t.Cleanup(p.Stop)
		proxies[i] = p
		_, port, _ := net.SplitHostPort(p.Listen)
		ports[i], _ = strconv.Atoi(port)
	}
	if err := c.Announce(ctx, ports); err != nil {
		t.Fatal(err)
	}
	return c, proxies
}
