package transport

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"net/url"
	"time"

	"github.com/parley-chat/parley/actors"
	"github.com/parley-chat/parley/cluster"
	"github.com/parley-chat/parley/integrations/outgoing"
	"github.com/parley-chat/parley/integrations/slash"
	"github.com/parley-chat/parley/persistence"
	"github.com/parley-chat/parley/transport/api"
	"github.com/parley-chat/parley/transport/clientip"
	"github.com/parley-chat/parley/transport/outbound"
	"github.com/parley-chat/parley/transport/ws"
)

// Config is the whole server's configuration. cmd/parley fills it from flags and
// PARLEY_* environment variables; every field's flag is documented in `parley serve --help`.
type Config struct {
	// Addr is the HTTP and WebSocket listen address. Default ":9000".
	Addr string
	// MetricsAddr, when set, is a second listen address serving /metrics alone; the main
	// listener then answers 404 for /metrics. Empty (default): /metrics on Addr.
	MetricsAddr string
	// Pprof serves net/http/pprof's /debug/pprof/ on the MetricsAddr listener, never on Addr.
	// Off by default: a profile shows memory contents and stacks to whoever can reach it.
	// Requires MetricsAddr.
	Pprof bool
	// NodeID is this node's id (0..1023) inside ids; -1 (default) leases a free one in Redis.
	NodeID int
	// DatabaseURL is the PostgreSQL URL. Default: the local server, database "parley",
	// created if missing.
	DatabaseURL string
	// DatabaseMaxConns caps the PostgreSQL pool. Default 16.
	DatabaseMaxConns int
	// DatabaseSendConns is the send lane's own pool (ADR 0051): message commits take these
	// connections and nothing else does, so a reconnect storm's sign-ins and subscriptions
	// queued on the main pool cannot hold up established sessions' messages. It also caps
	// the commits in flight at once (the coalescer uses Coalesce.Writers of them). The node
	// opens DatabaseMaxConns + DatabaseSendConns connections. Default 4; 0: commits share
	// the main pool.
	DatabaseSendConns int
	// DatabaseInDoubtWait bounds how long a send whose commit may or may not have happened
	// (the connection broke with COMMIT on the wire) keeps asking PostgreSQL for the outcome
	// before answering "outcome_unknown". Default 15 s.
	DatabaseInDoubtWait time.Duration
	// DatabaseReplicaURLs are PostgreSQL streaming replicas of DatabaseURL for the reads
	// ADR 0044 routes. Default: none, every read on the primary.
	DatabaseReplicaURLs []string
	// ReplicaMaxLag is the replay lag above which a replica leaves rotation. Default 1 s.
	ReplicaMaxLag time.Duration
	// ChannelMentionMax is the largest channel (members) where @channel, @all and @here are
	// allowed; above it a message using them is refused with 400. Default 1,000.
	ChannelMentionMax int
	// NotifyFanout is the most users one live-workspace notification is posted to (one bus
	// post each, ADR 0034). Default 5,000.
	NotifyFanout int
	// WebhookAllowPrivate lets outgoing integrations (outgoing webhooks, slash commands)
	// reach loopback, private and link-local addresses. Off by default (SSRF); turning it
	// on is logged as a warning.
	WebhookAllowPrivate bool
	// PublicURL is this server as integrations reach it (https://chat.example.com): slash
	// commands' response URLs start with it (ADR 0038). Empty: http://<listen address>,
	// which only a receiver on the same network can use.
	PublicURL string
	// Slash configures slash commands (call timeout, response URLs' life and uses); zero
	// fields take the defaults. BaseURL comes from PublicURL.
	Slash slash.Config
	// RedisURL is the Redis URL (redis://host:port/db). Empty: an embedded in-process Redis.
	RedisURL string
	// RedisClusterAddrs are seed host:port addresses of a Redis Cluster, and
	// RedisSentinelAddrs/RedisSentinelMaster a Sentinel-watched master (ADR 0043); at most
	// one of RedisURL, RedisClusterAddrs and RedisSentinelAddrs is set. RedisPassword is
	// sent to cluster nodes and the Sentinel master (a single server's is in its URL).
	RedisClusterAddrs   []string
	RedisSentinelAddrs  []string
	RedisSentinelMaster string
	RedisPassword       string
	// KafkaBrokers are the Kafka bootstrap brokers. Empty: an embedded in-process broker.
	KafkaBrokers []string
	// KafkaReplicationFactor and KafkaMinInsyncReplicas are what topics parley creates on
	// an external Kafka get (ADR 0045): -1 (or 0) and 0 take the broker's defaults
	// (default.replication.factor, min.insync.replicas); production runs 3 and 2. The
	// embedded one-broker Kafka ignores them.
	KafkaReplicationFactor int
	KafkaMinInsyncReplicas int
	// OutgoingWebhooks configures the relay and deliverer of outgoing webhooks (ADR 0037);
	// Brokers and Health are set by the server. Zero values are its defaults.
	OutgoingWebhooks outgoing.Config
	// DevMode enables POST /api/auth/dev/login and the built-in JWT secret when none is set.
	// Default DevAuto: on only when neither JWTSecret nor JWKSURL is set; Validate decides it.
	DevMode DevMode
	// JWTSecret is the HS256 shared secret (at least 32 bytes).
	JWTSecret string
	// JWKSURL is an identity provider's key set for RS256/ES256 tokens.
	JWKSURL string
	// JWTIssuer and JWTAudience are checked when set.
	JWTIssuer, JWTAudience string
	// JWTLeeway is the allowed clock skew, at most 30 s. Default 5 s.
	JWTLeeway time.Duration
	// AllowedOrigins for WebSocket upgrades; empty or "*" allows any (dev).
	AllowedOrigins []string
	// TrustedProxies are the reverse proxies (addresses or CIDR prefixes) whose
	// X-Forwarded-For names the client for the limits keyed by source address. Empty (default):
	// the peer address is the client; behind a proxy every client then shares its address.
	TrustedProxies []string
	// BodyTimeout is how long a request's body may take to arrive, from the end of its
	// headers; then 408 and the connection is closed. Default 30 s.
	BodyTimeout time.Duration
	// IdleTimeout closes a keep-alive HTTP connection that sends no next request within it.
	// Default 120 s.
	IdleTimeout time.Duration
	// DrainTimeout bounds graceful shutdown: in-flight sends finish, buffers flush. Default 15 s.
	DrainTimeout time.Duration
	// Version is the build's version string, shown in /metrics and CONNECTED.
	Version string

	// Realtime holds the channel and connection actors' limits (send rate, subscriptions,
	// batch size, heart-beats); zero fields take the actors' defaults.
	// NodeID is filled by the server.
	Realtime actors.Config
	// WebSocket holds the socket limits (frame size, buffers) and the outbound queues
	// (Outbound: queue length, write timeout); zero fields take the
	// defaults. AllowedOrigins is filled from the field above.
	WebSocket ws.Config
	// RateLimits are the REST rate limits per user and per client address; zero fields
	// take the defaults, and Messages those of Realtime.SendRate and SendBurst, so that
	// REST posts no faster than STOMP (ADR 0026).
	RateLimits api.Limits
	// RedisPrefix starts every Redis key and Pub/Sub channel this node uses (node-id leases,
	// read markers, parked receipts, the bus), so that several deployments — or parallel
	// tests — can share one Redis. All nodes of a cluster must use the same. Default "parley:".
	RedisPrefix string
	// Bus configures the Redis Pub/Sub bus between nodes; zero fields take the defaults
	// (TopicPrefix: RedisPrefix + "bus:").
	// Every node of a cluster needs the same TopicPrefix.
	Bus cluster.BusConfig
	// Presence configures users' presence in Redis (TTL of a node's entries, renewal,
	// sweeping); zero fields take the defaults (KeyPrefix: RedisPrefix + "presence:").
	// Every node of a cluster needs the same KeyPrefix and should use the same TTL.
	Presence cluster.PresenceConfig
	// Files configures uploads: the local directory or S3 store, limits, janitor (ADR 0041).
	Files FilesConfig
}

