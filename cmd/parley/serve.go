package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/parley-chat/parley/actors"
	"github.com/parley-chat/parley/cluster"
	"github.com/parley-chat/parley/files"
	"github.com/parley-chat/parley/transport"
	"github.com/parley-chat/parley/transport/api"
	"github.com/parley-chat/parley/transport/outbound"
	"github.com/parley-chat/parley/transport/ws"
)

// serveFlags binds every server setting to a flag and an environment variable.
func serveFlags(cfg *transport.Config, gc *gcOptions, logOpts *logOptions) *envFlags {
	f := newEnvFlags("serve", "Run a parley node. With no service URLs it embeds Redis and Kafka in-process and uses the local PostgreSQL (database created if missing): the one-command demo.")
	d := transport.DefaultConfig()
	f.str(&cfg.Addr, "addr", "PARLEY_ADDR", d.Addr, "HTTP and WebSocket listen address (host:port)")
	f.integer(&cfg.NodeID, "node-id", "PARLEY_NODE_ID", d.NodeID, "node id 0..1023 inside generated ids; -1 leases a free one in Redis (TTL 30s, renewed)")
	f.str(&cfg.DatabaseURL, "database-url", "DATABASE_URL", "", "PostgreSQL URL; empty: "+"postgres://postgres@127.0.0.1:5432/parley (created if missing)")
	f.integer(&cfg.DatabaseMaxConns, "db-max-conns", "PARLEY_DB_MAX_CONNS", d.DatabaseMaxConns, "PostgreSQL pool size (connections)")
	f.integer(&cfg.DatabaseSendConns, "db-send-conns", "PARLEY_DB_SEND_CONNS", d.DatabaseSendConns, "PostgreSQL connections of the send lane, a pool of their own that only message commits use, so sign-ins and subscriptions queued on the main pool cannot delay established sessions' messages (ADR 0051); also caps the commits in flight at once; 0: commits share the main pool")
	f.strings(&cfg.DatabaseReplicaURLs, "database-replica-urls", "DATABASE_REPLICA_URLS", "PostgreSQL streaming replicas for history, search, thread, member and unread reads, comma-separated URLs; empty: every read on the primary (ADR 0044)")
	f.duration(&cfg.ReplicaMaxLag, "replica-max-lag", "PARLEY_REPLICA_MAX_LAG", d.ReplicaMaxLag, "replay lag (read from each replica) above which a replica leaves rotation and its reads go to the primary")
	f.duration(&cfg.DatabaseInDoubtWait, "db-in-doubt-wait", "PARLEY_DB_IN_DOUBT_WAIT", d.DatabaseInDoubtWait, "how long a send whose commit was cut off keeps asking PostgreSQL whether it was stored before answering outcome_unknown")
	f.integer(&cfg.ChannelMentionMax, "channel-mention-max", "PARLEY_CHANNEL_MENTION_MAX", d.ChannelMentionMax, "largest channel (members) where @channel, @all and @here are allowed; above it such a message is refused with 400")
	f.integer(&cfg.NotifyFanout, "notify-fanout", "PARLEY_NOTIFY_FANOUT", d.NotifyFanout, "most users one live-workspace notification (channel.created, channel.updated, member.joined) is posted to, one bus post each (users)")
	f.boolean(&cfg.WebhookAllowPrivate, "webhook-allow-private", "PARLEY_WEBHOOK_ALLOW_PRIVATE", false, "let outgoing webhooks and slash commands reach loopback, private and link-local addresses (off: such URLs are refused, against SSRF; on is logged as a warning)")
	f.str(&cfg.PublicURL, "public-url", "PARLEY_PUBLIC_URL", "", "this server's URL as integrations reach it (https://chat.example.com): slash commands' response URLs start with it; empty: http://<listen address>")
	f.str(&cfg.RedisURL, "redis-url", "REDIS_URL", "", "Redis URL (redis://host:port/db, rediss:// for TLS); empty with no cluster or sentinel addresses: embedded in-process Redis")
	f.strings(&cfg.RedisClusterAddrs, "redis-cluster-addrs", "REDIS_CLUSTER_ADDRS", "Redis Cluster seed nodes, comma-separated host:port (instead of --redis-url; ADR 0043)")
	f.strings(&cfg.RedisSentinelAddrs, "redis-sentinel-addrs", "REDIS_SENTINEL_ADDRS", "Redis Sentinels, comma-separated host:port (instead of --redis-url; with --redis-sentinel-master)")
	f.str(&cfg.RedisSentinelMaster, "redis-sentinel-master", "REDIS_SENTINEL_MASTER", "", "the master's name as the Sentinels know it")
	f.str(&cfg.RedisPassword, "redis-password", "REDIS_PASSWORD", "", "password for Redis Cluster nodes and the Sentinel-watched master (a single server's goes in its URL)")
	f.str(&cfg.RedisPrefix, "redis-prefix", "PARLEY_REDIS_PREFIX", d.RedisPrefix, "prefix of every Redis key and channel (leases, read markers, bus); the same on all nodes of a cluster")
	f.strings(&cfg.KafkaBrokers, "kafka-brokers", "KAFKA_BROKERS", "Kafka bootstrap brokers, comma-separated host:port; empty: embedded in-process broker")
	f.integer(&cfg.KafkaReplicationFactor, "kafka-replication-factor", "KAFKA_REPLICATION_FACTOR", d.KafkaReplicationFactor, "replication factor of the topics parley creates on --kafka-brokers; -1: the broker's default.replication.factor (production: 3)")
	f.integer(&cfg.KafkaMinInsyncReplicas, "kafka-min-insync-replicas", "KAFKA_MIN_INSYNC_REPLICAS", d.KafkaMinInsyncReplicas, "min.insync.replicas of the topics parley creates on --kafka-brokers (writes use acks=all); 0: the broker's default (production: 2)")
	f.value(&cfg.DevMode, "dev", "PARLEY_DEV", "dev mode (true, false or auto): POST /api/auth/dev/login mints a token for any username, and a built-in JWT secret verifies tokens; auto is on only when neither --jwt-secret nor --jwks-url is set (give --dev explicitly to keep it on with either, which logs a warning)")
	f.str(&cfg.JWTSecret, "jwt-secret", "PARLEY_JWT_SECRET", "", "HS256 shared secret, at least 32 bytes; setting it turns dev mode off unless --dev is given")
	f.str(&cfg.JWKSURL, "jwks-url", "PARLEY_JWKS_URL", "", "identity provider's JWKS URL for RS256/ES256 tokens; setting it turns dev mode off unless --dev is given")
	f.str(&cfg.JWTIssuer, "jwt-issuer", "PARLEY_JWT_ISSUER", "", "required token issuer (iss), checked when set")
	f.str(&cfg.JWTAudience, "jwt-audience", "PARLEY_JWT_AUDIENCE", "", "required token audience (aud), checked when set")
	f.duration(&cfg.JWTLeeway, "jwt-leeway", "PARLEY_JWT_LEEWAY", d.JWTLeeway, "allowed clock skew for token times, at most 30s")
	f.strings(&cfg.AllowedOrigins, "allowed-origins", "PARLEY_ALLOWED_ORIGINS", "WebSocket Origin allow-list, comma-separated; empty or * allows any (dev)")
	f.strings(&cfg.TrustedProxies, "trusted-proxies", "PARLEY_TRUSTED_PROXIES", "reverse proxies whose X-Forwarded-For names the client for per-address limits, comma-separated addresses or CIDR prefixes; empty: none (the peer address counts)")
	f.duration(&cfg.DrainTimeout, "drain-timeout", "PARLEY_DRAIN_TIMEOUT", d.DrainTimeout, "graceful shutdown budget: in-flight sends finish, buffers flush")
	rt, wsc := &cfg.Realtime, &cfg.WebSocket
	f.integer(&wsc.MaxFrameBytes, "max-frame-bytes", "PARLEY_MAX_FRAME_BYTES", ws.DefaultMaxFrameBytes, "largest WebSocket/STOMP frame accepted (bytes)")
	f.integer(&wsc.MaxConnectionsPerUser, "max-connections-per-user", "PARLEY_MAX_CONNECTIONS_PER_USER", ws.DefaultMaxConnectionsPerUser, "STOMP sessions one user may hold on this node; the next CONNECT gets ERROR too_many_connections")
	f.integer(&wsc.SocketSendBuffer, "socket-send-buffer", "PARLEY_SOCKET_SEND_BUFFER", 0, "kernel send buffer per socket (bytes); 0: kernel autotuning")
	// Unauthenticated exhaustion (issue 21, ADR 0025): deadlines and socket caps.
	f.duration(&wsc.ConnectTimeout, "connect-timeout", "PARLEY_CONNECT_TIMEOUT", ws.DefaultConnectTimeout, "time from the WebSocket upgrade by which CONNECT must have arrived; pings and partial frames do not extend it")
	f.integer(&wsc.MaxUnauthenticated, "max-unauth-sockets", "PARLEY_MAX_UNAUTH_SOCKETS", ws.DefaultMaxUnauthenticated, "WebSockets the node holds before their CONNECT is accepted (sockets); the next upgrade gets 503")
	f.integer(&wsc.MaxUnauthenticatedPerIP, "max-unauth-sockets-per-ip", "PARLEY_MAX_UNAUTH_SOCKETS_PER_IP", ws.DefaultMaxUnauthenticatedPerIP, "WebSockets per client address (IPv6: per /64) whose CONNECT is not yet accepted (sockets); the next upgrade gets 503")
	f.integer(&wsc.MaxSocketsPerIP, "max-sockets-per-ip", "PARLEY_MAX_SOCKETS_PER_IP", ws.DefaultMaxSocketsPerIP, "WebSockets per client address (IPv6: per /64), authenticated or not (sockets; an office behind one NAT shares it); the next upgrade gets 503. Behind a proxy set --trusted-proxies, or all clients share the proxy's address")
	f.duration(&cfg.BodyTimeout, "body-timeout", "PARLEY_BODY_TIMEOUT", d.BodyTimeout, "time a request body may take to arrive after its headers; then 408 and the connection closes")
	f.duration(&cfg.IdleTimeout, "idle-timeout", "PARLEY_IDLE_TIMEOUT", d.IdleTimeout, "an idle keep-alive HTTP connection is closed after this")
	f.float(&rt.SendRate, "send-rate", "PARLEY_SEND_RATE", actors.DefaultSendRate, "sustained SEND frames per second per connection")
	f.integer(&rt.SendBurst, "send-burst", "PARLEY_SEND_BURST", actors.DefaultSendBurst, "SEND frames a connection may send at once above --send-rate")
	f.integer(&rt.MaxSubscriptions, "max-subscriptions", "PARLEY_MAX_SUBSCRIPTIONS", actors.DefaultMaxSubscriptions, "subscriptions per connection")
	ob := &wsc.Outbound
	f.integer(&ob.Queue, "outbound-queue", "PARLEY_OUTBOUND_QUEUE", outbound.DefaultQueue, "frames waiting for a connection's socket before it is dropped with ERROR slow-consumer")
	f.duration(&ob.WriteTimeout, "write-timeout", "PARLEY_WRITE_TIMEOUT", outbound.DefaultWriteTimeout, "longest write to one socket before the peer is dropped")
	f.duration(&ob.ReadEventDelay, "read-event-delay", "PARLEY_READ_EVENT_DELAY", outbound.DefaultReadEventDelay, "longest a read event waits in a session's queue to share a write with other frames; negative: at once")
	f.duration(&rt.HeartBeat.Send, "heartbeat", "PARLEY_HEARTBEAT", actors.DefaultHeartBeat, "STOMP heart-beat interval offered both ways; a silent peer is dropped after 2x its interval")
	f.integer(&rt.MaxBatch, "max-batch", "PARLEY_MAX_BATCH", actors.DefaultMaxBatch, "most messages one group-commit transaction writes (messages)")
	f.boolean(&rt.Coalesce.On, "commit-coalesce", "PARLEY_COMMIT_COALESCE", d.Realtime.Coalesce.On, "commits of many channels ready at the same moment share one PostgreSQL transaction (ADR 0046); false: each channel commits on its own")
	f.duration(&rt.ChannelIdle, "channel-idle", "PARLEY_CHANNEL_IDLE", actors.DefaultChannelIdle, "how long an idle channel actor with no subscribers lives")
	f.duration(&rt.GapWait, "gap-wait", "PARLEY_GAP_WAIT", actors.DefaultGapWait, "how long messages from other nodes wait behind a missing seq before it is read from PostgreSQL")
	f.duration(&rt.AnnounceInterval, "announce-interval", "PARLEY_ANNOUNCE_INTERVAL", actors.DefaultAnnounceInterval, "after a failed publish to the bus, how often a channel announces its latest seq until one gets through")
	// Presence (ADR 0033).
	f.duration(&rt.AwayAfter, "away-after", "PARLEY_AWAY_AFTER", actors.DefaultAwayAfter, "a session with no user activity (frames other than heart-beats) for this long counts as away; a user is away when all their sessions are")
	f.integer(&rt.MaxPresenceWatch, "max-presence-watch", "PARLEY_MAX_PRESENCE_WATCH", actors.DefaultMaxPresenceWatch, "users one /app/presence.watch may name; a longer list gets ERROR and changes nothing")
	f.duration(&cfg.Presence.TTL, "presence-ttl", "PARLEY_PRESENCE_TTL", cluster.DefaultPresenceTTL, "a node that stops renewing its presence entries in Redis is declared dead this long after its last renewal; with --presence-sweep, at most 45s")
	f.duration(&cfg.Presence.RenewInterval, "presence-renew", "PARLEY_PRESENCE_RENEW", 0, "how often a node renews its presence entries (one Redis command per node); 0: presence-ttl/3; at most presence-ttl/2")
	f.duration(&cfg.Presence.SweepInterval, "presence-sweep", "PARLEY_PRESENCE_SWEEP", cluster.DefaultPresenceSweepInterval, "how often a node clears dead nodes' presence entries: a killed node's users are offline within presence-ttl + presence-sweep")
	// Rate limits, counted per node (ADR 0026).
	rl := &cfg.RateLimits
	f.integer(&rt.ReplayBudget, "replay-budget", "PARLEY_REPLAY_BUDGET", actors.DefaultReplayBudget, "messages since-seq resumes and /app/message.resend may replay per user per minute; a longer resume gets that many, then ERROR rate_limited")
	f.limit(&rl.Writes, "rest-write-limit", "PARLEY_REST_WRITE_LIMIT", api.DefaultWritesLimit, "REST writes per user other than messages and reactions, as `RATE,BURST` (per second, at once); message posts follow --send-rate,--send-burst per user")
	f.limit(&rl.Reactions, "rest-reaction-limit", "PARLEY_REST_REACTION_LIMIT", api.DefaultReactionsLimit, "REST reaction adds and removals per user, as `RATE,BURST`")
	f.limit(&rl.Search, "rest-search-limit", "PARLEY_REST_SEARCH_LIMIT", api.DefaultSearchLimit, "REST searches per user, as `RATE,BURST`")
	f.limit(&rl.Unauthenticated, "unauthenticated-limit", "PARLEY_UNAUTHENTICATED_LIMIT", api.DefaultUnauthenticatedLimit, "REST requests per client address (IPv6: per /64) to public routes or with bad credentials, as `RATE,BURST`; see --trusted-proxies")
	f.limit(&rl.DevLogin, "dev-login-limit", "PARLEY_DEV_LOGIN_LIMIT", api.DefaultDevLoginLimit, "dev logins per client address, as `RATE,BURST`")
	f.limit(&rl.IncomingWebhook, "incoming-webhook-limit", "PARLEY_INCOMING_WEBHOOK_LIMIT", api.DefaultIncomingWebhookLimit, "posts per incoming webhook (POST /hooks/…), as `RATE,BURST`, on top of --unauthenticated-limit per address (ADR 0036)")
	f.integer(&gc.minHeapMiB, "gc-min-heap", "PARLEY_GC_MIN_HEAP", defaultGCMinHeapMiB, "smallest heap goal given to Go's garbage collector (MiB): while the live heap is small, GOGC is raised so the node is not collected dozens of times a second; 0: Go's own GOGC alone")
	f.integer(&gc.loadHeapMiB, "gc-load-heap", "PARLEY_GC_LOAD_HEAP", defaultGCLoadHeapMiB, "highest the --gc-min-heap floor rises under load (MiB): a node allocating fast gets a heap goal of about a second's allocations, so it is collected about once a second; an idle node stays at --gc-min-heap; at most --gc-min-heap: a fixed floor (ADR 0052)")
	// Observability (issue 21): a listener for /metrics that a reverse proxy does not expose.
	f.str(&cfg.MetricsAddr, "metrics-addr", "PARLEY_METRICS_ADDR", d.MetricsAddr, "separate listen address (host:port) serving /metrics alone, for Prometheus on an internal network; the main listener then answers 404 for /metrics; empty: /metrics on --addr")
	f.boolean(&cfg.Pprof, "pprof", "PARLEY_PPROF", false, "also serve Go's /debug/pprof/ on --metrics-addr (required), never on --addr; off by default: profiles show stacks and heap contents")
	// Files (ADR 0041): a local directory by default, any S3-compatible store in production
	// (credentials from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, never a flag).
	fc := &cfg.Files
	f.str(&fc.Dir, "files-dir", "PARLEY_FILES_DIR", "", "directory holding uploaded files when no S3 store is set; empty: "+transport.DefaultFilesDir())
	f.int64(&fc.Service.MaxSize, "file-max-size", "PARLEY_FILE_MAX_SIZE", files.DefaultMaxSize, "largest upload (bytes); a larger one is refused with 413")
	f.str(&fc.S3.Endpoint, "s3-endpoint", "PARLEY_S3_ENDPOINT", "", "S3-compatible store for files, http(s)://host[:port] (credentials from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY); downloads become redirects to presigned URLs valid 5 minutes; empty: --files-dir")
	f.str(&fc.S3.Bucket, "s3-bucket", "PARLEY_S3_BUCKET", "", "the S3 bucket holding files (must exist)")
	f.str(&fc.S3.Region, "s3-region", "PARLEY_S3_REGION", "us-east-1", "the S3 bucket's region")
	logOpts.register(f)
	f.footer = runtimeEnvHelp
	return f
}

