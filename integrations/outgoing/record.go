package outgoing

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/segmentio/kafka-go"

	"github.com/parley-chat/parley/persistence"
)

// record is one delivery on the topic: everything the deliverer needs except the hook's URL
// and secret, which it reads at delivery time (a revoked hook or a rotated URL then takes
// effect on queued deliveries, and no secret sits in Kafka). Body is the exact JSON POSTed
// on every attempt, so a retry, or a record produced twice, carries the same bytes.
type record struct {
	HookID     int64  `json:"hookId,string"`
	ChannelID  int64  `json:"channelId,string"`
	Seq        int64  `json:"seq"`
	DeliveryID string `json:"deliveryId"`
	// CreatedAtMS is the message's creation (Unix ms): latency is measured from it.
	CreatedAtMS int64  `json:"createdAt"`
	Body        []byte `json:"body"`
}

// event is the JSON body POSTed to the hook (SPEC "Integrations").
type event struct {
	Type      string              `json:"type"`
	ChannelID int64               `json:"channelId,string"`
	Message   persistence.Message `json:"message"`
}

// deliveryID is unique per (message, hook) and the same however often the record is
// produced or attempted.
func deliveryID(hookID, messageID int64) string {
	return "o" + strconv.FormatInt(hookID, 10) + "-" + strconv.FormatInt(messageID, 10)
}

// newRecord makes the Kafka message of one delivery, keyed by channel so that a channel's
// deliveries share a partition and keep their order.
func newRecord(hook persistence.RelayHook, m persistence.Message) (kafka.Message, error) {
	body, err := json.Marshal(event{Type: "message", ChannelID: m.ChannelID, Message: m})
	if err != nil {
		return kafka.Message{}, fmt.Errorf("encode event: %w", err)
	}
	v, err := json.Marshal(record{HookID: hook.ID, ChannelID: hook.ChannelID, Seq: m.Seq,
		DeliveryID: deliveryID(hook.ID, m.ID), CreatedAtMS: m.CreatedAt.UnixMilli(), Body: body})
	if err != nil {
		return kafka.Message{}, fmt.Errorf("encode record: %w", err)
	}
	return kafka.Message{Key: strconv.AppendInt(nil, hook.ChannelID, 10), Value: v}, nil
}

func decodeRecord(b []byte) (record, error) {
	var r record
	if err := json.Unmarshal(b, &r); err != nil {
		return record{}, fmt.Errorf("decode delivery record: %w", err)
	}
	if r.HookID <= 0 || r.ChannelID <= 0 || r.DeliveryID == "" || len(r.Body) == 0 {
		return record{}, fmt.Errorf("invalid delivery record %.200s", b)
	}
	return r, nil
}

// wanted says whether a message becomes a delivery for a hook: not a tombstone, not written
// by a bot (a hook's own reply, or another integration's post, must not start a loop), and,
// when the hook has trigger words, starting with one of them, word-bounded.
func wanted(b persistence.RelayBatch, m persistence.Message) bool {
	if m.Deleted || m.UserID == b.Hook.BotUserID || b.BotAuthors[m.UserID] {
		return false
	}
	if len(b.Hook.TriggerWords) == 0 {
		return true
	}
	for _, w := range b.Hook.TriggerWords {
		if startsWithWord(m.Content, w) {
			return true
		}
	}
	return false
}

// startsWithWord: content begins with w and the next character, if any, is not part of a
// word (letter, digit, underscore), so "deploy" matches "deploy now" and "deploy!" but not
// "deployment". Case-sensitive, like the command it names.
func startsWithWord(content, w string) bool {
	if w == "" || !strings.HasPrefix(content, w) {
		return false
	}
	rest := content[len(w):]
	if rest == "" {
		return true
	}
	r, _ := utf8.DecodeRuneInString(rest)
	return !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_')
}
