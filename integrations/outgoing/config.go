// Package outgoing delivers a channel's messages to outgoing webhooks (SPEC "Integrations",
// ADR 0037): a relay reads committed messages from PostgreSQL in seq order, past each hook's
// cursor, and produces one Kafka record per (message, hook), keyed by channel; a consumer
// group POSTs each record, signed (package integrations), retrying with exponential backoff,
// in order per hook, and commits a partition's offset only past deliveries that are done
// (delivered or given up). A 2xx answer {content} is posted in the channel as the hook's
// bot. Nothing here imports transport: the poster is an interface, met by actors.System.
package outgoing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/parley-chat/parley/integrations"
	"github.com/parley-chat/parley/internal/depstate"
	"github.com/parley-chat/parley/persistence"
)

// Defaults of Config.
const (
	DefaultTopic       = "outgoing-webhooks"
	DefaultGroup       = "outgoing-webhook-deliverer"
	DefaultMaxAttempts = 8
)

// Config configures the relay and the deliverer of one node.
type Config struct {
	// Brokers are the Kafka bootstrap host:port addresses (the same Kafka as read receipts).
	// Required.
	Brokers []string
	// Topic carries deliveries keyed by channel id. Default "outgoing-webhooks".
	Topic string
	// Partitions of Topic when it is created here. Default 8.
	Partitions int
	// ReplicationFactor of the created topic; -1 (the default) takes the broker's.
	ReplicationFactor int
	// MinInsyncReplicas of the created topic: the replicas that must hold a delivery before
	// the relay's acks=all write answers; 0 (the default) takes the broker's (ADR 0045).
	MinInsyncReplicas int
	// Retention of the created topic. Default 48 h: deliveries wait that long for a node.
	Retention time.Duration
	// GroupID of the consumer group of every node's deliverer. Default
	// "outgoing-webhook-deliverer".
	GroupID string
	// SessionTimeout of the group membership: a dead node's partitions move to another
	// after it. Default 10 s (kfake's minimum is 6 s).
	SessionTimeout time.Duration

	// PollInterval is how often the relay looks in PostgreSQL for hooks whose channel moved
	// past their cursor (one indexed query). Default 200 ms: the mean added latency is half.
	PollInterval time.Duration
	// RelayHooks is the most hooks one relay transaction claims. Default 100.
	RelayHooks int
	// RelayMessages is the most messages per hook one relay transaction reads. Default 500.
	RelayMessages int
	// ProduceTimeout bounds one relay round's Kafka write. Default 10 s.
	ProduceTimeout time.Duration

	// MaxAttempts per delivery, the first one included. Default 8: with FirstBackoff 1 s
	// doubling to MaxBackoff 60 s the last attempt is ~2 min after the first (1+2+4+8+16+
	// 32+60 = 123 s of waits), then the delivery is marked failed and the hook's queue
	// moves on.
	MaxAttempts int
	// FirstBackoff is the wait after the first failed attempt, doubled per attempt up to
	// MaxBackoff. Defaults 1 s and 60 s.
	FirstBackoff time.Duration
	MaxBackoff   time.Duration
	// MaxInFlight is the most fetched deliveries a node holds at once (queued per hook or
	// being sent); past it the node stops fetching. Default 1,024.
	MaxInFlight int
	// LogKeep is how many delivery-log rows each hook keeps; the log is trimmed after every
	// LogKeep/10 finished deliveries of a hook, so it holds at most LogKeep + LogKeep/10.
	// Default 100.
	LogKeep int
	// HookCacheTTL is how long a delivery trusts a hook it has read (URL, secret, revoked):
	// a revocation or change takes effect on queued deliveries within it. Default 1 s.
	HookCacheTTL time.Duration
	// Health, when set, hears the Kafka writes' and fetches' outcomes.
	Health *depstate.Tracker
}

