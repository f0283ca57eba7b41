package cluster

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Seqs are compared as canonical decimal strings (longer is larger, then lexically), not as
// Lua numbers: Lua 5.1 numbers are doubles and would round seqs above 2^53.
const luaSeqCompare = `
local function seqof(v) return string.match(v, '^(%d+)') end
local function gt(a, b) if #a ~= #b then return #a > #b end return a > b end
`

// setMaxScript: KEYS[1] the user's hash, KEYS[2] the parked hash; ARGV[1] channel id,
// ARGV[2] seq, ARGV[3] ttl ms, ARGV[4] parked field, ARGV[5] parked value. Replies {value
// after the call, 1 if advanced else 0}. An advanced marker is max-merged into the parked
// hash too (write-ahead parking), so the node's aggregator is never its only holder.
var setMaxScript = redis.NewScript(luaSeqCompare + `
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur and not gt(ARGV[2], cur) then return {cur, 0} end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
local p = redis.call('HGET', KEYS[2], ARGV[4])
if (not p) or gt(ARGV[2], seqof(p)) then redis.call('HSET', KEYS[2], ARGV[4], ARGV[5]) end
return {ARGV[2], 1}
`)

// parkScript: KEYS[1] the parked hash, ARGV field/value pairs ("u:c", "seq:readAtMillis").
// Max-merges each pair and replies the hash's length.
var parkScript = redis.NewScript(luaSeqCompare + `
for i = 1, #ARGV, 2 do
  local cur = redis.call('HGET', KEYS[1], ARGV[i])
  if (not cur) or gt(seqof(ARGV[i+1]), seqof(cur)) then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i+1])
  end
end
return redis.call('HLEN', KEYS[1])
`)

// unparkScript: KEYS[1] the parked hash, ARGV field/seq pairs. Deletes a field only if its
// parked seq is not above the one given, so a newer marker parked meanwhile stays.
var unparkScript = redis.NewScript(luaSeqCompare + `
local n = 0
for i = 1, #ARGV, 2 do
  local cur = redis.call('HGET', KEYS[1], ARGV[i])
  if cur and not gt(seqof(cur), ARGV[i+1]) then
    redis.call('HDEL', KEYS[1], ARGV[i])
    n = n + 1
  end
end
return n
`)

// parkChunk bounds the pairs of one script call, so a large park does not block Redis for
// long.
const parkChunk = 500

func parkedField(userID, channelID, rootID int64) string {
	return strconv.FormatInt(userID, 10) + ":" + markerField(channelID, rootID)
}

// ParkReceipts max-merges markers into the parked hash and returns how many entries it
// holds afterwards.
func (m *Markers) ParkReceipts(ctx context.Context, markers []ReadMarker) (int64, error) {
	var parked int64
	for start := 0; start < len(markers); start += parkChunk {
		chunk := markers[start:min(start+parkChunk, len(markers))]
		args := make([]any, 0, 2*len(chunk))
		for _, mk := range chunk {
			if mk.Seq < 0 {
				return 0, ErrNegativeSeq
			}
			args = append(args, parkedField(mk.UserID, mk.ChannelID, mk.ThreadID),
				strconv.FormatInt(mk.Seq, 10)+":"+strconv.FormatInt(mk.ReadAt.UnixMilli(), 10))
		}
		n, err := parkScript.Run(ctx, m.rdb, []string{m.cfg.ParkedKey}, args...).Int64()
		if err != nil {
			return 0, fmt.Errorf("park read markers: %w", err)
		}
		parked = n
	}
	if len(markers) == 0 {
		return m.ParkedCount(ctx)
	}
	return parked, nil
}

// UnparkReceipts removes markers that have reached Kafka from the parked hash, each only
// if no newer value for its key was parked since (compare-and-delete in one script per
// 500 markers), so it never drops a marker Kafka has not got, whatever the order of calls.
func (m *Markers) UnparkReceipts(ctx context.Context, markers []ReadMarker) error {
	for start := 0; start < len(markers); start += parkChunk {
		chunk := markers[start:min(start+parkChunk, len(markers))]
		args := make([]any, 0, 2*len(chunk))
		for _, mk := range chunk {
			args = append(args, parkedField(mk.UserID, mk.ChannelID, mk.ThreadID), strconv.FormatInt(mk.Seq, 10))
		}
		if err := unparkScript.Run(ctx, m.rdb, []string{m.cfg.ParkedKey}, args...).Err(); err != nil {
			return fmt.Errorf("unpark read markers: %w", err)
		}
	}
	return nil
}

// ParkedReceipts reads one page of the parked hash from cursor (0 to start); the returned
// cursor is 0 when the scan is complete. count is a hint, as for HSCAN.
func (m *Markers) ParkedReceipts(ctx context.Context, cursor uint64, count int) ([]ReadMarker, uint64, error) {
	kv, next, err := m.rdb.HScan(ctx, m.cfg.ParkedKey, cursor, "", int64(count)).Result()
	if err != nil {
		return nil, 0, fmt.Errorf("scan parked read markers: %w", err)
	}
	out := make([]ReadMarker, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		mk, err := parseParked(kv[i], kv[i+1])
		if err != nil {
			return nil, 0, err
		}
		out = append(out, mk)
	}
	return out, next, nil
}

// ParkedCount is the number of parked markers.
func (m *Markers) ParkedCount(ctx context.Context) (int64, error) {
	n, err := m.rdb.HLen(ctx, m.cfg.ParkedKey).Result()
	if err != nil {
		return 0, fmt.Errorf("count parked read markers: %w", err)
	}
	return n, nil
}

func parseParked(field, value string) (ReadMarker, error) {
	u, c, ok1 := strings.Cut(field, ":")
	s, at, ok2 := strings.Cut(value, ":")
	var mk ReadMarker
	var e1, e2, e3, e4, e5 error
	if c, r, thread := strings.Cut(c, ":"); thread {
		mk.ThreadID, e5 = strconv.ParseInt(r, 10, 64)
		mk.ChannelID, e2 = strconv.ParseInt(c, 10, 64)
	} else {
		mk.ChannelID, e2 = strconv.ParseInt(c, 10, 64)
	}
	mk.UserID, e1 = strconv.ParseInt(u, 10, 64)
	mk.Seq, e3 = strconv.ParseInt(s, 10, 64)
	var ms int64
	ms, e4 = strconv.ParseInt(at, 10, 64)
	if !ok1 || !ok2 || e1 != nil || e2 != nil || e3 != nil || e4 != nil || e5 != nil {
		return ReadMarker{}, fmt.Errorf("bad parked read marker %q=%q", field, value)
	}
	mk.ReadAt = time.UnixMilli(ms)
	return mk, nil
}
