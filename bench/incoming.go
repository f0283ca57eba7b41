package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The "incoming" scenario (issue 24, ADR 0036): the fanout load, but each sender posts
// through its channel's incoming webhook (POST /hooks/{id}/{secret}, plain HTTP with
// keep-alive and no Authorization) instead of a STOMP SEND. The content carries the send
// time as every bench message does (payload.go), so the STOMP subscribers time send →
// deliver and the checker counts lost, duplicated and reordered messages exactly as for
// fanout; the "receipt" is the HTTP 200, whose body is the message with its id and seq.
// Run `fanout` with the same flags, interleaved, for the STOMP SEND reference.
//
// The node must raise its per-hook limit (--incoming-webhook-limit, 10/s burst 30 by
// default) and its per-address limit on unauthenticated requests (--unauthenticated-limit,
// 10/s burst 100: every post comes from the harness's address); bench/perfnode opens both.

// IncomingReport is the incoming scenario's outcome, beside the usual report lines.
type IncomingReport struct {
	Hooks int `json:"hooks"`
	// Acked is the posts answered 200 with a message id and seq; PerSec those sent in the
	// window, per second (the report's acks/s).
	Acked  int64   `json:"acked"`
	PerSec float64 `json:"postsPerSec"`
	// HTTP is the POST's round trip; Deliver send → delivery at the STOMP subscribers.
	HTTP    Percentiles `json:"http"`
	Deliver Percentiles `json:"deliver"`
	Refused int64       `json:"refused"` // posts that failed (429s among them)
	// Verified is the channels whose last acknowledged message, read back through the
	// REST API, has the channel's hook bot as its author: the posts went through the hooks.
	Verified int `json:"verified"`
}

// prepareIncoming makes one incoming webhook per channel and keeps its path for the plans.
func prepareIncoming(ctx context.Context, r *runner, owner ClientSpec, channels []int64) error {
	r.hooks = make(map[int64]string, len(channels))
	r.hookBots = make(map[int64]int64, len(channels))
	for i, c := range channels {
		var h struct {
			URL       string `json:"url"`
			BotUserID int64  `json:"botUserId,string"`
		}
		err := r.rest.do(ctx, http.MethodPost, owner.URL, "/api/channels/"+itoa(c)+"/webhooks/incoming", owner.Token,
			map[string]string{"name": "bench " + strconv.Itoa(i)}, &h)
		if err != nil {
			return fmt.Errorf("incoming webhook on channel %d: %w", c, err)
		}
		if !strings.HasPrefix(h.URL, "/hooks/") {
			return fmt.Errorf("incoming webhook on channel %d: unexpected url %q", c, h.URL)
		}
		r.hooks[c], r.hookBots[c] = h.URL, h.BotUserID
	}
	return nil
}

func analyseIncoming(ctx context.Context, r *runner, rep *Report) error {
	c := rep.Run.Counts
	o := &IncomingReport{Hooks: len(r.hooks), Acked: c.Acks, PerSec: rep.Run.AcksPerSec,
		HTTP: rep.Latency.Receipt, Deliver: rep.Latency.Deliver, Refused: c.SendErrors}
	rep.Incoming = o
	last := map[int64]Ack{}
	for _, a := range r.allAcks() {
		if a.Seq > last[a.Channel].Seq {
			last[a.Channel] = a
		}
	}
	owner := r.specs[0]
	for ch, a := range last {
		var m struct {
			UserID int64 `json:"userId,string"`
		}
		if err := r.rest.do(ctx, http.MethodGet, owner.URL, "/api/messages/"+itoa(a.MessageID), owner.Token, nil, &m); err != nil {
			return fmt.Errorf("reading back message %d: %w", a.MessageID, err)
		}
		if m.UserID != r.hookBots[ch] {
			return fmt.Errorf("message %d in channel %d is by user %d, not the hook's bot %d", a.MessageID, ch, m.UserID, r.hookBots[ch])
		}
		o.Verified++
	}
	if c.SendErrors > 0 {
		return fmt.Errorf("%d of %d webhook posts failed (429: raise the node's --incoming-webhook-limit and --unauthenticated-limit)",
			c.SendErrors, c.Sends)
	}
	return nil
}

