package outgoing

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/parley-chat/parley/integrations"
	"github.com/parley-chat/parley/persistence"
)

// deliver sends one record until it is delivered, refused for good, or out of attempts,
// recording each attempt in the hook's log. It returns early only when ctx ends; the record
// is then not done and the group reads it again (the log keeps the attempts so far).
func (s *Service) deliver(ctx context.Context, rec record) {
	var (
		hook     persistence.OutgoingWebhook
		attempts int
	)
	// The database's part (the hook, the log row) is retried until it answers: without it
	// nothing can be sent or recorded, and the record must not be committed.
	for n := 0; ; n++ {
		var err error
		hook, attempts, err = s.begin(ctx, rec)
		if err == nil {
			break
		}
		if errors.Is(err, errDone) {
			return
		}
		s.log.Warn("outgoing webhooks: delivery not started, retrying", "delivery", rec.DeliveryID, "err", err)
		if sleepCtx(ctx, min(200*time.Millisecond<<min(n, 5), 5*time.Second)) != nil {
			return
		}
	}
	for attempt := attempts + 1; ; attempt++ {
		status, body, err := s.attempt(ctx, hook, rec)
		if ctx.Err() != nil {
			return
		}
		s.m.attempts.WithLabelValues(attemptResult(status, err)).Inc()
		if err == nil && status/100 == 2 {
			latency := time.Since(time.UnixMilli(rec.CreatedAtMS))
			s.m.latency.Observe(latency.Seconds())
			s.m.outcomes.WithLabelValues(persistence.DeliveryDelivered).Inc()
			a := persistence.DeliveryAttempt{Status: persistence.DeliveryDelivered, Attempts: attempt, Latency: latency, At: time.Now().UTC()}
			if rerr := s.reply(ctx, hook, rec, body); rerr != nil {
				a.LastError = "reply not posted: " + rerr.Error()
				s.log.Warn("outgoing webhooks: reply not posted", "hook", hook.ID, "delivery", rec.DeliveryID, "err", rerr)
			}
			s.record(ctx, hook.ID, rec, a)
			return
		}
		msg := attemptError(status, err)
		final := attempt >= s.cfg.MaxAttempts || permanent(status, err)
		if final {
			s.m.outcomes.WithLabelValues(persistence.DeliveryFailed).Inc()
			s.record(ctx, hook.ID, rec, persistence.DeliveryAttempt{Status: persistence.DeliveryFailed, Attempts: attempt, LastError: msg})
			s.log.Info("outgoing webhooks: delivery failed", "hook", hook.ID, "delivery", rec.DeliveryID, "attempts", attempt, "err", msg)
			return
		}
		s.record(ctx, hook.ID, rec, persistence.DeliveryAttempt{Status: persistence.DeliveryPending, Attempts: attempt, LastError: msg})
		if sleepCtx(ctx, s.cfg.backoff(attempt)) != nil {
			return
		}
		// A hook revoked while its delivery waits stops here.
		if h, err := s.hooks.get(ctx, rec.HookID); err == nil {
			if h.Revoked {
				s.m.outcomes.WithLabelValues("revoked").Inc()
				s.record(ctx, hook.ID, rec, persistence.DeliveryAttempt{Status: persistence.DeliveryFailed, Attempts: attempt, LastError: "hook revoked"})
				return
			}
			hook = h
		}
	}
}

// errDone says the record needs no delivery: its hook is gone or revoked, or the log says
// it is already done (read again after a restart or a rebalance).
var errDone = errors.New("nothing to deliver")

func (s *Service) begin(ctx context.Context, rec record) (persistence.OutgoingWebhook, int, error) {
	hook, err := s.hooks.get(ctx, rec.HookID)
	if errors.Is(err, persistence.ErrNotFound) || err == nil && hook.Revoked {
		s.m.outcomes.WithLabelValues("revoked").Inc()
		return hook, 0, errDone
	}
	if err != nil {
		return hook, 0, err
	}
	status, attempts, err := s.store.OutgoingDeliveryState(ctx, rec.HookID, rec.DeliveryID)
	if err != nil {
		return hook, 0, err
	}
	if status != "" && status != persistence.DeliveryPending {
		s.m.outcomes.WithLabelValues("duplicate").Inc()
		return hook, 0, errDone
	}
	return hook, attempts, nil
}

// attempt POSTs the record's body once, signed now with the hook's secret.
func (s *Service) attempt(ctx context.Context, hook persistence.OutgoingWebhook, rec record) (int, []byte, error) {
	req, err := integrations.NewRequest(ctx, hook.URL, []byte(hook.Secret), rec.DeliveryID, rec.Body, time.Now())
	if err != nil {
		return 0, nil, err
	}
	return s.client.Do(req)
}

func (s *Service) record(ctx context.Context, hookID int64, rec record, a persistence.DeliveryAttempt) {
	if err := s.store.RecordOutgoingDelivery(ctx, hookID, rec.DeliveryID, rec.Seq, a); err != nil && ctx.Err() == nil {
		s.log.Warn("outgoing webhooks: delivery log not written", "delivery", rec.DeliveryID, "err", err)
	}
	if a.Status == persistence.DeliveryPending || !s.hooks.finished(hookID, max(1, s.cfg.LogKeep/10)) {
		return
	}
	if err := s.store.TrimOutgoingDeliveries(ctx, hookID, s.cfg.LogKeep); err != nil && ctx.Err() == nil {
		s.log.Warn("outgoing webhooks: delivery log not trimmed", "hook", hookID, "err", err)
	}
}

// reply posts a 2xx body's {content} (or Slack's {text}) in the channel as the hook's bot,
// through the Poster (the channel actor: seq, fan-out, mentions). Its clientMsgId is the
// delivery id, so a delivery made twice replies once. An empty or non-JSON body is no reply.
func (s *Service) reply(ctx context.Context, hook persistence.OutgoingWebhook, rec record, body []byte) error {
	var r struct {
		Content *string `json:"content"`
		Text    *string `json:"text"`
	}
	if len(body) == 0 || json.Unmarshal(body, &r) != nil {
		return nil
	}
	content := r.Content
	if content == nil {
		content = r.Text
	}
	if content == nil || *content == "" {
		return nil
	}
	if err := persistence.ValidateContent(*content); err != nil {
		return err
	}
	nm := persistence.NewMessage{ID: s.nextID(), UserID: hook.BotUserID, Content: *content, ClientMsgID: "outgoing:" + rec.DeliveryID}
	if _, err := s.poster.Post(ctx, hook.BotUserID, hook.ChannelID, nm); err != nil {
		return err
	}
	s.m.replies.Inc()
	return nil
}

// permanent failures are not retried: the destination is refused (SSRF guard), the URL
// cannot be requested, or the receiver answered a 4xx other than 408 and 429 (it rejects
// this request; sending it again will not change that).
func permanent(status int, err error) bool {
	if err != nil {
		return errors.Is(err, integrations.ErrPrivateAddress) || errors.Is(err, integrations.ErrBadURL)
	}
	return status/100 == 4 && status != http.StatusRequestTimeout && status != http.StatusTooManyRequests
}

func attemptError(status int, err error) string {
	if err != nil {
		msg := err.Error()
		if len(msg) > 300 {
			msg = strings.ToValidUTF8(msg[:300], "")
		}
		return msg
	}
	return fmt.Sprintf("HTTP %d", status)
}

func attemptResult(status int, err error) string {
	switch {
	case err != nil:
		return "error"
	case status/100 == 2:
		return "2xx"
	case status/100 == 4:
		return "4xx"
	case status/100 == 5:
		return "5xx"
	}
	return "other"
}
