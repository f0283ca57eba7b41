package cluster

import (
	"context"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// busLane is one subscriber connection of a RedisBus and the topics it carries (ADR 0043).
// A single Redis has one lane. On a Redis Cluster lane 0 carries the broadcast topic (plain
// PUBLISH reaches every node of the cluster, as it must) and lanes 1..ShardLanes carry the
// channel and user topics, spread by id; every topic of a sharded lane ends with the lane's
// hash tag, so they all hash to one slot and one SSUBSCRIBE connection to that slot's master
// serves them. A master dying or the slot moving ends the lane's session; the next one asks
// the cluster where the slot lives now.
type busLane struct {
	b       *RedisBus
	idx     int
	anchor  string              // sharded: a topic always subscribed, to pin the connection's shard
	wake    chan struct{}       // capacity 1: the lane's topic set changed
	dirty   map[string]struct{} // topics whose subscription may need to change; guarded by b.mu
	ntopics int64               // topics subscribed on the current connection; guarded by b.mu
	healthy atomic.Bool
}

func newBusLane(b *RedisBus, idx int) *busLane {
	l := &busLane{b: b, idx: idx, wake: make(chan struct{}, 1), dirty: make(map[string]struct{})}
	if idx > 0 {
		l.anchor = b.cfg.TopicPrefix + "lane" + laneTag(idx)
	}
	return l
}

// laneTag is the hash tag of sharded lane idx (≥ 1).
func laneTag(idx int) string { return "{b" + strconv.Itoa(idx) + "}" }

// tagged appends the hash tag of id's lane to a channel or user topic on a Redis Cluster.
func (b *RedisBus) tagged(name string, id int64) string {
	if !b.sharded {
		return name
	}
	// A multiplicative hash, so ids with patterned low bits (the node id, a counter) still
	// spread over the lanes.
	h := uint64(id) * 0x9E3779B97F4A7C15
	return name + laneTag(1+int((h>>32)%uint64(b.cfg.ShardLanes)))
}

// isShardedTopic: a topic ending with a lane's hash tag is published with SPUBLISH.
func (b *RedisBus) isShardedTopic(name string) bool {
	return b.sharded && strings.HasSuffix(name, "}")
}

// laneOf is the lane carrying topic name.
func (b *RedisBus) laneOf(name string) *busLane {
	if !b.isShardedTopic(name) {
		return b.lanes[0]
	}
	i := strings.LastIndex(name, "{b")
	if i < 0 {
		return b.lanes[0]
	}
	n, err := strconv.Atoi(name[i+2 : len(name)-1])
	if err != nil || n < 1 || n >= len(b.lanes) {
		return b.lanes[0]
	}
	return b.lanes[n]
}

func (l *busLane) poke() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// newPubSub opens the lane's PubSub without dialling (the first subscribe dials it).
func (l *busLane) newPubSub(ctx context.Context) *redis.PubSub {
	if cc, ok := l.b.rdb.(*redis.ClusterClient); ok && l.anchor != "" {
		return cc.SSubscribe(ctx)
	}
	return l.b.rdb.Subscribe(ctx)
}

func (l *busLane) sub(ctx context.Context, ps *redis.PubSub, names ...string) error {
	if l.anchor != "" {
		return ps.SSubscribe(ctx, names...)
	}
	return ps.Subscribe(ctx, names...)
}

func (l *busLane) unsub(ctx context.Context, ps *redis.PubSub, names ...string) error {
	if l.anchor != "" {
		return ps.SUnsubscribe(ctx, names...)
	}
	return ps.Unsubscribe(ctx, names...)
}

// stillWanted reports whether the node still holds a topic Redis unsubscribed.
func (l *busLane) stillWanted(name string) bool {
	if name == l.anchor {
		return true
	}
	l.b.mu.RLock()
	defer l.b.mu.RUnlock()
	t := l.b.topics[name]
	return t != nil && t.sent
}

// setTopics records the lane's subscribed topic count in the bus-wide gauge. Under b.mu.
func (l *busLane) setTopics(n int64) {
	l.b.stats.topics.Add(n - l.ntopics)
	l.ntopics = n
}

// spublish is SPUBLISH with its key position set, so the cluster client routes it to the
// slot's master directly (without COMMAND info it would send it to a random node and
// follow MOVED, and during a failover keep trying nodes that are gone).
func spublish(ctx context.Context, name string, env []byte) *redis.IntCmd {
	cmd := redis.NewIntCmd(ctx, "spublish", name, env)
	cmd.SetFirstKeyPos(1)
	return cmd
}