func (c Config) withDefaults() Config {
	if c.Topic == "" {
		c.Topic = DefaultTopic
	}
	if c.Partitions == 0 {
		c.Partitions = 8
	}
	if c.ReplicationFactor == 0 {
		c.ReplicationFactor = -1
	}
	if c.Retention == 0 {
		c.Retention = 48 * time.Hour
	}
	if c.GroupID == "" {
		c.GroupID = DefaultGroup
	}
	if c.SessionTimeout == 0 {
		c.SessionTimeout = 10 * time.Second
	}
	if c.PollInterval == 0 {
		c.PollInterval = 200 * time.Millisecond
	}
	if c.RelayHooks == 0 {
		c.RelayHooks = 100
	}
	if c.RelayMessages == 0 {
		c.RelayMessages = 500
	}
	if c.ProduceTimeout == 0 {
		c.ProduceTimeout = 10 * time.Second
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.FirstBackoff == 0 {
		c.FirstBackoff = time.Second
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = time.Minute
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = 1024
	}
	if c.LogKeep == 0 {
		c.LogKeep = 100
	}
	if c.HookCacheTTL == 0 {
		c.HookCacheTTL = time.Second
	}
	return c
}

func (c Config) validate() error {
	var errs []error
	if len(c.Brokers) == 0 {
		errs = append(errs, errors.New("kafka brokers are required"))
	}
	if c.Partitions < 1 || c.Retention < time.Minute || c.SessionTimeout < 6*time.Second {
		errs = append(errs, fmt.Errorf("partitions %d must be positive, retention %s at least 1m, session timeout %s at least 6s",
			c.Partitions, c.Retention, c.SessionTimeout))
	}
	if c.PollInterval < time.Millisecond || c.RelayHooks < 1 || c.RelayMessages < 1 || c.ProduceTimeout <= 0 {
		errs = append(errs, fmt.Errorf("poll interval %s (at least 1ms), relay hooks %d, relay messages %d and produce timeout %s must be positive",
			c.PollInterval, c.RelayHooks, c.RelayMessages, c.ProduceTimeout))
	}
	if c.MaxAttempts < 1 || c.MaxAttempts > 20 || c.FirstBackoff <= 0 || c.MaxBackoff < c.FirstBackoff {
		errs = append(errs, fmt.Errorf("max attempts %d (1..20), backoff %s..%s must be positive and ordered",
			c.MaxAttempts, c.FirstBackoff, c.MaxBackoff))
	}
	if c.HookCacheTTL < 0 || c.HookCacheTTL > time.Minute {
		errs = append(errs, fmt.Errorf("hook cache TTL %s must be 0..1m", c.HookCacheTTL))
	}
	if err := persistence.ValidateKafkaReplication(c.ReplicationFactor, c.MinInsyncReplicas); err != nil {
		errs = append(errs, err)
	}
	if c.MaxInFlight < 1 || c.LogKeep < 1 {
		errs = append(errs, fmt.Errorf("max in flight %d and log keep %d must be positive", c.MaxInFlight, c.LogKeep))
	}
	return errors.Join(errs...)
}

// backoff is the wait after failed attempt n (1-based).
func (c Config) backoff(n int) time.Duration {
	return min(c.FirstBackoff<<min(n-1, 20), c.MaxBackoff)
}

// Store is what the relay and the deliverer need from PostgreSQL; *persistence.Store.
type Store interface {
	RelayOutgoing(ctx context.Context, maxHooks, maxMessages int, produce func(context.Context, []persistence.RelayBatch) error) (int, int, error)
	OutgoingWebhookByID(ctx context.Context, id int64) (persistence.OutgoingWebhook, error)
	OutgoingDeliveryState(ctx context.Context, hookID int64, deliveryID string) (string, int, error)
	RecordOutgoingDelivery(ctx context.Context, hookID int64, deliveryID string, seq int64, a persistence.DeliveryAttempt) error
	TrimOutgoingDeliveries(ctx context.Context, hookID int64, keep int) error
}

// Poster posts a hook's reply as its bot user: actors.System (through the channel actor,
// like any message) or api.StorePoster.
type Poster interface {
	Post(ctx context.Context, userID, channelID int64, m persistence.NewMessage) (persistence.AppendResult, error)
}

// Deps are the collaborators; Store, Client, Poster and NextID are required.
type Deps struct {
	Store  Store
	Client *integrations.Client
	Poster Poster
	// NextID makes message ids for replies (cluster.IDGenerator.Next).
	NextID     func() int64
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}
