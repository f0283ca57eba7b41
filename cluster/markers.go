package cluster

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// ReadMarker is the highest seq a user has read in a channel, or in one thread of it
// (ThreadID, the root's id: replies take the channel's seqs), and when that was recorded.
//
// It is an alias of an unnamed struct type, declared identically in persistence and here:
// identical unnamed struct types are one type in Go, so the receipt aggregator can hand the
// same slice to the Kafka producer (persistence) and to the parking store (cluster) without
// either package importing the other.
type ReadMarker = struct {
	UserID    int64
	ChannelID int64
	ThreadID  int64 // the thread's root id; 0: the channel's own marker (ADR 0040)
	Seq       int64
	ReadAt    time.Time
}

// MarkersConfig configures the Redis read-marker cache.
type MarkersConfig struct {
	// KeyPrefix of the per-user marker hashes; user u's markers live in the hash
	// KeyPrefix+u, one field per channel id ("c") and per thread ("c:root", ADR 0040).
	// Default "parley:read:".
	KeyPrefix string
	// TTL of a user's marker hash, renewed on every write, so Redis holds the markers of
	// active users only. PostgreSQL is the source of truth: readers take the larger of the
	// cached and the stored value. Default 7 days.
	TTL time.Duration
	// ParkedKey is the hash of markers Kafka has not acknowledged yet (field
	// "user:channel" or "user:channel:root", value "seq:readAtMillis"): SetMax writes every marker it advances
	// there too, and the receipt aggregator removes it once Kafka has it, so what a
	// crashed node had in memory stays here. It never expires. Shared by all nodes so that
	// any node re-sends what a dead one left. Default "parley:receipts:parked".
	ParkedKey string
}

func (c MarkersConfig) withDefaults() MarkersConfig {
	if c.KeyPrefix == "" {
		c.KeyPrefix = "parley:read:"
	}
	if c.TTL == 0 {
		c.TTL = 7 * 24 * time.Hour
	}
	if c.ParkedKey == "" {
		c.ParkedKey = "parley:receipts:parked"
	}
	return c
}

// ErrNegativeSeq rejects a read marker below zero: no message has such a seq.
var ErrNegativeSeq = errors.New("read marker seq must not be negative")

// Markers is the Redis read-marker cache: the newest marker of every active (user,
// channel), written first on every read event so REST and STOMP readers see it at once,
// while PostgreSQL catches up through Kafka. Every write is a max-merge in one Lua script,
// so a marker in Redis never moves backwards whatever order events arrive in.
type Markers struct {
	rdb redis.UniversalClient
	cfg MarkersConfig
}

// NewMarkers validates cfg and returns the cache on rdb.
func NewMarkers(rdb redis.UniversalClient, cfg MarkersConfig) (*Markers, error) {
	cfg = cfg.withDefaults()
	if rdb == nil {
		return nil, errors.New("markers: nil redis client")
	}
	if cfg.TTL < time.Second {
		return nil, fmt.Errorf("markers: ttl %s is below 1s", cfg.TTL)
	}
	return &Markers{rdb: rdb, cfg: cfg}, nil
}

func (m *Markers) userKey(userID int64) string {
	return m.cfg.KeyPrefix + strconv.FormatInt(userID, 10)
}

// SetMax raises the marker of (userID, channelID) to seq unless it is already at or above
// it. It returns the marker's value after the call and whether this call advanced it; a
// caller broadcasts a read event and records the receipt only when advanced is true.
//
// A marker it advances is also max-merged into the parked hash, stamped with the time of
// the call, in the same script: until Kafka acknowledges it (UnparkReceipts), it survives
// a crash of the node that took it, and the parked re-send brings it to PostgreSQL.
func (m *Markers) SetMax(ctx context.Context, userID, channelID, seq int64) (newValue int64, advanced bool, err error) {
	return m.SetMaxThread(ctx, userID, channelID, 0, seq)
}

