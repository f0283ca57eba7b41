package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// LeaseConfig configures node-id leasing.
type LeaseConfig struct {
	// KeyPrefix of the lease keys; the key of node n is KeyPrefix + n. Default "parley:node:".
	KeyPrefix string
	// TTL of a lease; it is renewed every TTL/3. Default 30 s. A crashed node's id is free
	// again after at most TTL.
	TTL time.Duration
}

func (c LeaseConfig) withDefaults() LeaseConfig {
	if c.KeyPrefix == "" {
		c.KeyPrefix = "parley:node:"
	}
	if c.TTL == 0 {
		c.TTL = 30 * time.Second
	}
	return c
}

// ErrNoFreeNodeID means all 1,024 node ids are leased.
var ErrNoFreeNodeID = errors.New("no free node id: all 1024 are leased")

// Lease holds one node id in Redis with SET NX and a TTL, renews it, and releases it on
// Close. Renewal and release compare the holder token, so a node never extends or deletes
// a lease that expired and was taken by another node.
type Lease struct {
	rdb    redis.UniversalClient
	cfg    LeaseConfig
	logger *slog.Logger
	id     int
	token  string

	lost      chan struct{}
	lostOnce  sync.Once
	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

var (
	renewScript   = redis.NewScript(`if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("PEXPIRE", KEYS[1], ARGV[2]) end return 0`)
	releaseScript = redis.NewScript(`if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) end return 0`)
)

// AcquireLease takes the first free node id, starting at a random one so that nodes
// starting together rarely contend for the same key.
func AcquireLease(ctx context.Context, rdb redis.UniversalClient, cfg LeaseConfig, logger *slog.Logger) (*Lease, error) {
	cfg = cfg.withDefaults()
	if cfg.TTL < time.Second {
		return nil, fmt.Errorf("node lease ttl %s is below 1s", cfg.TTL)
	}
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	token := hex.EncodeToString(b)
	start := int(b[0])<<2 | int(b[1]&3)
	for i := range MaxNodeID + 1 {
		id := (start + i) % (MaxNodeID + 1)
		ok, err := rdb.SetNX(ctx, cfg.KeyPrefix+fmt.Sprint(id), token, cfg.TTL).Result()
		if err != nil {
			return nil, fmt.Errorf("lease node id: %w", err)
		}
		if ok {
			l := &Lease{rdb: rdb, cfg: cfg, logger: logger, id: id, token: token,
				lost: make(chan struct{}), stop: make(chan struct{}), done: make(chan struct{})}
			go l.renew()
			return l, nil
		}
	}
	return nil, ErrNoFreeNodeID
}

// ID is the leased node id.
func (l *Lease) ID() int { return l.id }

// Lost is closed when the lease could not be renewed before it expired: another node may
// take the id from then on, so this node must stop making ids.
func (l *Lease) Lost() <-chan struct{} { return l.lost }

func (l *Lease) key() string { return l.cfg.KeyPrefix + fmt.Sprint(l.id) }

func (l *Lease) renew() {
	defer close(l.done)
	t := time.NewTicker(l.cfg.TTL / 3)
	defer t.Stop()
	lastOK := time.Now()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), l.cfg.TTL/3)
		n, err := renewScript.Run(ctx, l.rdb, []string{l.key()}, l.token, l.cfg.TTL.Milliseconds()).Int()
		cancel()
		switch {
		case err == nil && n == 1:
			lastOK = time.Now()
		case err == nil:
			l.logger.Error("node id lease taken by another node", "node_id", l.id)
			l.lostOnce.Do(func() { close(l.lost) })
		default:
			l.logger.Warn("node id lease renewal failed", "node_id", l.id, "err", err)
			if time.Since(lastOK) >= l.cfg.TTL {
				l.lostOnce.Do(func() { close(l.lost) })
			}
		}
	}
}

// Close stops renewing and releases the id. Safe to call more than once.
func (l *Lease) Close(ctx context.Context) error {
	var err error
	l.closeOnce.Do(func() {
		close(l.stop)
		<-l.done
		err = releaseScript.Run(ctx, l.rdb, []string{l.key()}, l.token).Err()
		if err != nil {
			err = fmt.Errorf("release node id %d: %w", l.id, err)
		}
	})
	return err
}
