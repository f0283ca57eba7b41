package bench

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"
)

// A bench message's content is "pb1 <sender> <n> <send unix nanos> <padding>": the sender's
// clock travels with the message, so the receiver measures send → deliver with a clock of
// the same machine and never trusts the server's.
const contentMagic = "pb1 "

// appendContent appends the content of sender's n-th message sent at t, padded with 'x' to
// about size bytes.
func appendContent(dst []byte, sender int, n int64, t time.Time, size int) []byte {
	start := len(dst)
	dst = append(dst, contentMagic...)
	dst = strconv.AppendInt(dst, int64(sender), 10)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, n, 10)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, t.UnixNano(), 10)
	dst = append(dst, ' ')
	for len(dst)-start < size {
		dst = append(dst, 'x')
	}
	return dst
}

// parseContent reverses appendContent.
func parseContent(b []byte) (sender int, n int64, sent time.Time, ok bool) {
	if !bytes.HasPrefix(b, []byte(contentMagic)) {
		return 0, 0, time.Time{}, false
	}
	var f [3]int64
	b = b[len(contentMagic):]
	for i := range f {
		end := bytes.IndexByte(b, ' ')
		if end < 0 {
			end = len(b)
		}
		v, err := strconv.ParseInt(string(b[:end]), 10, 64)
		if err != nil {
			return 0, 0, time.Time{}, false
		}
		f[i] = v
		if end < len(b) {
			b = b[end+1:]
		} else {
			b = b[end:]
		}
	}
	return int(f[0]), f[1], time.Unix(0, f[2]), true
}

// appendSendBody appends the JSON body of /app/message.send.
func appendSendBody(dst []byte, channel int64, content []byte, clientMsgID string) []byte {
	dst = append(dst, `{"channelId":"`...)
	dst = strconv.AppendInt(dst, channel, 10)
	dst = append(dst, `","content":"`...)
	dst = append(dst, content...) // appendContent writes nothing JSON must escape
	dst = append(dst, `","clientMsgId":"`...)
	dst = append(dst, clientMsgID...)
	return append(dst, `"}`...)
}

// event is the part of a /topic/channel.{id} event the harness reads.
type event struct {
	kind    eventKind
	id      int64 // message id (message events)
	channel int64
	seq     int64
	user    int64
	content []byte // aliases the frame body
}

type eventKind uint8

const (
	evOther eventKind = iota
	evMessage
	evRead
)

var (
	keyType      = []byte(`"type":"`)
	keyMessage   = []byte(`"message":{`)
	keyID        = []byte(`"id":"`)
	keyChannelID = []byte(`"channelId":"`)
	keySeq       = []byte(`"seq":`)
	keyUserID    = []byte(`"userId":"`)
	keyContent   = []byte(`"content":"`)
)

// parseEvent reads a channel event. The hot path scans for the few keys it needs (a
// receiver parses hundreds of thousands of events a second on the same two cores as the
// server); anything it does not recognise goes through encoding/json.
func parseEvent(b []byte, ev *event) bool {
	*ev = event{}
	typ, ok := stringAfter(b, keyType)
	if !ok {
		return parseEventJSON(b, ev)
	}
	switch string(typ) {
	case "message":
		i := bytes.Index(b, keyMessage)
		if i < 0 {
			return parseEventJSON(b, ev)
		}
		m := b[i+len(keyMessage)-1:]
		var ok1, ok2, ok3, ok4 bool
		ev.kind = evMessage
		ev.id, ok1 = quotedIntAfter(m, keyID)
		ev.channel, ok2 = quotedIntAfter(m, keyChannelID)
		ev.seq, ok3 = intAfter(m, keySeq)
		ev.user, _ = quotedIntAfter(m, keyUserID)
		ev.content, ok4 = stringAfter(m, keyContent)
		if !ok1 || !ok2 || !ok3 || !ok4 || bytes.IndexByte(ev.content, '\\') >= 0 {
			return parseEventJSON(b, ev)
		}
		return true
	case "read":
		var ok1, ok2, ok3 bool
		ev.kind = evRead
		ev.channel, ok1 = quotedIntAfter(b, keyChannelID)
		ev.user, ok2 = quotedIntAfter(b, keyUserID)
		ev.seq, ok3 = intAfter(b, keySeq)
		if !ok1 || !ok2 || !ok3 {
			return parseEventJSON(b, ev)
		}
		return true
	default:
		ev.kind = evOther
		return true
	}
}

func stringAfter(b, key []byte) ([]byte, bool) {
	i := bytes.Index(b, key)
	if i < 0 {
		return nil, false
	}
	rest := b[i+len(key):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return nil, false
	}
	return rest[:j], true
}

func quotedIntAfter(b, key []byte) (int64, bool) {
	s, ok := stringAfter(b, key)
	if !ok {
		return 0, false
	}
	return atoi(s)
}

func intAfter(b, key []byte) (int64, bool) {
	i := bytes.Index(b, key)
	if i < 0 {
		return 0, false
	}
	rest := b[i+len(key):]
	j := 0
	for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
		j++
	}
	return atoi(rest[:j])
}

func atoi(s []byte) (int64, bool) {
	if len(s) == 0 || len(s) > 19 {
		return 0, false
	}
	var v int64
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	return v, true
}

// wireEvent is the slow path's view of an event (SPEC "Real time"; persistence/events.go).
type wireEvent struct {
	Type    string `json:"type"`
	Message *struct {
		ID        int64  `json:"id,string"`
		ChannelID int64  `json:"channelId,string"`
		Seq       int64  `json:"seq"`
		UserID    int64  `json:"userId,string"`
		Content   string `json:"content"`
	} `json:"message"`
	ChannelID int64 `json:"channelId,string"`
	UserID    int64 `json:"userId,string"`
	Seq       int64 `json:"seq"`
}

func parseEventJSON(b []byte, ev *event) bool {
	var w wireEvent
	*ev = event{}
	if err := json.Unmarshal(b, &w); err != nil {
		return false
	}
	switch w.Type {
	case "message":
		if w.Message == nil {
			return false
		}
		*ev = event{kind: evMessage, id: w.Message.ID, channel: w.Message.ChannelID, seq: w.Message.Seq,
			user: w.Message.UserID, content: []byte(w.Message.Content)}
	case "read":
		*ev = event{kind: evRead, channel: w.ChannelID, user: w.UserID, seq: w.Seq}
	default:
		ev.kind = evOther
	}
	return true
}
