package actors

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/parley-chat/parley/errcode"
	"github.com/parley-chat/parley/persistence"
	"github.com/parley-chat/parley/stomp"
)

// SEND destinations.
const (
	DestMessageSend   = "/app/message.send"
	DestMessageRead   = "/app/message.read"
	DestMessageResend = "/app/message.resend"
	DestTyping        = "/app/typing"
)

// flexID is an id in a JSON body: a decimal string as the API writes ids, or a number.
type flexID int64

func (id *flexID) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		*id = 0
		return nil
	}
	if len(b) >= 2 && b[0] == '"' && b[len(b)-1] == '"' {
		b = b[1 : len(b)-1]
	}
	v, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil || v < 0 {
		return fmt.Errorf("not an id: %.32q", b)
	}
	*id = flexID(v)
	return nil
}

type (
	sendBody struct {
		ChannelID   flexID `json:"channelId"`
		Content     string `json:"content"`
		ParentID    flexID `json:"parentId"`
		ClientMsgID string `json:"clientMsgId"`
		// FileIDs attaches uploads of the sender (ADR 0041); the commit checks them.
		FileIDs []flexID `json:"fileIds"`
	}
	readBody struct {
		ChannelID flexID `json:"channelId"`
		Seq       *int64 `json:"seq"`
	}
	resendBody struct {
		ChannelID flexID `json:"channelId"`
		SinceSeq  int64  `json:"sinceSeq"`
	}
	typingBody struct {
		ChannelID flexID `json:"channelId"`
	}
)

func decodeBody(body []byte, v any, channelID func() flexID) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return &persistence.ValidationError{Reason: "a JSON body is required"}
	}
	if err := json.Unmarshal(body, v); err != nil {
		return &persistence.ValidationError{Reason: "invalid JSON body: " + err.Error()}
	}
	if channelID() <= 0 {
		return &persistence.ValidationError{Field: "channelId", Reason: "required"}
	}
	return nil
}

func (c *connActor) send(f *stomp.Frame, receipt string) {
	dest := f.Value(stomp.HdrDestination)
	if c.sys.draining.Load() {
		c.fail(ErrShuttingDown, receipt, dest)
		return
	}
	if !c.allowSend() {
		c.sys.met.rateLimited.Inc()
		c.sys.met.limited.WithLabelValues(limitStompSend).Inc()
		c.fail(fmt.Errorf("%w: at most %g SEND frames per second", errcode.ErrRateLimited, c.sys.cfg.SendRate), receipt, dest)
		return
	}
	switch dest {
	case DestMessageSend:
		c.sendMessage(f.Body, receipt)
	case DestTyping:
		c.typing(f.Body, receipt)
	case DestMessageRead:
		c.markRead(f.Body, receipt)
	case DestMessageResend:
		c.resend(f.Body, receipt)
	case DestPresenceSet:
		c.presenceSet(f.Body, receipt)
	case DestPresenceWatch:
		c.presenceWatch(f.Body, receipt)
	default:
		c.fail(fmt.Errorf("%w: %q", ErrUnknownDestination, dest), receipt, dest)
	}
}

func (c *connActor) sendMessage(body []byte, receipt string) {
	const dest = DestMessageSend
	var b sendBody
	err := decodeBody(body, &b, func() flexID { return b.ChannelID })
	if err == nil {
		err = persistence.ValidateContent(b.Content)
	}
	if err == nil {
		err = persistence.ValidateClientMsgID(b.ClientMsgID)
	}
	var fileIDs []int64
	if err == nil && len(b.FileIDs) > 0 {
		fileIDs = make([]int64, len(b.FileIDs))
		for i, id := range b.FileIDs {
			fileIDs[i] = int64(id)
		}
		err = persistence.ValidateFileIDs(fileIDs)
	}
	if err != nil {
		c.fail(err, receipt, dest)
		return
	}
	cid := int64(b.ChannelID)
	if _, _, ok := persistence.ParseSlash(b.Content); ok {
		c.command(cid, int64(b.ParentID), b.Content, receipt) // not posted (commands.go)
		return
	}
	b.Content = persistence.UnescapeSlash(b.Content)
	msg := persistence.NewMessage{ID: c.sys.ids.Next(), UserID: c.info.UserID, ParentID: int64(b.ParentID),
		Content: b.Content, ClientMsgID: b.ClientMsgID, FileIDs: fileIDs}
	c.begin()
	post := func(err error) {
		if err != nil {
			c.fail(err, receipt, dest)
			c.end()
			return
		}
		c.sys.post(cid, &postReq{msg: msg, from: c.sess, receipt: receipt}) // answered by Session.answer
	}
	// A registered subscription proves read access (AccessChanged ends it when access
	// goes) and posting needs only that and an unarchived channel, which the store checks
	// in the commit: no PostgreSQL round trip before it. Not while operations wait for an
	// access check of the channel: this one must not overtake them.
	if c.subs.registered(cid) && !c.access.waiting(cid) {
		post(nil)
		return
	}
	c.withAccess(cid, func(acc persistence.Access, err error) {
		if err == nil {
			err = acc.CanPost()
		}
		post(err)
	})
}

