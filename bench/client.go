package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parley-chat/parley/stomp"
	"github.com/parley-chat/parley/stomp/stompclient"
)

// client is one simulated user: its STOMP connection, its delivery log, and (when the load
// model says so) its sends, read marks, REST fetches and reconnects.
type client struct {
	w       *worker
	spec    *ClientSpec
	key     int // shard key for the recorders
	tracker *Tracker

	conn     atomic.Pointer[stompclient.Client]
	node     atomic.Int32 // index in plan.URLs of the node it is (or was last) on
	inflight atomic.Int64 // unacknowledged sends
	n        int64        // messages sent; loop goroutine only
	rr       int          // next channel, round-robin; loop goroutine only

	mu        sync.Mutex
	readSent  map[int64]int64 // channel → highest seq marked read
	readAcked map[int64]int64 // channel → highest seq whose mark was acknowledged
}

func newClient(w *worker, spec *ClientSpec, key int) *client {
	c := &client{w: w, spec: spec, key: key, tracker: NewTracker()}
	c.node.Store(int32(spec.Node))
	if w.plan.Load.ReadInterval > 0 {
		c.readSent, c.readAcked = make(map[int64]int64), make(map[int64]int64)
	}
	return c
}

func wsURL(base string) string {
	switch {
	case strings.HasPrefix(base, "https://"):
		base = "wss://" + strings.TrimPrefix(base, "https://")
	case strings.HasPrefix(base, "http://"):
		base = "ws://" + strings.TrimPrefix(base, "http://")
	}
	return strings.TrimSuffix(base, "/") + "/ws"
}

// connect dials, then subscribes each channel; resume subscribes with since-seq at the last
// seq delivered, so the server replays what was missed. Expect is recorded before SUBSCRIBE:
// a replay may arrive before its RECEIPT.
func (c *client) connect(ctx context.Context, resume bool) error {
	p := c.w.plan
	opts := stompclient.ClientOptions{
		Token:          c.spec.Token,
		HeartBeat:      stomp.HeartBeat{Send: p.HeartBeat, Recv: p.HeartBeat},
		ReadBufferSize: 4 << 10, // most frames are small; 19,000 clients × 16 KiB default adds up
		RequestTimeout: 30 * time.Second,
		OnError:        c.w.onServerError,
		Poller:         c.w.poller,
	}
	if c.spec.Source != "" {
		opts.LocalAddr = &net.TCPAddr{IP: net.ParseIP(c.spec.Source)}
	}
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := stompclient.Dial(dctx, wsURL(c.url()), opts)
	if err != nil {
		return err
	}
	for _, ch := range c.subscriptions() {
		var hdrs []stomp.Header
		from := int64(0)
		if resume {
			from = c.tracker.Last(ch)
			hdrs = []stomp.Header{{Key: "since-seq", Value: strconv.FormatInt(from, 10)}}
		}
		c.tracker.Expect(ch, from)
		if _, err := conn.SubscribeFunc("/topic/channel."+strconv.FormatInt(ch, 10), c.onMessage, hdrs...); err != nil {
			_ = conn.Close()
			return fmt.Errorf("subscribe channel %d: %w", ch, err)
		}
	}
	if c.spec.UserQueue {
		if _, err := conn.SubscribeFunc("/user/queue/notifications", func(*stomp.Frame, time.Time) {}); err != nil {
			_ = conn.Close()
			return fmt.Errorf("subscribe user queue: %w", err)
		}
	}
	c.conn.Store(conn)
	go c.watch(conn)
	return nil
}

// subscriptions are the channels the client receives.
func (c *client) subscriptions() []int64 {
	if !c.spec.Subscribe {
		return nil
	}
	return c.spec.Channels
}

