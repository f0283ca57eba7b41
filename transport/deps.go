package transport

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/parley-chat/parley/cluster"
	"github.com/parley-chat/parley/persistence"
	"github.com/parley-chat/parley/transport/auth"
)

// startRedis connects to REDIS_URL or starts the embedded Redis, then settles the node id:
// configured, or leased in Redis so that two live nodes never share one.
func (s *Server) startRedis(ctx context.Context) error {
	rc := s.cfg.redisClientConfig()
	where := "external"
	if rc.URL == "" && len(rc.ClusterAddrs) == 0 && len(rc.SentinelAddrs) == 0 {
		e, err := cluster.StartEmbeddedRedis("127.0.0.1:0")
		if err != nil {
			return err
		}
		s.embeddedRedis = e
		s.closers.push("embedded redis", func(context.Context) error { e.Close(); return nil })
		rc.URL, where = e.URL(), "embedded"
	}
	rdb, mode, addr, err := cluster.NewRedisClient(rc)
	if err != nil {
		return err
	}
	s.closers.push("redis client", func(context.Context) error { return rdb.Close() })
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if mode == cluster.RedisModeSingle {
		// One plain dial first: through the client, an unreachable address makes go-redis
		// log a line of its own for every retry of the ping before the error reaches the
		// operator.
		opts, _ := redis.ParseURL(rc.URL) // valid: NewRedisClient parsed it
		var d net.Dialer
		conn, err := d.DialContext(pctx, opts.Network, addr)
		if err != nil {
			return fmt.Errorf("connect to redis at %s: %w", addr, err)
		}
		conn.Close()
	}
	if err := rdb.Ping(pctx).Err(); err != nil {
		return fmt.Errorf("connect to redis (%s) at %s: %w", mode, addr, err)
	}
	s.redis = rdb
	s.logger.Info("redis", "mode", where, "engine", mode, "addr", addr) // mode: embedded or external, as kafka and postgres say

	node := s.cfg.NodeID
	if node < 0 {
		l, err := cluster.AcquireLease(ctx, rdb, cluster.LeaseConfig{KeyPrefix: s.cfg.RedisPrefix + "node:"}, s.logger)
		if err != nil {
			return err
		}
		s.lease = l
		s.closers.push("node id lease", l.Close)
		node = l.ID()
		go func() {
			select {
			case <-l.Lost():
				s.logger.Error("node id lease lost; ids may collide from now on — restart this node", "node_id", node)
			case <-s.stopped:
			}
		}()
	}
	ids, err := cluster.NewIDGenerator(node, nil)
	if err != nil {
		return err
	}
	s.ids = ids
	s.logger = s.logger.With("node", node)
	return nil
}

// startKafka uses KAFKA_BROKERS or starts the embedded broker with parley's topics.
func (s *Server) startKafka(ctx context.Context) error {
	if len(s.cfg.KafkaBrokers) > 0 {
		s.kafkaBrokers = s.cfg.KafkaBrokers
		s.logger.Info("kafka", "mode", "external", "brokers", s.kafkaBrokers)
		return nil
	}
	k, err := persistence.StartEmbeddedKafka(ctx, persistence.EmbeddedKafkaConfig{})
	if err != nil {
		return err
	}
	s.closers.push("embedded kafka", func(context.Context) error { k.Close(); return nil })
	s.kafkaBrokers = k.Addrs()
	s.logger.Info("kafka", "mode", "embedded", "brokers", s.kafkaBrokers)
	return nil
}

func (s *Server) startDatabase(ctx context.Context) error {
	url := s.cfg.DatabaseURL
	where := "external"
	if url == "" {
		url, where = persistence.DefaultDatabaseURL, "local default"
	}
	pool, err := persistence.OpenDB(ctx, persistence.DBConfig{
		URL:            url,
		MaxConns:       int32(s.cfg.DatabaseMaxConns),
		CreateDatabase: true,
	}, s.logger)
	if err != nil {
		return err
	}
	s.closers.push("database", func(context.Context) error { pool.Close(); return nil })
	if err := persistence.RegisterPoolMetrics(s.reg, pool, "pool"); err != nil {
		return fmt.Errorf("database pool metrics: %w", err)
	}
	if err := persistence.Migrate(ctx, pool, s.logger); err != nil {
		return err
	}
	s.db = pool
	if n := s.cfg.DatabaseSendConns; n > 0 {
		send, err := persistence.OpenDB(ctx, persistence.DBConfig{URL: url, MaxConns: int32(n)}, s.logger)
		if err != nil {
			return fmt.Errorf("send lane: %w", err)
		}
		s.closers.push("database send lane", func(context.Context) error { send.Close(); return nil })
		if err := persistence.RegisterPoolMetrics(s.reg, send, "send_pool"); err != nil {
			return fmt.Errorf("send lane pool metrics: %w", err)
		}
		s.sendPool = send
	}
	s.logger.Info("postgres", "mode", where, "database", pool.Config().ConnConfig.Database)
	reps, err := persistence.NewReplicas(ctx, persistence.ReplicaConfig{URLs: s.cfg.DatabaseReplicaURLs,
		MaxLag: s.cfg.ReplicaMaxLag}, s.logger, s.reg)
	if err != nil {
		return err
	}
	if reps != nil {
		s.closers.push("database replicas", func(context.Context) error { reps.Close(); return nil })
		s.logger.Info("postgres read replicas", "replicas", len(s.cfg.DatabaseReplicaURLs), "max_lag", s.cfg.ReplicaMaxLag)
	}
	s.replicas = reps
	return nil
}

func (s *Server) startAuth() error {
	v, err := auth.New(auth.Config{
		HS256Secret: s.cfg.JWTSecret,
		JWKSURL:     s.cfg.JWKSURL,
		Issuer:      s.cfg.JWTIssuer,
		Audience:    s.cfg.JWTAudience,
		Leeway:      s.cfg.JWTLeeway,
		NoLeeway:    s.cfg.JWTLeeway == 0, // an explicit --jwt-leeway 0s means exact times
	}, s.logger, &http.Client{Timeout: 10 * time.Second})
	if err != nil {
		return fmt.Errorf("token verification: %w", err)
	}
	s.closers.push("token verifier", func(context.Context) error { return v.Close() })
	s.verifier = v
	return nil
}