// runtimeEnvHelp documents the Go runtime's own settings, which are read by the runtime
// before main runs and so are environment variables only.
const runtimeEnvHelp = `Go runtime (environment only):
  GOMAXPROCS  processors the node's goroutines run on (default: every CPU). Fewer leaves more
              to a PostgreSQL on the same machine but lets one busy processor delay every
              write: on two cores at 20,000 msg/s, 1 cut the node's CPU by a fifth and got a
              busy subscriber dropped as a slow consumer in 2 runs of 7 (docs/adr/0022).
  GOGC, GOMEMLIMIT
              the garbage collector's pace and soft memory limit; --gc-min-heap and --gc-load-heap work on top
              of GOGC, and GOMEMLIMIT bounds the heap whatever GOGC says.`

// The garbage collector's floor (ADR 0019): --gc-min-heap when idle, rising under load to
// --gc-load-heap (ADR 0052).
const (
	defaultGCMinHeapMiB  = 64
	defaultGCLoadHeapMiB = 256
)

// gcOptions are the flags of the collector's floor (transport.GCFloorConfig), in MiB.
type gcOptions struct{ minHeapMiB, loadHeapMiB int }

// start starts the floor they ask for; nil when --gc-min-heap is 0.
func (o gcOptions) start(logger *slog.Logger, reg prometheus.Registerer) (*transport.GCFloor, error) {
	for _, v := range []struct {
		name string
		mib  int
	}{{"gc-min-heap", o.minHeapMiB}, {"gc-load-heap", o.loadHeapMiB}} {
		if v.mib < 0 || v.mib > 1<<20 {
			return nil, fmt.Errorf("invalid configuration: %s %d: want 0..1048576 MiB", v.name, v.mib)
		}
	}
	if o.minHeapMiB == 0 {
		return nil, nil
	}
	return transport.StartGCFloor(transport.GCFloorConfig{
		MinHeapGoal: uint64(o.minHeapMiB) << 20, LoadHeapGoal: uint64(o.loadHeapMiB) << 20,
	}, logger, reg)
}

