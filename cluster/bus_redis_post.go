package cluster

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
)

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
func (b *RedisBus) Post(channelID int64, payload []byte, done func(error)) error {
	return b.post(b.channelTopic(channelID), payload, done)
}

// PostUser is Post for a user's topic.
func (b *RedisBus) PostUser(userID int64, payload []byte, done func(error)) error {
	return b.post(b.userTopic(userID), payload, done)
}

// PostBroadcast is Post for the topic every node holds (SubscribeBroadcast).
func (b *RedisBus) PostBroadcast(payload []byte, done func(error)) error {
	return b.post(b.broadcastTopic(), payload, done)
}

func (b *RedisBus) post(name string, payload []byte, done func(error)) error {
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
func (b *RedisBus) postLoop() {
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
func (b *RedisBus) fillBatch(batch []postItem) []postItem {
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
func (b *RedisBus) flush(batch []postItem) []postItem {
	// Not b.ctx: the final flush runs after Close cancelled it.
	ctx, cancel := context.WithTimeout(context.Background(), b.cfg.PublishTimeout)
	cmds, err := b.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, it := range batch {
			if b.isShardedTopic(it.topic) {
				_ = p.Process(ctx, spublish(ctx, it.topic, it.env))
			} else {
				p.Publish(ctx, it.topic, it.env)
			}
		}
		return nil
	})
	cancel()
	failed, first := 0, error(nil)
	for i, it := range batch {
		e := err
		if i < len(cmds) {
			e = cmds[i].Err()
		}
		if e != nil {
			failed++
			if first == nil {
				first = e
			}
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
		b.cfg.Health.Fail(fmt.Errorf("bus publish: %d of %d failed: %w", failed, len(batch), first))
		b.log.Debug("redis bus post batch failed", "failed", failed, "batch", len(batch), "err", err)
	}
	clear(batch)
	return batch[:0]
}
