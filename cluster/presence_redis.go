package cluster

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// The Redis side of Presence (ADR 0033). Keys under KeyPrefix:
//
//	u:<user>   hash: one field per node token with a session of the user, "o" (online) or
//	           "a" (away), and field "s", the status last published (absent: offline).
//	n:<token>  set: the users a node has a field for, so that its fields can be swept.
//	nodes      sorted set: node token → time of its last renewal (Redis's clock, ms).
//
// Every change goes through a script that updates the node's field, recomputes the user's
// status from all fields and, when it differs from "s", stores it and PUBLISHes it once on
// the user's presence topic: one publish per change whatever the number of watchers, and
// atomic, so two nodes changing one user at once cannot publish out of order. The scripts
// name keys they build from the prefix; on a Redis Cluster the prefix carries a hash tag so
// all of them are in one slot, and the registry key is passed as KEYS[1] so that the call
// goes to that slot's master (ADR 0043). The PUBLISH of a change reaches every node of a
// cluster, as the bus's plain (untagged) presence topics expect.

// presenceSettle recomputes user uid's status from hash h and publishes it if it changed.
const presenceSettle = `
local function settle(h, uid, tp, env, out)
  local all = redis.call('HGETALL', h)
  local st, prev = 'offline', 'offline'
  for i = 1, #all, 2 do
    local f, v = all[i], all[i + 1]
    if f == 's' then prev = v
    elseif v == 'o' then st = 'online'
    elseif st == 'offline' then st = 'away' end
  end
  if st == prev then return end
  if st == 'offline' then redis.call('DEL', h) else redis.call('HSET', h, 's', st) end
  redis.call('PUBLISH', tp .. uid, env .. st)
  out[#out + 1] = uid
  out[#out + 1] = st
end
`

// presenceSetScript writes a node's statements. ARGV: prefix, token, topic prefix, envelope,
// then pairs of user id and "o", "a" or "" (withdrawn). Returns the changes, flat.
var presenceSetScript = redis.NewScript(presenceSettle + `
local p, tok, tp, env = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local ns = p .. 'n:' .. tok
local out = {}
for i = 5, #ARGV, 2 do
  local uid, v = ARGV[i], ARGV[i + 1]
  local h = p .. 'u:' .. uid
  if v == '' then
    redis.call('HDEL', h, tok)
    redis.call('SREM', ns, uid)
  else
    redis.call('HSET', h, tok, v)
    redis.call('SADD', ns, uid)
  end
  settle(h, uid, tp, env, out)
end
return out
`)

// presenceRenewScript records a node's renewal at Redis's time. KEYS[1]: the registry;
// ARGV: token, ttl ms. Returns 1 when the node was not registered or was already past its
// TTL (new, or being swept as dead: some of its users may have been cleared).
var presenceRenewScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local last = redis.call('ZSCORE', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[1], now, ARGV[1])
if last and tonumber(last) >= now - tonumber(ARGV[2]) then return 0 end
return 1
`)

// presenceSweepScript clears up to ARGV[5] users of one node whose last renewal is older
// than ARGV[2] ms, and forgets the node once none is left. ARGV: prefix, ttl ms, topic
// prefix, envelope, batch. Returns the node's token (empty when none is dead), then the
// changes.
var presenceSweepScript = redis.NewScript(presenceSettle + `
local p, ttl, tp, env, n = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4], tonumber(ARGV[5])
local reg = p .. 'nodes'
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local dead = redis.call('ZRANGEBYSCORE', reg, '-inf', '(' .. (now - ttl), 'LIMIT', 0, 1)
if #dead == 0 then return {''} end
local tok = dead[1]
local ns = p .. 'n:' .. tok
local out = {tok}
local uids = redis.call('SPOP', ns, n)
for _, uid in ipairs(uids) do
  local h = p .. 'u:' .. uid
  redis.call('HDEL', h, tok)
  settle(h, uid, tp, env, out)
