package cluster

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"time"

	"github.com/redis/go-redis/v9"
)

// The subscriber side. run keeps one connection ("session") at a time; each session is a
// fresh go-redis PubSub rather than go-redis's built-in silent reconnect, because the bus
// must know exactly when a connection was replaced so that it can tell every handler to
// resync. Within a session:
//   - the initial SUBSCRIBE of every held topic is followed by PING <token>; Redis answers
//     in order, so the PONG proves every initial subscription is live, and only then is the
//     bus Healthy and OnResync run;
//   - a syncer goroutine writes later SUBSCRIBE/UNSUBSCRIBE as Subscriptions come and go,
//     so callers of SubscribeChannel never wait on the network;
//   - the reader (the session goroutine) reads with a deadline of PingInterval, pings when
//     the link is silent and gives the connection up when the ping goes unanswered.

// run is the subscriber loop: connect, serve until the connection fails, back off, repeat.
func (l *busLane) run() {
	b := l.b
	failures := 0
	everUp := false
	for {
		up, err := l.session(everUp)
		l.disconnected()
		if b.ctx.Err() != nil {
			return
		}
		switch {
		case b.cfg.Health != nil:
			// The tracker logs the loss once and reminds at most every 30 s.
			b.cfg.Health.Fail(fmt.Errorf("bus subscriber: %w", err))
			if up {
				everUp, failures = true, 0
			}
		case up:
			everUp = true
			failures = 0
			b.log.Warn("redis bus connection lost; reconnecting", "lane", l.idx, "err", err)
		case failures == 0 || failures%20 == 0:
			b.log.Warn("redis bus cannot connect", "lane", l.idx, "err", err, "attempt", failures+1)
		}
		if cc, ok := b.rdb.(*redis.ClusterClient); ok {
			// A shard's master may have died or its slots moved: the next connection must
			// ask the cluster where the lane's slot lives now.
			cc.ReloadState(b.ctx)
		}
		d := backoff(failures, b.cfg.ReconnectMin, b.cfg.ReconnectMax)
		failures++
		t := time.NewTimer(d)
		select {
		case <-b.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// backoff is capped exponential with jitter: a random wait in [d/2, d], d = min(max, min·2ⁿ).
func backoff(n int, lo, hi time.Duration) time.Duration {
	d := hi
	if n < 30 && lo<<n < hi && lo<<n > 0 {
		d = lo << n
	}
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2+1)
}

// session serves one subscriber connection until it fails. up reports whether it got as far
// as being healthy.
func (l *busLane) session(reconnect bool) (up bool, err error) {
	b := l.b
	ctx, cancel := context.WithCancelCause(b.ctx)
	defer cancel(nil)
	ps := l.newPubSub(ctx)
	// Closing the PubSub is the only way to interrupt a blocked read; it also stops the
	// session whichever side fails first.
	stopped := make(chan struct{})
	go func() {
		<-ctx.Done()
		_ = ps.Close()
		close(stopped)
	}()
	defer func() { cancel(nil); <-stopped }()

	token := fmt.Sprintf("resync-%x", rand.Uint64())
	syncBy := time.Now().Add(b.cfg.ConnectTimeout)
	if err := l.subscribeInitial(ctx, ps, token); err != nil {
		return false, err
	}

	syncerDone := make(chan struct{})
	defer func() { cancel(nil); <-syncerDone }()
	started := false
	startSyncer := func() {
		started = true
		go func() {
			defer close(syncerDone)
			l.syncTopics(ctx, ps, cancel)
		}()
	}
	defer func() {
		if !started {
			close(syncerDone)
		}
	}()

	pinged := false
	for {
		timeout := b.cfg.PingInterval
		if !up {
			if timeout = time.Until(syncBy); timeout <= 0 {
				return false, errors.New("redis did not confirm the subscriptions within ConnectTimeout")
			}
		}
		msg, err := ps.ReceiveTimeout(ctx, timeout)
		if err != nil {
			if ctx.Err() != nil {
				return up, context.Cause(ctx)
			}
			if !isTimeout(err) {
				return up, fmt.Errorf("receive: %w", err)
			}
			if !up {
				continue // the deadline check above ends the wait
			}
			if pinged {
				return up, fmt.Errorf("no reply to ping within %s", b.cfg.PingInterval)
			}
			if err := b.write(ctx, func(ctx context.Context) error { return ps.Ping(ctx) }); err != nil {
				return up, fmt.Errorf("ping: %w", err)
			}
			pinged = true
			continue
		}
		pinged = false
		switch m := msg.(type) {
		case *redis.Message:
			b.dispatch(m)
		case *redis.Subscription:
			switch m.Kind {
			case "subscribe", "ssubscribe":
				b.confirmed(m.Channel)
			case "sunsubscribe":
				// Redis unsubscribes a sharded topic itself when its slot moves to another
				// shard: a new session finds the slot's owner and resubscribes everything.
				if l.stillWanted(m.Channel) {
					return up, fmt.Errorf("redis moved sharded topic %s (slot migrated)", m.Channel)
				}
			}
		case *redis.Pong:
			if !up && m.Payload == token {
				up = true
				if reconnect {
					b.stats.reconnects.Add(1)
					if b.cfg.Health == nil {
						b.log.Info("redis bus reconnected")
					}
				}
				b.cfg.Health.OK()
				startSyncer()
				l.resynced()
			}
		}
	}
}

// subscribeInitial subscribes every held topic on a new connection (which dials it) and
// sends the ping whose answer marks them all live.
func (l *busLane) subscribeInitial(ctx context.Context, ps *redis.PubSub, token string) error {
	ctx, cancel := context.WithTimeout(ctx, l.b.cfg.ConnectTimeout)
	defer cancel()
	names := l.planInitial()
	if l.anchor != "" {
		// First, so that the connection is dialled to the master of the lane's slot.
		names = append([]string{l.anchor}, names...)
	}
	for len(names) > 0 {
		n := min(len(names), busSubscribeChunk)
		if err := l.sub(ctx, ps, names[:n]...); err != nil {
			return fmt.Errorf("subscribe: %w", err)
		}
		names = names[n:]
	}
	if err := ps.Ping(ctx, token); err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	return nil
}

// syncTopics writes the SUBSCRIBE and UNSUBSCRIBE commands that the changing Subscriptions
// call for, until the session ends. A failed write ends the session.
func (l *busLane) syncTopics(ctx context.Context, ps *redis.PubSub, fail context.CancelCauseFunc) {
	b := l.b
	for {
		select {
		case <-ctx.Done():
			return
		case <-l.wake:
		}
		sub, unsub := l.planChanges()
		for len(unsub) > 0 {
			n := min(len(unsub), busSubscribeChunk)
			if err := b.write(ctx, func(ctx context.Context) error { return l.unsub(ctx, ps, unsub[:n]...) }); err != nil {
				fail(fmt.Errorf("unsubscribe: %w", err))
				return
			}
			unsub = unsub[n:]
		}
		for len(sub) > 0 {
			n := min(len(sub), busSubscribeChunk)
			if err := b.write(ctx, func(ctx context.Context) error { return l.sub(ctx, ps, sub[:n]...) }); err != nil {
				fail(fmt.Errorf("subscribe: %w", err))
				return
			}
			sub = sub[n:]
		}
	}
}

func (b *RedisBus) write(ctx context.Context, f func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, b.cfg.ConnectTimeout)
	defer cancel()
	return f(ctx)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// Publish sends payload to every other node subscribed to the channel, waiting at most
// PublishTimeout. An error means the other nodes will not see this message through the bus
// (they fill it in from PostgreSQL when they notice the gap or resync); callers log it and
// carry on.
func (b *RedisBus) Publish(ctx context.Context, channelID int64, payload []byte) error {
	return b.publish(ctx, b.channelTopic(channelID), payload)
}

// PublishUser sends payload to the user's sessions on every other node.
func (b *RedisBus) PublishUser(ctx context.Context, userID int64, payload []byte) error {
	return b.publish(ctx, b.userTopic(userID), payload)
}

// PublishBroadcast sends payload to every other node holding a broadcast Subscription.
func (b *RedisBus) PublishBroadcast(ctx context.Context, payload []byte) error {
	return b.publish(ctx, b.broadcastTopic(), payload)
}

func (b *RedisBus) publish(ctx context.Context, name string, payload []byte) error {
	env, err := b.envelope(payload)
	if err != nil {
		return err
	}
	if b.ctx.Err() != nil {
		return ErrBusClosed
	}
	ctx, cancel := context.WithTimeout(ctx, b.cfg.PublishTimeout)
	defer cancel()
	if b.isShardedTopic(name) {
		cmd := spublish(ctx, name, env)
		_ = b.rdb.Process(ctx, cmd)
		err = cmd.Err()
	} else {
		err = b.rdb.Publish(ctx, name, env).Err()
	}
	if err != nil {
		b.stats.publishErrors.Add(1)
		b.cfg.Health.Fail(fmt.Errorf("bus publish: %w", err))
		return fmt.Errorf("bus: publish %s: %w", name, err)
	}
	b.stats.published.Add(1)
	b.stats.publishedBytes.Add(uint64(len(env)))
	return nil
}

func (b *RedisBus) envelope(payload []byte) ([]byte, error) {
	if len(payload) > b.cfg.MaxPayload {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrPayloadTooLarge, len(payload), b.cfg.MaxPayload)
	}
	env := make([]byte, busEnvelopeLen+len(payload))
	env[0] = busEnvelopeVersion
	copy(env[1:], b.origin)
	copy(env[busEnvelopeLen:], payload)
	return env, nil
}

// confirmed records Redis's confirmation of a SUBSCRIBE and, when it makes the topic live,
// tells its handlers. Runs on the reader.
func (b *RedisBus) confirmed(name string) {
	var subs []*redisSubscription
	b.mu.Lock()
	t := b.topics[name]
	if t != nil && t.pending > 0 {
		t.pending--
		if t.pending == 0 {
			switch {
			case t.sent && !t.live:
				t.live = true
				subs = t.subs
			case !t.sent && len(t.subs) == 0:
				delete(b.topics, name)
			}
		}
	}
	b.mu.Unlock()
	for _, s := range subs {
		if !s.closed.Load() {
			s.h.Resync()
		}
	}
}

// planInitial marks every held topic as subscribed on a new connection and returns them.
func (l *busLane) planInitial() []string {
	b := l.b
	b.mu.Lock()
	defer b.mu.Unlock()
	clear(l.dirty)
	names := make([]string, 0, len(b.topics))
	for name, t := range b.topics {
		if t.lane != l {
			continue
		}
		if len(t.subs) == 0 {
			delete(b.topics, name)
			continue
		}
		t.sent, t.pending, t.live = true, 1, false
		names = append(names, name)
	}
	l.setTopics(int64(len(names)))
	return names
}

// planChanges returns the topics to subscribe and unsubscribe on the current connection to
// match the Subscriptions held, and records them as written.
func (l *busLane) planChanges() (sub, unsub []string) {
	b := l.b
	b.mu.Lock()
	defer b.mu.Unlock()
	for name := range l.dirty {
		t := b.topics[name]
		switch {
		case t == nil:
		case len(t.subs) > 0 && !t.sent:
			t.sent = true
			t.pending++
			sub = append(sub, name)
		case len(t.subs) == 0 && t.sent:
			t.sent, t.live = false, false
			unsub = append(unsub, name)
			if t.pending == 0 {
				delete(b.topics, name)
			}
		case len(t.subs) == 0 && t.pending == 0:
			delete(b.topics, name)
		}
	}
	clear(l.dirty)
	l.setTopics(l.ntopics + int64(len(sub)-len(unsub)))
	return sub, unsub
}

// disconnected resets the per-connection state of every topic.
func (l *busLane) disconnected() {
	b := l.b
	l.healthy.Store(false)
	b.mu.Lock()
	defer b.mu.Unlock()
	for name, t := range b.topics {
		if t.lane != l {
			continue
		}
		if len(t.subs) == 0 {
			delete(b.topics, name)
			continue
		}
		t.sent, t.pending, t.live = false, 0, false
	}
	clear(l.dirty)
	l.setTopics(0)
}

// resynced marks the lane healthy and, once every lane is, runs the OnResync callbacks.
func (l *busLane) resynced() {
	b := l.b
	l.healthy.Store(true)
	if !b.Healthy() {
		return // the last lane to come up runs them
	}
	b.mu.RLock()
	fns := b.resyncFn
	b.mu.RUnlock()
	for _, f := range fns {
		f()
	}
}