// SetMaxThread is SetMax for the marker of the thread of rootID in channelID (rootID 0:
// the channel's marker): the same script, the same parking, a field of its own.
func (m *Markers) SetMaxThread(ctx context.Context, userID, channelID, rootID, seq int64) (newValue int64, advanced bool, err error) {
	if seq < 0 {
		return 0, false, ErrNegativeSeq
	}
	sq := strconv.FormatInt(seq, 10)
	res, err := setMaxScript.Run(ctx, m.rdb, []string{m.userKey(userID), m.cfg.ParkedKey},
		markerField(channelID, rootID), sq, m.cfg.TTL.Milliseconds(),
		parkedField(userID, channelID, rootID), sq+":"+strconv.FormatInt(time.Now().UnixMilli(), 10)).Slice()
	if err != nil {
		return 0, false, fmt.Errorf("set read marker: %w", err)
	}
	if len(res) != 2 {
		return 0, false, fmt.Errorf("set read marker: unexpected reply %v", res)
	}
	s, _ := res[0].(string)
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("set read marker: bad stored value %q: %w", s, err)
	}
	adv, _ := res[1].(int64)
	return v, adv == 1, nil
}

// Get returns the cached marker of (userID, channelID), 0 when none is cached.
func (m *Markers) Get(ctx context.Context, userID, channelID int64) (int64, error) {
	s, err := m.rdb.HGet(ctx, m.userKey(userID), strconv.FormatInt(channelID, 10)).Result()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("get read marker: %w", err)
	}
	return parseSeq(s)
}

// GetMany returns userID's cached markers for channelIDs, in their order, 0 where none is
// cached: one round trip for the REST list of a user's channels.
func (m *Markers) GetMany(ctx context.Context, userID int64, channelIDs []int64) ([]int64, error) {
	out := make([]int64, len(channelIDs))
	if len(channelIDs) == 0 {
		return out, nil
	}
	fields := make([]string, len(channelIDs))
	for i, c := range channelIDs {
		fields[i] = strconv.FormatInt(c, 10)
	}
	vals, err := m.rdb.HMGet(ctx, m.userKey(userID), fields...).Result()
	if err != nil {
		return nil, fmt.Errorf("get read markers: %w", err)
	}
	for i, v := range vals {
		if s, ok := v.(string); ok {
			if out[i], err = parseSeq(s); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// GetForUsers returns the cached markers of userIDs in channelID, in their order, 0 where
// none is cached: one pipelined round trip for a channel's read receipts.
func (m *Markers) GetForUsers(ctx context.Context, channelID int64, userIDs []int64) ([]int64, error) {
	keys := make([]ReadMarker, len(userIDs))
	for i, u := range userIDs {
		keys[i] = ReadMarker{UserID: u, ChannelID: channelID}
	}
	return m.ReadMarkers(ctx, keys)
}

// ReadMarkers returns the cached marker of each (UserID, ChannelID, ThreadID) in keys (their Seq is
// ignored), 0 where none is cached. The DLT reconciler reads the newest values with it.
func (m *Markers) ReadMarkers(ctx context.Context, keys []ReadMarker) ([]int64, error) {
	out := make([]int64, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	cmds := make([]*redis.StringCmd, len(keys))
	_, err := m.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			cmds[i] = p.HGet(ctx, m.userKey(k.UserID), markerField(k.ChannelID, k.ThreadID))
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("get read markers: %w", err)
	}
	for i, c := range cmds {
		s, err := c.Result()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("get read markers: %w", err)
		}
		if out[i], err = parseSeq(s); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func parseSeq(s string) (int64, error) {
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("bad read marker %q in redis: %w", s, err)
	}
	return v, nil
}

// markerField is a marker's field in its user's hash: "channel", or "channel:root" for a
// thread's.
func markerField(channelID, rootID int64) string {
	if rootID == 0 {
		return strconv.FormatInt(channelID, 10)
	}
	return strconv.FormatInt(channelID, 10) + ":" + strconv.FormatInt(rootID, 10)
}

// ThreadMarkers returns every thread marker cached for userID (root id → seq): one HGETALL
// of the user's hash, which holds the markers of what they read within TTL, so the thread
// list needs no list of roots first.
func (m *Markers) ThreadMarkers(ctx context.Context, userID int64) (map[int64]int64, error) {
	all, err := m.rdb.HGetAll(ctx, m.userKey(userID)).Result()
	if err != nil {
		return nil, fmt.Errorf("get thread markers: %w", err)
	}
	out := map[int64]int64{}
	for f, v := range all {
		_, r, ok := strings.Cut(f, ":")
		if !ok {
			continue
		}
		root, err := strconv.ParseInt(r, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("bad thread marker field %q in redis: %w", f, err)
		}
		if out[root], err = parseSeq(v); err != nil {
			return nil, err
		}
	}
	return out, nil
}