end
if redis.call('SCARD', ns) == 0 then redis.call('ZREM', reg, tok) end
return out
`)

// writeLoop sends SetLocal's changes to Redis until Close.
func (p *Presence) writeLoop() {
	defer p.wg.Done()
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	for {
		select {
		case <-p.ctx.Done():
			return
		case <-p.wake:
		case <-retry.C:
		}
		if err := p.flush(p.ctx); err != nil && p.ctx.Err() == nil {
			p.log.Debug("presence write failed; retrying", "err", err)
			retry.Reset(p.cfg.RenewInterval / 4)
		}
	}
}

// flush writes every pending user's current statement, Batch users per script call; what
// fails stays pending.
func (p *Presence) flush(ctx context.Context) error {
	p.mu.Lock()
	type item struct {
		uid int64
		v   string
	}
	items := make([]item, 0, len(p.pending))
	for uid := range p.pending {
		items = append(items, item{uid, p.local[uid]})
	}
	clear(p.pending)
	p.mu.Unlock()
	var errs []error
	for len(items) > 0 {
		n := min(len(items), p.cfg.Batch)
		args := make([]any, 0, 4+2*n)
		args = append(args, p.cfg.KeyPrefix, p.token, p.topicPrefix(), p.envelope())
		for _, it := range items[:n] {
			args = append(args, strconv.FormatInt(it.uid, 10), it.v)
		}
		wctx, cancel := context.WithTimeout(ctx, p.cfg.WriteTimeout)
		res, err := presenceSetScript.Run(wctx, p.rdb, p.routeKeys(), args...).StringSlice()
		cancel()
		if err != nil {
			p.stats.errors.Inc()
			errs = append(errs, err)
			p.mu.Lock()
			for _, it := range items[:n] {
				p.pending[it.uid] = struct{}{}
			}
			p.mu.Unlock()
		} else {
			p.stats.writes.Add(float64(n))
			p.published(res)
		}
		items = items[n:]
	}
	if len(errs) > 0 {
		return fmt.Errorf("presence: write: %w", errors.Join(errs...))
	}
	return nil
}

// published dispatches the changes a script made (pairs of user id and status) to this
// node's watchers: the bus drops the node's own publishes.
func (p *Presence) published(flat []string) {
	for i := 0; i+1 < len(flat); i += 2 {
		uid, err := strconv.ParseInt(flat[i], 10, 64)
		if err != nil {
			continue
		}
		p.stats.changes.Inc()
		p.dispatch(uid, flat[i+1])
	}
}

// renewLoop registers the node and renews the registration every RenewInterval. When the
// node finds itself unregistered (its renewals failed for a TTL and another node swept it)
// it writes every statement again.
func (p *Presence) renewLoop() {
	defer p.wg.Done()
	t := time.NewTicker(p.cfg.RenewInterval)
	defer t.Stop()
	for {
		ctx, cancel := context.WithTimeout(p.ctx, p.cfg.WriteTimeout)
		added, err := presenceRenewScript.Run(ctx, p.rdb, []string{p.cfg.KeyPrefix + "nodes"}, p.token, p.cfg.TTL.Milliseconds()).Int()
		cancel()
		switch {
		case err != nil && p.ctx.Err() == nil:
			p.stats.errors.Inc()
			p.log.Debug("presence renewal failed", "err", err)
		case err == nil && added == 1:
			p.mu.Lock()
			for uid := range p.local {
				p.pending[uid] = struct{}{}
			}
			n := len(p.local)
			p.mu.Unlock()
			if n > 0 {
				p.log.Warn("presence: this node had been swept as dead; writing its users again", "users", n)
				select {
				case p.wake <- struct{}{}:
				default:
				}
			}
		}
		select {
		case <-p.ctx.Done():
			return
		case <-t.C:
		}
	}
}

// sweepLoop clears dead nodes' statements every SweepInterval. Any node may sweep: SPOP
// hands each user to one sweeper, and each step is one atomic script.
func (p *Presence) sweepLoop() {
	defer p.wg.Done()
	t := time.NewTicker(p.cfg.SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-p.ctx.Done():
			return
		case <-t.C:
		}
		if err := p.sweep(p.ctx); err != nil && p.ctx.Err() == nil {
			p.stats.errors.Inc()
			p.log.Debug("presence sweep failed", "err", err)
		}
	}
}

// sweep runs sweep steps until no dead node is left (or a bound of steps, the rest next
// time).
func (p *Presence) sweep(ctx context.Context) error {
	for range 1000 {
		wctx, cancel := context.WithTimeout(ctx, p.cfg.WriteTimeout)
		res, err := presenceSweepScript.Run(wctx, p.rdb, p.routeKeys(), p.cfg.KeyPrefix, p.cfg.TTL.Milliseconds(),
			p.topicPrefix(), p.envelope(), p.cfg.Batch).StringSlice()
		cancel()
		if err != nil {
			return fmt.Errorf("presence: sweep: %w", err)
		}
		if len(res) == 0 || res[0] == "" {
			return nil
		}
		if res[0] == p.token {
			p.log.Warn("presence: swept this node's own entries: its renewals are failing")
		}
		p.stats.swept.Add(float64((len(res) - 1) / 2))
		p.published(res[1:])
	}
	return nil
}

// unregister removes the node from the registry (after its users were withdrawn).
func (p *Presence) unregister(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.WriteTimeout)
	defer cancel()
	_, err := p.rdb.TxPipelined(ctx, func(pl redis.Pipeliner) error {
		pl.ZRem(ctx, p.cfg.KeyPrefix+"nodes", p.token)
		pl.Del(ctx, p.cfg.KeyPrefix+"n:"+p.token)
		return nil
	})
	if err != nil {
		return fmt.Errorf("presence: unregister: %w", err)
	}
	return nil
}

// presenceStats are Presence's metrics.
type presenceStats struct {
	writes, changes, received, malformed, swept, errors prometheus.Counter
}

func newCounter(name, help string) prometheus.Counter {
	return prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
}

func (s *presenceStats) init() {
	if s.writes != nil {
		return
	}
	s.writes = newCounter("parley_presence_writes_total", "Users whose per-node presence this node wrote to Redis.")
	s.changes = newCounter("parley_presence_changes_total", "Status changes this node's writes and sweeps caused (each published once).")
	s.received = newCounter("parley_presence_received_total", "Status changes of watched users received from other nodes.")
	s.malformed = newCounter("parley_presence_malformed_total", "Presence topic payloads that were not a status.")
	s.swept = newCounter("parley_presence_swept_total", "Status changes caused by clearing dead nodes' entries.")
	s.errors = newCounter("parley_presence_redis_errors_total", "Failed presence writes, renewals, sweeps.")
}

func (s *presenceStats) register(reg prometheus.Registerer) error {
	s.init()
	for _, c := range []prometheus.Collector{s.writes, s.changes, s.received, s.malformed, s.swept, s.errors} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// routeKeys is the key a script call declares so a cluster client sends it to the master
// of the presence slot; the scripts build their other keys from the prefix.
func (p *Presence) routeKeys() []string { return []string{p.cfg.KeyPrefix + "nodes"} }