// watch counts the connection's end as a drop unless the harness closed it, and starts
// the client's resume (client_resume.go).
func (c *client) watch(conn *stompclient.Client) {
	<-conn.Closed()
	if c.conn.Load() != conn || c.w.closing.Load() {
		return // replaced by a reconnect, or closed at the end
	}
	if !c.conn.CompareAndSwap(conn, nil) {
		return
	}
	c.w.ctr.drops.Add(1)
	c.w.dropErrs.add(conn.Err())
	c.onDrop(time.Now())
}

// onMessage runs on the connection's read goroutine for every channel event.
func (c *client) onMessage(f *stomp.Frame, received time.Time) {
	w := c.w
	var ev event
	if !parseEvent(f.Body, &ev) {
		w.ctr.badEvents.Add(1)
		return
	}
	switch ev.kind {
	case evMessage:
		fresh := c.tracker.Observe(ev.channel, ev.seq, ev.id)
		w.ctr.deliveries.Add(1)
		w.lastDelivery.Store(received.UnixNano())
		if _, _, sent, ok := parseContent(ev.content); ok && fresh {
			in := w.inWindow(sent)
			w.deliver.record(c.key, received.Sub(sent), in)
			if in {
				w.ctr.wDeliveries.Add(1)
			}
			if c.spec.Probe {
				w.resume.recordProbe(c.key, sent, received.Sub(sent))
			}
			if from, ok := contentNode(ev.content); ok {
				if from == int(c.node.Load()) {
					w.resume.sameNode.Add(1)
				} else {
					w.resume.crossNode.Add(1)
				}
			}
		}
	case evRead:
		w.ctr.readEvents.Add(1)
		if w.plan.Load.ReadEvents {
			w.readEvent(c.key, ev, received)
		}
	}
}

// post sends one message with a receipt, without waiting for it: the schedule is open-loop,
// so a slow server shows up as latency rather than as a lower offered rate.
func (c *client) post(channel int64) {
	w := c.w
	if w.hooks != nil { // incoming scenario: through the channel's webhook instead
		c.postHook(channel)
		return
	}
	conn := c.conn.Load()
	if conn == nil {
		w.skip("not connected", 1)
		w.resume.skipped.Add(1)
		return
	}
	if c.inflight.Load() >= int64(w.plan.MaxInflight) {
		w.skip("--max-inflight unacknowledged sends", 1)
		return
	}
	c.n++
	now := time.Now()
	in := w.inWindow(now)
	content := appendContentNode(make([]byte, 0, w.plan.MessageBytes+32), c.spec.Index, int(c.node.Load()), c.n, now, w.plan.MessageBytes)
	body := appendSendBody(make([]byte, 0, len(content)+96), channel, content,
		w.plan.RunID+"-"+strconv.Itoa(c.spec.Index)+"-"+strconv.FormatInt(c.n, 10))
	w.ctr.sends.Add(1)
	if in {
		w.ctr.wSends.Add(1)
	}
	c.inflight.Add(1)
	w.inflight.Add(1)
	// The RECEIPT comes back on the connection's reader (SendAsync): no goroutine and no timer
	// per send; the worker's ticks expire what waits longer than ReceiptTimeout.
	err := conn.SendAsync("/app/message.send", body, func(r *stomp.Frame, err error) {
		done := time.Now()
		defer w.inflight.Done()
		defer c.inflight.Add(-1)
		if err != nil {
			select {
			case <-conn.Closed(): // its connection ended first: unacknowledged, not an error
				w.resume.unacked.Add(1)
			default:
				w.ctr.sendErrors.Add(1)
				w.sendErrs.add(err)
			}
			return
		}
		id, err1 := strconv.ParseInt(r.Value("message-id"), 10, 64)
		seq, err2 := strconv.ParseInt(r.Value("seq"), 10, 64)
		if err1 != nil || err2 != nil || id == 0 || seq == 0 {
			w.ctr.sendErrors.Add(1)
			w.sendErrs.add(errors.New("RECEIPT without numeric message-id and seq headers"))
			return
		}
		w.addAck(Ack{Channel: channel, Seq: seq, MessageID: id})
		w.receipt.record(c.key, done.Sub(now), in)
		w.ctr.acks.Add(1)
		if in {
			w.ctr.wAcks.Add(1)
		}
	}, stomp.Header{Key: "content-type", Value: "application/json"})
	if err != nil { // not written, and done will not run
		c.inflight.Add(-1)
		w.inflight.Done()
		if conn.Err() != nil { // its connection is ending: a send not made while disconnected
			w.skip("not connected", 1)
			w.resume.skipped.Add(1)
			return
		}
		w.ctr.sendErrors.Add(1)
		w.sendErrs.add(err)
	}
}