// answer hands a SEND to /app/message.send its commit's outcome, on the channel actor.
// A RECEIPT (with the message's id and seq) is queued right there, beside the MESSAGE the
// commit fanned out: through the connection actor's mailbox it waited behind the session's
// own incoming SENDs, which quadrupled the hot channel's P99 (ADR 0030). A failure goes to
// the connection actor (sent), which alone knows the session's error queue. Either way the
// SEND counts as answered once, so a DISCONNECT behind it gets its RECEIPT.
func (sess *Session) answer(root *actor.RootContext, d *postDone) {
	if d.res.err != nil {
		root.Send(sess.pid, d)
		return
	}
	if d.receipt != "" {
		sess.out.Receipt(d.receipt, d.res.id, d.res.seq)
	}
	if sess.pending.Add(-1) == 0 && sess.disconnecting.Load() {
		root.Send(sess.pid, flushDisconnect{})
	}
}

// sent answers a SEND whose commit failed with ERROR (Session.answer).
func (c *connActor) sent(d *postDone) {
	c.fail(d.res.err, d.receipt, DestMessageSend)
	c.end()
}

func (c *connActor) typing(body []byte, receipt string) {
	const dest = DestTyping
	var b typingBody
	if err := decodeBody(body, &b, func() flexID { return b.ChannelID }); err != nil {
		c.fail(err, receipt, dest)
		return
	}
	cid, uid := int64(b.ChannelID), c.info.UserID
	c.withAccess(cid, func(acc persistence.Access, err error) {
		if err == nil {
			err = acc.CanPost()
		}
		if err != nil {
			c.fail(err, receipt, dest)
			return
		}
		c.sys.ChannelEvent(cid, persistence.TypingEvent{Type: persistence.EventTyping, ChannelID: cid, UserID: uid})
		c.receipt(receipt)
	})
}

// markRead writes the marker through ReadMarks (as PUT …/read does) and tells the channel.
func (c *connActor) markRead(body []byte, receipt string) {
	const dest = DestMessageRead
	var b readBody
	err := decodeBody(body, &b, func() flexID { return b.ChannelID })
	if err == nil && (b.Seq == nil || *b.Seq < 0) {
		err = &persistence.ValidationError{Field: "seq", Reason: "must be a non-negative integer"}
	}
	if err != nil {
		c.fail(err, receipt, dest)
		return
	}
	cid, seq, uid := int64(b.ChannelID), *b.Seq, c.info.UserID
	sys, self, ctx := c.sys, c.sess.pid, c.opCtx()
	// The common case asks PostgreSQL nothing: a session subscribed to the channel may read
	// it, and a seq this node has delivered needs no clamping to the channel's last. A read
	// marker per user every 30 s was 40 % of the pool's acquires at 10,000 users
	// (docs/BENCHMARKS.md).
	// Not while a check of the channel is queued: access may have changed (access.go).
	known := c.subs.registered(cid) && !c.access.waiting(cid) && seq <= sys.delivered(cid)
	c.begin()
	sys.goWork(func() {
		err := func() error {
			if !known {
				acc, err := sys.store.ChannelAccess(ctx, uid, cid)
				if err == nil {
					err = acc.CanRead()
				}
				if err != nil {
					return err
				}
				seq = min(seq, acc.LastSeq)
			}
			marker, err := sys.marks.MarkRead(ctx, uid, cid, seq)
			if err != nil {
				return err
			}
			sys.ChannelEvent(cid, persistence.ReadEvent{Type: persistence.EventRead, ChannelID: cid, UserID: uid, Seq: marker})
			return nil
		}()
		sys.root.Send(self, &opDone{receipt: receipt, dest: dest, err: err})
	})
}

// resend replays a channel's messages after sinceSeq to the session's /user/queue/resend.
// Past the replay budget it stops with ERROR rate_limited; the session stays open, as for a
// refused SEND (ADR 0026).
func (c *connActor) resend(body []byte, receipt string) {
	const dest = DestMessageResend
	var b resendBody
	err := decodeBody(body, &b, func() flexID { return b.ChannelID })
	if err == nil && b.SinceSeq < 0 {
		err = &persistence.ValidationError{Field: "sinceSeq", Reason: "must be a non-negative integer"}
	}
	if err != nil {
		c.fail(err, receipt, dest)
		return
	}
	subID, ok := c.subs.queue(QueueResend)
	if !ok {
		c.fail(fmt.Errorf("%w: subscribe to %s first", ErrProtocol, QueueResend), receipt, dest)
		return
	}
	cid, since, uid := int64(b.ChannelID), b.SinceSeq, c.info.UserID
	sys, self, ctx, out := c.sys, c.sess.pid, c.opCtx(), c.out
	c.begin()
	sys.goWork(func() {
		err := func() error {
			acc, err := sys.store.ChannelAccess(ctx, uid, cid)
			if err == nil {
				err = acc.CanRead()
			}
			if err != nil || acc.LastSeq <= since {
				return err
			}
			_, err = replay(sys, uid, cid, QueueResend, out, subID, since, acc.LastSeq)
			return err
		}()
		sys.root.Send(self, &opDone{receipt: receipt, dest: dest, err: err})
	})
}