func runServe(args []string) int {
	cfg := transport.DefaultConfig()
	cfg.Version = version
	var logOpts logOptions
	var gc gcOptions
	f := serveFlags(&cfg, &gc, &logOpts)
	if err := f.parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(os.Stderr, "parley serve:", err)
		return 2
	}
	cfg.Realtime.HeartBeat.Recv = cfg.Realtime.HeartBeat.Send
	cfg.Files.S3.AccessKey, cfg.Files.S3.SecretKey = os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY")
	logger, err := logOpts.logger()
	if err != nil {
		fmt.Fprintln(os.Stderr, "parley serve:", err)
		return 2
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintln(os.Stderr, "parley serve: invalid configuration:", oneLine(err))
		return 2
	}
	// go-redis logs pool failures itself, unstructured, to stderr; the dependency trackers
	// report Redis's outages (ADR 0028), so its lines go to debug. Process-wide, hence here.
	cluster.RouteRedisLogs(logger)
	reg := prometheus.NewRegistry()
	floor, err := gc.start(logger, reg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "parley serve:", oneLine(err))
		return 2
	}
	if floor != nil {
		defer floor.Stop()
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	srv, err := transport.New(ctx, cfg, logger, reg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "parley serve:", oneLine(err))
		return 1
	}
	// A second signal while draining is reported but does not cut the drain short:
	// Shutdown is idempotent and the drain timeout bounds it.
	go func() {
		<-ctx.Done()
		stop()
		again := make(chan os.Signal, 1)
		signal.Notify(again, syscall.SIGINT, syscall.SIGTERM)
		defer signal.Stop(again)
		select {
		case <-again:
			logger.Warn("second signal: already draining", "timeout", cfg.DrainTimeout)
			sctx, cancel := context.WithTimeout(context.Background(), cfg.DrainTimeout)
			defer cancel()
			_ = srv.Shutdown(sctx)
		case <-time.After(cfg.DrainTimeout + time.Second):
		}
	}()
	if err := srv.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "parley serve:", oneLine(err))
		return 1
	}
	return 0
}