// DevJWTSecret is the HS256 secret used in dev mode when none is configured, so that
// `parley token` and a dev server agree without set-up. It is used only when dev mode is on
// and no secret or JWKS URL is configured; a configured one turns dev mode off unless it is
// asked for (ADR 0024).
const DevJWTSecret = "parley-dev-secret-not-for-production-use!"

// Defaults of the HTTP server's timeouts (ADR 0025).
const (
	DefaultBodyTimeout = 30 * time.Second
	DefaultIdleTimeout = 120 * time.Second
)

// DefaultConfig returns the embedded default: everything in-process but PostgreSQL.
func DefaultConfig() Config {
	return Config{
		Addr:                ":9000",
		NodeID:              -1,
		DatabaseMaxConns:    16,
		DatabaseSendConns:   4,
		DatabaseInDoubtWait: persistence.DefaultInDoubtWait,
		ReplicaMaxLag:       persistence.DefaultReplicaMaxLag,
		ChannelMentionMax:   persistence.DefaultChannelMentionMax,
		NotifyFanout:        api.DefaultNotifyFanout,
		JWTLeeway:           5 * time.Second,
		DrainTimeout:        15 * time.Second,
		BodyTimeout:         DefaultBodyTimeout,
		IdleTimeout:         DefaultIdleTimeout,
		RedisPrefix:         "parley:",
		Version:             "dev",

		KafkaReplicationFactor: -1,

		// The node-wide commit coalescer (ADR 0046): 4–30× lower P50 at 1,000 channels in
		// every interleaved round, the hot channel unchanged within the spread.
		Realtime: actors.Config{Coalesce: actors.CoalesceConfig{On: true}},
	}
}

