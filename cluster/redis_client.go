package cluster

import (
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/redis/go-redis/v9"
)

// RedisMode is how a node reaches Redis (ADR 0043).
type RedisMode string

// Redis modes.
const (
	RedisModeSingle   RedisMode = "single"   // one server, REDIS_URL
	RedisModeCluster  RedisMode = "cluster"  // Redis Cluster, REDIS_CLUSTER_ADDRS
	RedisModeSentinel RedisMode = "sentinel" // a Sentinel-watched master, REDIS_SENTINEL_ADDRS + _MASTER
)

// RedisClientConfig names the Redis a node uses; exactly one of URL, ClusterAddrs and
// SentinelAddrs is set. Every Redis user (bus, read markers, node-id leases, presence) takes
// the redis.UniversalClient built from it, so all work in the three modes.
type RedisClientConfig struct {
	// URL of a single server: redis://[user:password@]host:port[/db], or rediss:// for TLS.
	URL string
	// ClusterAddrs are seed host:port addresses of a Redis Cluster; the client discovers the
	// rest (CLUSTER SLOTS) and follows MOVED/ASK and failovers.
	ClusterAddrs []string
	// SentinelAddrs are host:port addresses of the Sentinels watching SentinelMaster, the
	// master's name as the Sentinels know it (required with SentinelAddrs).
	SentinelAddrs  []string
	SentinelMaster string
	// Password is sent to Cluster nodes and to the Sentinel-watched master (empty: none).
	// A single server takes it from its URL.
	Password string
}

// Mode reports which mode the config names, or an error unless exactly one is named
// completely. All fields empty is an error too: the caller decides what "no Redis" means.
func (c RedisClientConfig) Mode() (RedisMode, error) {
	var modes []RedisMode
	if c.URL != "" {
		modes = append(modes, RedisModeSingle)
	}
	if len(c.ClusterAddrs) > 0 {
		modes = append(modes, RedisModeCluster)
	}
	if len(c.SentinelAddrs) > 0 || c.SentinelMaster != "" {
		modes = append(modes, RedisModeSentinel)
	}
	switch len(modes) {
	case 0:
		return "", errors.New("redis: no server named: set a URL, cluster addresses or sentinel addresses")
	case 1:
	default:
		return "", fmt.Errorf("redis: name exactly one of redis-url, redis-cluster-addrs, redis-sentinel-addrs (got %v)", modes)
	}
	var errs []error
	switch modes[0] {
	case RedisModeSingle:
		if _, err := redis.ParseURL(c.URL); err != nil {
			errs = append(errs, fmt.Errorf("redis url: want redis://[user:password@]host:port[/db] or rediss://…: %w", err))
		}
	case RedisModeCluster:
		errs = append(errs, checkAddrs("redis-cluster-addrs", c.ClusterAddrs)...)
	case RedisModeSentinel:
		if len(c.SentinelAddrs) == 0 {
			errs = append(errs, errors.New("redis-sentinel-master is set without redis-sentinel-addrs"))
		}
		if c.SentinelMaster == "" {
			errs = append(errs, errors.New("redis-sentinel-addrs needs redis-sentinel-master (the master's name)"))
		}
		errs = append(errs, checkAddrs("redis-sentinel-addrs", c.SentinelAddrs)...)
	}
	return modes[0], errors.Join(errs...)
}

func checkAddrs(flag string, addrs []string) []error {
	var errs []error
	for _, a := range addrs {
		if h, p, err := net.SplitHostPort(strings.TrimSpace(a)); err != nil || h == "" || p == "" {
			errs = append(errs, fmt.Errorf("%s: %q: want host:port", flag, a))
		}
	}
	return errs
}

// NewRedisClient validates cfg and builds its client without connecting (go-redis dials
// lazily): a *redis.Client, *redis.ClusterClient or Sentinel-backed failover *redis.Client.
// Addr is a description of where it points, for logs.
func NewRedisClient(cfg RedisClientConfig) (rdb redis.UniversalClient, mode RedisMode, addr string, err error) {
	mode, err = cfg.Mode()
	if err != nil {
		return nil, "", "", err
	}
	switch mode {
	case RedisModeSingle:
		opts, _ := redis.ParseURL(cfg.URL)
		return redis.NewClient(opts), mode, opts.Addr, nil
	case RedisModeCluster:
		return redis.NewClusterClient(&redis.ClusterOptions{
			Addrs:    trimAll(cfg.ClusterAddrs),
			Password: cfg.Password,
		}), mode, strings.Join(cfg.ClusterAddrs, ","), nil
	default:
		return redis.NewFailoverClient(&redis.FailoverOptions{
			MasterName:    cfg.SentinelMaster,
			SentinelAddrs: trimAll(cfg.SentinelAddrs),
			Password:      cfg.Password,
		}), mode, cfg.SentinelMaster + "@" + strings.Join(cfg.SentinelAddrs, ","), nil
	}
}

func trimAll(ss []string) []string {
	out := make([]string, 0, len(ss))
	for _, s := range ss {
		out = append(out, strings.TrimSpace(s))
	}
	return out
}

// IsRedisCluster reports whether rdb talks to a Redis Cluster, where keys a script or MULTI
// touches together must share a hash tag and the bus uses sharded Pub/Sub.
func IsRedisCluster(rdb redis.UniversalClient) bool {
	_, ok := rdb.(*redis.ClusterClient)
	return ok
}