// markRead sends /app/message.read for the channels whose highest delivered seq advanced:
// all of them with ReadAll, else one of them at random.
func (c *client) markRead(rng *rand.Rand) {
	w := c.w
	conn := c.conn.Load()
	if conn == nil {
		return
	}
	type mark struct{ ch, seq int64 }
	var marks []mark
	c.mu.Lock()
	for _, ch := range c.subscriptions() {
		if seq := c.tracker.Last(ch); seq > c.readSent[ch] {
			marks = append(marks, mark{ch, seq})
		}
	}
	if !w.plan.Load.ReadAll && len(marks) > 1 {
		marks = marks[rng.IntN(len(marks)):][:1]
	}
	for _, m := range marks {
		c.readSent[m.ch] = m.seq
	}
	c.mu.Unlock()
	for _, m := range marks {
		ch, seq := m.ch, m.seq
		now := time.Now()
		in := w.inWindow(now)
		if w.plan.Load.ReadEvents {
			w.noteRead(c.spec.UserID, ch, seq, now, in)
		}
		w.ctr.readMarks.Add(1)
		if in {
			w.ctr.wReadMarks.Add(1)
		}
		body := []byte(`{"channelId":"` + strconv.FormatInt(ch, 10) + `","seq":` + strconv.FormatInt(seq, 10) + `}`)
		w.inflight.Add(1)
		go func(ch, seq int64) {
			defer w.inflight.Done()
			ctx, cancel := context.WithTimeout(context.Background(), w.plan.ReceiptTimeout)
			defer cancel()
			_, err := conn.SendWithReceipt(ctx, "/app/message.read", body, stomp.Header{Key: "content-type", Value: "application/json"})
			if err != nil {
				w.ctr.readErrors.Add(1)
				w.sendErrs.add(fmt.Errorf("message.read: %w", err))
				return
			}
			w.readAck.record(c.key, time.Since(now), in)
			w.ctr.readAcks.Add(1)
			c.mu.Lock()
			c.readAcked[ch] = max(c.readAcked[ch], seq)
			c.mu.Unlock()
		}(ch, seq)
	}
}

// fetch is a user's occasional REST read: the history of one of its channels, or its
// unreads, alternately.
func (c *client) fetch(ctx context.Context, rng *rand.Rand) {
	w := c.w
	path := "/api/unreads?limit=50"
	if len(c.spec.Channels) > 0 && rng.IntN(2) == 0 {
		path = "/api/channels/" + itoa(c.spec.Channels[rng.IntN(len(c.spec.Channels))]) + "/messages?limit=50"
	}
	start := time.Now()
	err := w.rest.do(ctx, "GET", c.url(), path, c.spec.Token, nil, nil)
	w.ctr.restCalls.Add(1)
	if err != nil {
		w.ctr.restErrors.Add(1)
		w.sendErrs.add(fmt.Errorf("REST: %w", err))
		return
	}
	w.restLat.record(c.key, time.Since(start), w.inWindow(start))
}

