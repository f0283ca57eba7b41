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
func (b *Bus) run() {
	defer close(b.done)
	failures := 0
	everUp := false
	for {
		up, err := b.session(everUp)
		b.disconnected()
		if b.ctx.Err() != nil {
			return
		}
		if up {
			everUp = true
			failures = 0
			b.log.Warn("redis bus connection lost; reconnecting", "err", err)
		} else if failures == 0 || failures%20 == 0 {
			b.log.Warn("redis bus cannot connect", "err", err, "attempt", failures+1)
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
func (b *Bus) session(reconnect bool) (up bool, err error) {
	ctx, cancel := context.WithCancelCause(b.ctx)
	defer cancel(nil)
	ps := b.rdb.Subscribe(ctx)
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
	if err := b.subscribeInitial(ctx, ps, token); err != nil {
		return false, err
	}

	syncerDone := make(chan struct{})
	defer func() { cancel(nil); <-syncerDone }()
	started := false
	startSyncer := func() {
		started = true
		go func() {
			defer close(syncerDone)
			b.syncTopics(ctx, ps, cancel)
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
			if m.Kind == "subscribe" {
				b.confirmed(m.Channel)
			}
		case *redis.Pong:
			if !up && m.Payload == token {
				up = true
				if reconnect {
					b.stats.reconnects.Add(1)
					b.log.Info("redis bus reconnected")
				}
				startSyncer()
				b.resynced()
			}
		}
	}
}

// subscribeInitial subscribes every held topic on a new connection (which dials it) and
// sends the ping whose answer marks them all live.
func (b *Bus) subscribeInitial(ctx context.Context, ps *redis.PubSub, token string) error {
	ctx, cancel := context.WithTimeout(ctx, b.cfg.ConnectTimeout)
	defer cancel()
	names := b.planInitial()
	for len(names) > 0 {
		n := min(len(names), busSubscribeChunk)
		if err := ps.Subscribe(ctx, names[:n]...); err != nil {
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
func (b *Bus) syncTopics(ctx context.Context, ps *redis.PubSub, fail context.CancelCauseFunc) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-b.wake:
		}
		sub, unsub := b.planChanges()
		for len(unsub) > 0 {
			n := min(len(unsub), busSubscribeChunk)
			if err := b.write(ctx, func(ctx context.Context) error { return ps.Unsubscribe(ctx, unsub[:n]...) }); err != nil {
				fail(fmt.Errorf("unsubscribe: %w", err))
				return
			}
			unsub = unsub[n:]
		}
		for len(sub) > 0 {
			n := min(len(sub), busSubscribeChunk)
			if err := b.write(ctx, func(ctx context.Context) error { return ps.Subscribe(ctx, sub[:n]...) }); err != nil {
				fail(fmt.Errorf("subscribe: %w", err))
				return
			}
			sub = sub[n:]
		}
	}
}

func (b *Bus) write(ctx context.Context, f func(context.Context) error) error {
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
func (b *Bus) Publish(ctx context.Context, channelID int64, payload []byte) error {
	return b.publish(ctx, b.channelTopic(channelID), payload)
}

// PublishUser sends payload to the user's sessions on every other node.
func (b *Bus) PublishUser(ctx context.Context, userID int64, payload []byte) error {
	return b.publish(ctx, b.userTopic(userID), payload)
}

// PublishBroadcast sends payload to every other node holding a broadcast Subscription.
func (b *Bus) PublishBroadcast(ctx context.Context, payload []byte) error {
	return b.publish(ctx, b.broadcastTopic(), payload)
}

func (b *Bus) publish(ctx context.Context, name string, payload []byte) error {
	env, err := b.envelope(payload)
	if err != nil {
		return err
	}
	if b.ctx.Err() != nil {
		return ErrBusClosed
	}
	ctx, cancel := context.WithTimeout(ctx, b.cfg.PublishTimeout)
	defer cancel()
	if err := b.rdb.Publish(ctx, name, env).Err(); err != nil {
		b.stats.publishErrors.Add(1)
		return fmt.Errorf("bus: publish %s: %w", name, err)
	}
	b.stats.published.Add(1)
	b.stats.publishedBytes.Add(uint64(len(env)))
	return nil
}

func (b *Bus) envelope(payload []byte) ([]byte, error) {
	if len(payload) > b.cfg.MaxPayload {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrPayloadTooLarge, len(payload), b.cfg.MaxPayload)
	}
	env := make([]byte, busEnvelopeLen+len(payload))
	env[0] = busEnvelopeVersion
	copy(env[1:], b.origin)
	copy(env[busEnvelopeLen:], payload)
	return env, nil
}

// postItem is one queued Post.
type postItem struct {
	topic string
	env   []byte
	done  func(error)
}

// Post queues payload for publishing to the channel's topic and returns at once, so an
// actor can publish without waiting on Redis. Queued messages are sent in order, several
// per round trip, by one goroutine: two Posts from one goroutine reach Redis in the order
// they were made. done, when not nil, is called once with the outcome from that goroutine
// (it must not block; an actor sends itself a message). Post fails at once with
// ErrPostQueueFull when PostQueue messages are waiting, ErrBusClosed after Close, and
// ErrPayloadTooLarge; done is not called then.
func (b *Bus) Post(channelID int64, payload []byte, done func(error)) error {
	return b.post(b.channelTopic(channelID), payload, done)
}

// PostUser is Post for a user's topic.
func (b *Bus) PostUser(userID int64, payload []byte, done func(error)) error {
	return b.post(b.userTopic(userID), payload, done)
}

func (b *Bus) post(name string, payload []byte, done func(error)) error {
	env, err := b.envelope(payload)
	if err != nil {
		return err
	}
	b.postMu.RLock()
	defer b.postMu.RUnlock()
	if b.postClosed {
		return ErrBusClosed
	}
	select {
	case b.postq <- postItem{topic: name, env: env, done: done}:
		return nil
	default:
		b.stats.postQueueFull.Add(1)
		return ErrPostQueueFull
	}
}

// postLoop sends queued Posts in pipelined batches until Close, then flushes what is left.
func (b *Bus) postLoop() {
	defer close(b.postDone)
	batch := make([]postItem, 0, b.cfg.PostBatch)
	for {
		select {
		case it := <-b.postq:
			batch = append(batch, it)
		case <-b.ctx.Done():
			// Close holds postMu before cancelling, so nothing is added from here on.
			for {
				batch = b.fillBatch(batch)
				if len(batch) == 0 {
					return
				}
				batch = b.flush(batch)
			}
		}
		batch = b.flush(b.fillBatch(batch))
	}
}

// fillBatch adds queued items to batch without waiting.
func (b *Bus) fillBatch(batch []postItem) []postItem {
	for len(batch) < b.cfg.PostBatch {
		select {
		case it := <-b.postq:
			batch = append(batch, it)
		default:
			return batch
		}
	}
	return batch
}

// flush publishes batch in one pipeline and reports each outcome; it returns batch emptied.
func (b *Bus) flush(batch []postItem) []postItem {
	// Not b.ctx: the final flush runs after Close cancelled it.
	ctx, cancel := context.WithTimeout(context.Background(), b.cfg.PublishTimeout)
	cmds, err := b.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, it := range batch {
			p.Publish(ctx, it.topic, it.env)
		}
		return nil
	})
	cancel()
	failed := 0
	for i, it := range batch {
		e := err
		if i < len(cmds) {
			e = cmds[i].Err()
		}
		if e != nil {
			failed++
			b.stats.publishErrors.Add(1)
			e = fmt.Errorf("bus: publish %s: %w", it.topic, e)
		} else {
			b.stats.published.Add(1)
			b.stats.publishedBytes.Add(uint64(len(it.env)))
		}
		if it.done != nil {
			it.done(e)
		}
	}
	if failed > 0 {
		b.log.Debug("redis bus post batch failed", "failed", failed, "batch", len(batch), "err", err)
	}
	clear(batch)
	return batch[:0]
}
