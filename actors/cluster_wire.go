package actors

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"

	"github.com/parley-chat/parley/stomp"
)

// The bus payloads. Binary, because a batch carries MESSAGE bodies (JSON) as they are: the
// receiving node forwards bytes and never re-encodes.
//
//	channel batch: 'C' node channel head n { seq len(msgID) msgID len(body) body }×n
//	user event:    'U' node user len(dest) dest len(msgID) msgID len(body) body
//	users' event:  'A' node n user×n len(dest) dest len(msgID) msgID len(body) body
//
// Integers are uvarints. head is the highest seq committed on the channel as far as the
// publisher knows (0: none known); a batch with no events is an announcement of head
// alone, sent after a publish failed so that a quiet channel still reveals its gap.
const (
	wireVersion1Channel byte = 'C'
	wireVersion1User    byte = 'U'
	wireVersion1Users   byte = 'A' // one event for an audience (cluster_audience.go)
	// maxWirePayload is where a batch is split: well under cluster's 1 MiB default
	// MaxPayload, with room for the bus envelope.
	maxWirePayload = 512 << 10
)

var errMalformed = errors.New("actors: malformed bus payload")

// wireBatch is a decoded channel batch.
type wireBatch struct {
	node    int
	channel int64
	head    int64
	events  []*event
}

// encodeChannelBatches encodes evs (new messages in seq order, or other events) in as few
// payloads as fit maxWirePayload. Each payload's head is the highest of head and its seqs.
func encodeChannelBatches(node int, channelID, head int64, evs []*event) [][]byte {
	var out [][]byte
	i := 0
	for {
		p := make([]byte, 0, 64)
		n, size, top := 0, 0, head
		for j := i; j < len(evs); j++ {
			sz := 3*binary.MaxVarintLen64 + len(evs[j].msgID) + len(evs[j].body)
			if n > 0 && size+sz > maxWirePayload {
				break
			}
			n++
			size += sz
			top = max(top, evs[j].seq)
		}
		p = append(p, wireVersion1Channel)
		p = binary.AppendUvarint(p, uint64(node))
		p = binary.AppendUvarint(p, uint64(channelID))
		p = binary.AppendUvarint(p, uint64(top))
		p = binary.AppendUvarint(p, uint64(n))
		for _, ev := range evs[i : i+n] {
			p = binary.AppendUvarint(p, uint64(ev.seq))
			p = appendBytes(p, []byte(ev.msgID))
			p = appendBytes(p, ev.body)
		}
		out = append(out, p)
		i += n
		if i >= len(evs) {
			return out
		}
	}
}

// decodeChannelBatch decodes a channel batch and builds each event's MESSAGE template for
// the channel's destination. Bodies alias p.
func decodeChannelBatch(p []byte) (wireBatch, error) {
	r := wireReader{p: p}
	if r.byte() != wireVersion1Channel {
		return wireBatch{}, errMalformed
	}
	b := wireBatch{node: int(r.uvarint()), channel: int64(r.uvarint()), head: int64(r.uvarint())}
	n := r.uvarint()
	if r.err != nil || n > uint64(len(p)) || b.channel <= 0 {
		return wireBatch{}, errMalformed
	}
	dest := ChannelDestination(b.channel)
	b.events = make([]*event, 0, n)
	for range n {
		seq := int64(r.uvarint())
		id := string(r.bytes())
		body := r.bytes()
		if r.err != nil || seq < 0 {
			return wireBatch{}, errMalformed
		}
		var hdrs []stomp.Header
		if seq > 0 {
			hdrs = []stomp.Header{{Key: hdrSeq, Value: strconv.FormatInt(seq, 10)}}
		}
		b.events = append(b.events, &event{
			tpl: stomp.NewMessageTemplate(dest, contentJSON, hdrs, body), msgID: id, seq: seq, body: body,
			lazy: seq == 0 && isReadEventBody(body)})
	}
	if len(r.p) != 0 {
		return wireBatch{}, errMalformed
	}
	return b, nil
}

func encodeUserEvent(node int, ue *userEvent) []byte {
	p := make([]byte, 0, 32+len(ue.dest)+len(ue.ev.msgID)+len(ue.ev.body))
	p = append(p, wireVersion1User)
	p = binary.AppendUvarint(p, uint64(node))
	p = binary.AppendUvarint(p, uint64(ue.userID))
	p = appendBytes(p, []byte(ue.dest))
	p = appendBytes(p, []byte(ue.ev.msgID))
	return appendBytes(p, ue.ev.body)
}

func decodeUserEvent(p []byte) (*userEvent, error) {
	r := wireReader{p: p}
	if r.byte() != wireVersion1User {
		return nil, errMalformed
	}
	_ = r.uvarint() // node
	uid := int64(r.uvarint())
	dest := string(r.bytes())
	id := string(r.bytes())
	body := r.bytes()
	if r.err != nil || len(r.p) != 0 || uid <= 0 {
		return nil, errMalformed
	}
	return &userEvent{userID: uid, dest: dest, ev: event{
		tpl: stomp.NewMessageTemplate(dest, contentJSON, nil, body), msgID: id, body: body}}, nil
}

func appendBytes(p, b []byte) []byte {
	p = binary.AppendUvarint(p, uint64(len(b)))
	return append(p, b...)
}

// wireReader reads a payload; the first error sticks and later reads return zero values.
type wireReader struct {
	p   []byte
	err error
}

func (r *wireReader) byte() byte {
	if r.err != nil || len(r.p) == 0 {
		r.err = errMalformed
		return 0
	}
	b := r.p[0]
	r.p = r.p[1:]
	return b
}

func (r *wireReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.p)
	if n <= 0 || v > 1<<62 {
		r.err = fmt.Errorf("%w: bad integer", errMalformed)
		return 0
	}
	r.p = r.p[n:]
	return v
}

func (r *wireReader) bytes() []byte {
	n := r.uvarint()
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.p)) {
		r.err = fmt.Errorf("%w: truncated", errMalformed)
		return nil
	}
	b := r.p[:n:n]
	r.p = r.p[n:]
	return b
}

// readEventPrefix starts every encoded persistence.ReadEvent (Type is its first field): a
// node tells read events from the bus apart without decoding them.
var readEventPrefix = []byte(`{"type":"read",`)

func isReadEventBody(body []byte) bool { return bytes.HasPrefix(body, readEventPrefix) }