// Validate checks the configuration, decides DevAuto and fills the dev secret. Its errors are single lines
// naming the setting, for the command line to print as they are.
func (c *Config) Validate() error {
	var errs []error
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		errs = append(errs, fmt.Errorf("addr %q: want host:port, e.g. :9000", c.Addr))
	}
	if c.MetricsAddr != "" {
		if _, _, err := net.SplitHostPort(c.MetricsAddr); err != nil {
			errs = append(errs, fmt.Errorf("metrics-addr %q: want host:port, e.g. :9100, or empty for the main listener", c.MetricsAddr))
		}
	}
	if c.Pprof && c.MetricsAddr == "" {
		errs = append(errs, errors.New("pprof: needs --metrics-addr, the internal listener it is served on; the main listener never serves it"))
	}
	if c.NodeID < -1 || c.NodeID > 1023 {
		errs = append(errs, fmt.Errorf("node-id %d: want 0..1023, or -1 to lease one from Redis", c.NodeID))
	}
	if c.DatabaseMaxConns < 2 {
		errs = append(errs, fmt.Errorf("db-max-conns %d: want at least 2", c.DatabaseMaxConns))
	}
	if c.DatabaseSendConns < 0 {
		errs = append(errs, fmt.Errorf("db-send-conns %d: want 0 (commits share the main pool) or more", c.DatabaseSendConns))
	}
	if c.ReplicaMaxLag <= 0 {
		errs = append(errs, fmt.Errorf("replica-max-lag %s: want a positive duration", c.ReplicaMaxLag))
	}
	if c.DatabaseInDoubtWait <= 0 {
		errs = append(errs, fmt.Errorf("db-in-doubt-wait %s: want a positive duration", c.DatabaseInDoubtWait))
	}
	if c.ChannelMentionMax < 0 {
		errs = append(errs, fmt.Errorf("channel-mention-max %d: want a positive number of members (0: the default)", c.ChannelMentionMax))
	}
	if c.NotifyFanout < 0 {
		errs = append(errs, fmt.Errorf("notify-fanout %d: want a positive number of users (0: the default)", c.NotifyFanout))
	}
	for _, b := range c.KafkaBrokers {
		if _, _, err := net.SplitHostPort(b); err != nil {
			errs = append(errs, fmt.Errorf("kafka broker %q: want host:port", b))
		}
	}
	if err := persistence.ValidateKafkaReplication(c.KafkaReplicationFactor, c.KafkaMinInsyncReplicas); err != nil {
		errs = append(errs, fmt.Errorf("kafka-replication-factor %d, kafka-min-insync-replicas %d: %w",
			c.KafkaReplicationFactor, c.KafkaMinInsyncReplicas, err))
	}
	if rc := c.redisClientConfig(); rc.URL != "" || len(rc.ClusterAddrs) > 0 || len(rc.SentinelAddrs) > 0 || rc.SentinelMaster != "" {
		if _, err := rc.Mode(); err != nil {
			errs = append(errs, err)
		}
	}
	if c.JWTLeeway < 0 || c.JWTLeeway > 30*time.Second {
		errs = append(errs, fmt.Errorf("jwt-leeway %s: want 0s..30s", c.JWTLeeway))
	}
	if c.RedisPrefix == "" {
		c.RedisPrefix = "parley:"
	}
	if c.Bus.TopicPrefix == "" {
		c.Bus.TopicPrefix = c.RedisPrefix + "bus:"
	}
	if c.Presence.KeyPrefix == "" {
		c.Presence.KeyPrefix = c.RedisPrefix + "presence:"
	}
	if err := c.Presence.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("presence-ttl %s, presence-renew %s, presence-sweep %s: %w",
			c.Presence.TTL, c.Presence.RenewInterval, c.Presence.SweepInterval, err))
	}
	if c.PublicURL != "" {
		if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("public-url %q: want an absolute http(s) URL, e.g. https://chat.example.com", c.PublicURL))
		}
	}
	if c.Realtime.AwayAfter < 0 {
		errs = append(errs, fmt.Errorf("away-after %s: must be positive", c.Realtime.AwayAfter))
	}
	if _, err := clientip.New(c.TrustedProxies); err != nil {
		errs = append(errs, fmt.Errorf("trusted-proxies: %w", err))
	}
	if c.BodyTimeout == 0 {
		c.BodyTimeout = DefaultBodyTimeout
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.BodyTimeout < 0 {
		errs = append(errs, fmt.Errorf("body-timeout %s: must be positive", c.BodyTimeout))
	}
	if c.IdleTimeout < 0 {
		errs = append(errs, fmt.Errorf("idle-timeout %s: must be positive", c.IdleTimeout))
	}
	if w := c.WebSocket; w.MaxUnauthenticated < 0 || w.MaxUnauthenticatedPerIP < 0 || w.MaxSocketsPerIP < 0 {
		errs = append(errs, fmt.Errorf("max-unauth-sockets %d, max-unauth-sockets-per-ip %d, max-sockets-per-ip %d: want positive counts",
			w.MaxUnauthenticated, w.MaxUnauthenticatedPerIP, w.MaxSocketsPerIP))
	}
	if c.WebSocket.ConnectTimeout < 0 {
		errs = append(errs, fmt.Errorf("connect-timeout %s: must be positive", c.WebSocket.ConnectTimeout))
	}
	// One group commit delivers up to MaxBatch frames to every subscriber at once: a queue
	// smaller than that would drop healthy clients as slow consumers.
	if q, b := cmp.Or(c.WebSocket.Outbound.Queue, outbound.DefaultQueue), cmp.Or(c.Realtime.MaxBatch, actors.DefaultMaxBatch); q < outbound.MinQueue || q < b {
		errs = append(errs, fmt.Errorf("outbound-queue %d: want at least %d frames and at least max-batch (%d)", q, outbound.MinQueue, b))
	}
	if c.Realtime.ReplayBudget < 0 {
		errs = append(errs, fmt.Errorf("replay-budget %d: want a positive number of messages a minute", c.Realtime.ReplayBudget))
	}
	if err := c.Files.validate(); err != nil {
		errs = append(errs, err)
	}
	if c.DrainTimeout <= 0 {
		errs = append(errs, fmt.Errorf("drain-timeout %s: must be positive", c.DrainTimeout))
	}
	c.resolveDevMode()
	if c.JWTSecret == "" && c.JWKSURL == "" {
		errs = append(errs, errors.New("no token verification configured: set PARLEY_JWT_SECRET or PARLEY_JWKS_URL (or enable dev mode)"))
	}
	if c.DevMode.On() && c.JWTSecret == "" {
		errs = append(errs, errors.New("dev: dev login signs HS256 tokens and a JWKS URL cannot: set PARLEY_JWT_SECRET too, or leave dev mode off"))
	}
	if c.JWTSecret != "" && len(c.JWTSecret) < 32 {
		errs = append(errs, fmt.Errorf("jwt-secret: %d bytes, want at least 32", len(c.JWTSecret)))
	}
	return errors.Join(errs...)
}

// redisClientConfig is the Redis the node was told to use (all empty: embedded).
func (c Config) redisClientConfig() cluster.RedisClientConfig {
	return cluster.RedisClientConfig{
		URL: c.RedisURL, ClusterAddrs: c.RedisClusterAddrs,
		SentinelAddrs: c.RedisSentinelAddrs, SentinelMaster: c.RedisSentinelMaster,
		Password: c.RedisPassword,
	}
}
