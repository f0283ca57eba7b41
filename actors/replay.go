package actors

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"

	"github.com/parley-chat/parley/persistence"
	"github.com/parley-chat/parley/stomp"
)

const (
	contentJSON = "application/json"
	// Labels of parley_rate_limited_total.
	limitReplay    = "replay"
	limitStompSend = "stomp_send"
)

var errShortResult = errors.New("actors: store returned fewer results than messages")

// replay sends the messages of channelID with since < seq (<= upTo when upTo > 0) from
// PostgreSQL to one subscription, in pages, waiting for room in the session's queue. It runs
// off the actors and returns the highest seq sent (since when none). The messages are
// charged to userID's replay budget, a page at a time; when it cannot pay for the next page
// the replay stops with a *replayBudgetError (ADR 0026).
func replay(sys *System, userID, channelID int64, dest string, out Sink, subID string, since, upTo int64) (int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), sys.cfg.ReplayTimeout)
	defer cancel()
	go func() { // a session that closes ends its replay at once
		select {
		case <-out.Done():
			cancel()
		case <-ctx.Done():
		}
	}()
	last := since
	page := sys.cfg.ReplayPageSize
	for {
		// Each page is paid for before it is read, whole: a loop of SUBSCRIBE since-seq
		// made PostgreSQL read a page per SUBSCRIBE, and a budget refilling by the message
		// would pay for one page row at a time. Seqs are dense, so upTo-last bounds the rows.
		want := min(page, sys.replayBudget.Burst())
		if upTo > 0 {
			want = int(min(int64(want), upTo-last))
		}
		if ok, _ := sys.replayBudget.Allow(userID, want); !ok {
			sys.met.limited.WithLabelValues(limitReplay).Inc()
			return last, &replayBudgetError{budget: sys.cfg.ReplayBudget, channelID: channelID, last: last}
		}
		ms, err := sys.store.MessagesAfter(ctx, channelID, last, want)
		if err != nil {
			if ctx.Err() != nil && isDone(out) {
				return last, errSessionClosed
			}
			return last, err
		}
		for i := range ms {
			m := &ms[i]
			if upTo > 0 && m.Seq > upTo {
				return last, nil
			}
			ev, err := messageEvent(dest, m)
			if err != nil {
				return last, err
			}
			if err := out.DeliverWait(ctx, ev.tpl, subID, ev.msgID); err != nil {
				if isDone(out) {
					return last, errSessionClosed
				}
				return last, err
			}
			sys.met.replayMessages.Inc()
			last = m.Seq
		}
		if len(ms) < want || (upTo > 0 && last >= upTo) {
			return last, nil
		}
	}
}

func isDone(out Sink) bool {
	select {
	case <-out.Done():
		return true
	default:
		return false
	}
}

// messageEvent encodes a stored message as the MESSAGE a live subscriber got for it.
func messageEvent(dest string, m *persistence.Message) (*event, error) {
	body, err := json.Marshal(persistence.NewMessageEvent(*m))
	if err != nil {
		return nil, err
	}
	seq := strconv.FormatInt(m.Seq, 10)
	return &event{
		tpl:   stomp.NewMessageTemplate(dest, contentJSON, []stomp.Header{{Key: hdrSeq, Value: seq}}, body),
		msgID: strconv.FormatInt(m.ID, 10), seq: m.Seq, body: body,
	}, nil
}