func (o *IncomingReport) summary() string {
	return fmt.Sprintf("INCOMING  %d hooks (%d read back as the hook's bot): %d posts acknowledged, %.0f posts/s; HTTP P50 %.1f ms, P99 %.1f ms; send→deliver P50 %.1f ms, P99 %.1f ms (reference: fanout with the same flags)\n",
		o.Hooks, o.Verified, o.Acked, o.PerSec, o.HTTP.P50, o.HTTP.P99, o.Deliver.P50, o.Deliver.P99)
}

// hookPoster is a worker's HTTP client for the webhook posts: keep-alive connections,
// no credentials (the URL is the credential), ReceiptTimeout per post.
type hookPoster struct {
	http  *http.Client
	paths map[int64]string // channel → /hooks/{id}/{secret}
}

func newHookPoster(p *Plan) *hookPoster {
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        1024,
		MaxIdleConnsPerHost: 1024,
		IdleConnTimeout:     90 * time.Second,
	}
	return &hookPoster{http: &http.Client{Transport: tr, Timeout: p.ReceiptTimeout}, paths: p.Hooks}
}

func (h *hookPoster) close() { h.http.CloseIdleConnections() }

// hookMessage is what a post answers: the message as stored.
type hookMessage struct {
	ID        int64 `json:"id,string"`
	ChannelID int64 `json:"channelId,string"`
	Seq       int64 `json:"seq"`
}

// post sends one body to base + the channel's hook and returns the stored message.
func (h *hookPoster) post(base string, channel int64, body []byte) (hookMessage, error) {
	var m hookMessage
	path, ok := h.paths[channel]
	if !ok {
		return m, fmt.Errorf("no incoming webhook for channel %d", channel)
	}
	resp, err := h.http.Post(strings.TrimSuffix(base, "/")+path, "application/json", bytes.NewReader(body))
	if err != nil {
		return m, fmt.Errorf("POST /hooks: %w", errors.Unwrap(err)) // the URL holds the secret
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if err != nil {
		return m, fmt.Errorf("POST /hooks: reading answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return m, fmt.Errorf("POST /hooks: %d", resp.StatusCode)
	}
	if err := json.Unmarshal(data, &m); err != nil || m.ID == 0 || m.Seq == 0 || m.ChannelID != channel {
		return m, fmt.Errorf("POST /hooks: answer without the channel's message id and seq: %.100s", data)
	}
	return m, nil
}

// postHook is post's webhook variant: the same content and client message id, sent on a
// goroutine of its own so the schedule stays open-loop.
func (c *client) postHook(channel int64) {
	w := c.w
	if c.inflight.Load() >= int64(w.plan.MaxInflight) {
		w.skip("--max-inflight unacknowledged sends", 1)
		return
	}
	c.n++
	now := time.Now()
	in := w.inWindow(now)
	content := appendContent(make([]byte, 0, w.plan.MessageBytes+32), c.spec.Index, c.n, now, w.plan.MessageBytes)
	body, err := json.Marshal(struct {
		Content     string `json:"content"`
		ClientMsgID string `json:"clientMsgId"`
	}{string(content), w.plan.RunID + "-" + strconv.Itoa(c.spec.Index) + "-" + strconv.FormatInt(c.n, 10)})
	if err != nil {
		w.ctr.sendErrors.Add(1)
		w.sendErrs.add(err)
		return
	}
	w.ctr.sends.Add(1)
	if in {
		w.ctr.wSends.Add(1)
	}
	c.inflight.Add(1)
	w.inflight.Add(1)
	go func() {
		defer w.inflight.Done()
		defer c.inflight.Add(-1)
		m, err := w.hooks.post(c.spec.URL, channel, body)
		done := time.Now()
		if err != nil {
			w.ctr.sendErrors.Add(1)
			w.sendErrs.add(err)
			return
		}
		w.addAck(Ack{Channel: channel, Seq: m.Seq, MessageID: m.ID})
		w.receipt.record(c.key, done.Sub(now), in)
		w.ctr.acks.Add(1)
		if in {
			w.ctr.wAcks.Add(1)
		}
	}()
}
