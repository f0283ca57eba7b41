package cluster

import (
	"errors"
	"fmt"
	"time"

	"github.com/parley-chat/parley/internal/depstate"
)

// Defaults and bounds for BusConfig.
const (
	DefaultBusTopicPrefix    = "parley:bus:"
	DefaultBusPublishTimeout = 500 * time.Millisecond
	DefaultBusConnectTimeout = 5 * time.Second
	DefaultBusPingInterval   = 3 * time.Second
	DefaultBusReconnectMin   = 100 * time.Millisecond
	DefaultBusReconnectMax   = 5 * time.Second
	DefaultBusMaxPayload     = 1 << 20
	DefaultBusPostQueue      = 8192
	DefaultBusPostBatch      = 256
	DefaultBusSlowHandler    = 10 * time.Millisecond
	DefaultBusShardLanes     = 16
	maxBusShardLanes         = 1024
	maxBusPayload            = 64 << 20
	maxBusPublishTimeout     = 30 * time.Second
	maxBusPostBatch          = 4096
	minBusPingInterval       = 10 * time.Millisecond
	busSubscribeChunk        = 512
)

// The envelope in front of every payload: a version byte, then the publishing Bus's random
// origin id, which lets a node drop its own publishes when Redis echoes them back.
const (
	busEnvelopeVersion byte = 1
	busOriginLen            = 8
	busEnvelopeLen          = 1 + busOriginLen
)

// BusConfig configures a Bus. The zero value is usable: every field has a default.
type BusConfig struct {
	// TopicPrefix starts every Redis Pub/Sub channel name of the bus; all nodes of one
	// cluster must use the same prefix, and two clusters sharing a Redis must not.
	// Default "parley:bus:".
	TopicPrefix string
	// PublishTimeout bounds one Publish call, or one pipelined batch of Post, including
	// go-redis's retries and dialling. Default 500ms, at most 30s. While Redis is down a
	// caller waits at most this long before getting the error.
	PublishTimeout time.Duration
	// ConnectTimeout bounds establishing the subscriber connection: dial, handshake and
	// Redis's confirmation of the initial SUBSCRIBE. It also bounds each later SUBSCRIBE or
	// UNSUBSCRIBE write. Default 5s.
	ConnectTimeout time.Duration
	// PingInterval is how long the subscriber connection may stay silent before the bus
	// pings Redis; with no reply within another interval the connection is declared dead
	// and replaced. A silently dead link is thus detected within 2×PingInterval.
	// Default 3s, at least 10ms.
	PingInterval time.Duration
	// ReconnectMin and ReconnectMax bound the backoff between connection attempts: the
	// n-th consecutive failure waits a random time in [d/2, d] with d = min(ReconnectMax,
	// ReconnectMin·2ⁿ), so nodes that lost Redis together do not reconnect in lockstep.
	// Defaults 100ms and 5s.
	ReconnectMin time.Duration
	ReconnectMax time.Duration
	// MaxPayload is the largest payload accepted by Publish and Post, in bytes. Larger
	// batches must be split by the caller. Default 1 MiB, at most 64 MiB.
	MaxPayload int
	// PostQueue is the capacity, in messages, of the queue behind Post. When it is full
	// (Redis slow or down) Post fails at once with ErrPostQueueFull. Default 8192.
	PostQueue int
	// PostBatch is the most queued messages sent in one pipelined round trip. Default 256,
	// at most 4096.
	PostBatch int
	// SlowHandler: a Handler call longer than this is counted in
	// parley_bus_slow_handler_calls_total, since it delays every topic of the node.
	// Default 10ms.
	SlowHandler time.Duration
	// ShardLanes is, on a Redis Cluster, how many sharded subscriber connections a node
	// spreads its channel and user topics over (ADR 0043): each lane is one hash tag, so one
	// slot and one master. More lanes spread the topics over the shards more evenly and cost
	// one connection each per node. Ignored on a single Redis. Default 16, at most 1024.
	ShardLanes int
	// Health, when set, hears the subscriber connection's losses and recoveries and failed
	// publishes, and logs them as Redis's state changes (ADR 0028); the bus then logs no
	// per-attempt warnings of its own. Nil: the bus logs losses and recoveries itself.
	Health *depstate.Tracker
}

func (c BusConfig) withDefaults() BusConfig {
	if c.TopicPrefix == "" {
		c.TopicPrefix = DefaultBusTopicPrefix
	}
	if c.PublishTimeout == 0 {
		c.PublishTimeout = DefaultBusPublishTimeout
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = DefaultBusConnectTimeout
	}
	if c.PingInterval == 0 {
		c.PingInterval = DefaultBusPingInterval
	}
	if c.ReconnectMin == 0 {
		c.ReconnectMin = DefaultBusReconnectMin
	}
	if c.ReconnectMax == 0 {
		c.ReconnectMax = DefaultBusReconnectMax
	}
	if c.MaxPayload == 0 {
		c.MaxPayload = DefaultBusMaxPayload
	}
	if c.PostQueue == 0 {
		c.PostQueue = DefaultBusPostQueue
	}
	if c.PostBatch == 0 {
		c.PostBatch = DefaultBusPostBatch
	}
	if c.SlowHandler == 0 {
		c.SlowHandler = DefaultBusSlowHandler
	}
	if c.ShardLanes == 0 {
		c.ShardLanes = DefaultBusShardLanes
	}
	return c
}

// validate checks a BusConfig that already has its defaults applied.
func (c BusConfig) validate() error {
	var errs []error
	positive := func(name string, d time.Duration) {
		if d < 0 {
			errs = append(errs, fmt.Errorf("bus %s %s is negative", name, d))
		}
	}
	positive("PublishTimeout", c.PublishTimeout)
	positive("ConnectTimeout", c.ConnectTimeout)
	positive("ReconnectMin", c.ReconnectMin)
	positive("ReconnectMax", c.ReconnectMax)
	positive("SlowHandler", c.SlowHandler)
	if c.PublishTimeout > maxBusPublishTimeout {
		errs = append(errs, fmt.Errorf("bus PublishTimeout %s is above %s: callers must not block that long", c.PublishTimeout, maxBusPublishTimeout))
	}
	if c.PingInterval < minBusPingInterval {
		errs = append(errs, fmt.Errorf("bus PingInterval %s is below %s", c.PingInterval, minBusPingInterval))
	}
	if c.ReconnectMin > c.ReconnectMax {
		errs = append(errs, fmt.Errorf("bus ReconnectMin %s is above ReconnectMax %s", c.ReconnectMin, c.ReconnectMax))
	}
	if c.MaxPayload < 0 || c.MaxPayload > maxBusPayload {
		errs = append(errs, fmt.Errorf("bus MaxPayload %d is outside 1..%d bytes", c.MaxPayload, maxBusPayload))
	}
	if c.PostQueue < 0 {
		errs = append(errs, fmt.Errorf("bus PostQueue %d is negative", c.PostQueue))
	}
	if c.PostBatch < 0 || c.PostBatch > maxBusPostBatch {
		errs = append(errs, fmt.Errorf("bus PostBatch %d is outside 1..%d", c.PostBatch, maxBusPostBatch))
	}
	if c.ShardLanes < 0 || c.ShardLanes > maxBusShardLanes {
		errs = append(errs, fmt.Errorf("bus ShardLanes %d is outside 1..%d", c.ShardLanes, maxBusShardLanes))
	}
	return errors.Join(errs...)
}