// reconnect closes the connection and resumes on a new one with since-seq; a failed attempt
// goes on as a resume (client_resume.go), on the same node first.
func (c *client) reconnect(ctx context.Context) {
	w := c.w
	old := c.conn.Swap(nil)
	if old == nil {
		return // dropped earlier: it stays gone and is reported as a drop
	}
	_ = old.Close()
	w.ctr.reconnects.Add(1)
	if err := c.connect(ctx, true); err != nil {
		w.connErrs.add(fmt.Errorf("reconnect: %w", err))
		if w.plan.Resume.Enabled { // retried with backoff like a drop (issue 27)
			c.onDrop(time.Now())
			return
		}
		w.ctr.reconnectFailures.Add(1)
		c.tracker.Drop()
	}
}

// loop runs the client's load until the window ends: sends at Rate (steady, or Poisson to
// a random channel), read marks, REST fetches and reconnects, each on its own schedule.
func (c *client) loop(ctx context.Context, rng *rand.Rand) {
	w := c.w
	lm := w.plan.Load
	end := w.windowEnd
	never := end.Add(time.Hour)
	expo := func(mean time.Duration) time.Duration {
		return time.Duration(rng.ExpFloat64() * float64(mean))
	}
	nextPost, nextRead, nextFetch, nextReconnect := never, never, never, never
	var interval time.Duration
	if c.spec.Rate > 0 && len(c.spec.Channels) > 0 {
		interval = time.Duration(float64(time.Second) / c.spec.Rate)
		if lm.Poisson {
			nextPost = w.start.Add(expo(interval))
		} else {
			nextPost = w.start.Add(time.Duration(rng.Int64N(int64(interval))))
		}
	}
	if lm.ReadInterval > 0 && len(c.subscriptions()) > 0 {
		nextRead = w.start.Add(time.Duration(rng.Int64N(int64(lm.ReadInterval))))
	}
	if lm.RESTInterval > 0 {
		nextFetch = w.start.Add(expo(lm.RESTInterval))
	}
	if lm.ReconnectPerMin > 0 {
		nextReconnect = w.start.Add(expo(time.Duration(float64(time.Minute) / lm.ReconnectPerMin)))
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		next := earliest(nextPost, nextRead, nextFetch, nextReconnect)
		if !next.Before(end) {
			return
		}
		timer.Reset(time.Until(next))
		select {
		case <-ctx.Done():
			return
		case <-w.stop:
			return
		case <-timer.C:
		}
		now := time.Now()
		switch {
		case next.Equal(nextPost):
			if lm.Poisson {
				c.post(c.spec.Channels[rng.IntN(len(c.spec.Channels))])
				nextPost = nextPost.Add(expo(interval))
			} else {
				c.post(c.spec.Channels[c.rr%len(c.spec.Channels)])
				c.rr++
				nextPost = nextPost.Add(interval)
			}
			if behind := now.Sub(nextPost); behind > time.Second {
				// The process cannot keep up; say so instead of bursting to catch up.
				w.skip("sender more than 1s behind schedule (harness starved of CPU)", int64(behind/interval))
				nextPost = now
			}
		case next.Equal(nextRead):
			c.markRead(rng)
			nextRead = nextRead.Add(lm.ReadInterval)
		case next.Equal(nextFetch):
			c.fetch(ctx, rng)
			nextFetch = now.Add(expo(lm.RESTInterval))
		default:
			c.reconnect(ctx)
			nextReconnect = time.Now().Add(expo(time.Duration(float64(time.Minute) / lm.ReconnectPerMin)))
		}
	}
}

// readState is the client's highest acknowledged read mark per channel.
func (c *client) readState() []ReadMark {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]ReadMark, 0, len(c.readAcked))
	for ch, seq := range c.readAcked {
		out = append(out, ReadMark{User: c.spec.UserID, Channel: ch, Seq: seq})
	}
	return out
}

// ReadMark is a user's acknowledged read marker in a channel.
type ReadMark struct {
	User    int64 `json:"user,string"`
	Channel int64 `json:"channel,string"`
	Seq     int64 `json:"seq"`
}

func earliest(ts ...time.Time) time.Time {
	e := ts[0]
	for _, t := range ts[1:] {
		if t.Before(e) {
			e = t
		}
	}
	return e
}
