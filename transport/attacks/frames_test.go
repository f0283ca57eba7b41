package attacks_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parley-chat/parley/actors"
	"github.com/parley-chat/parley/stomp"
	"github.com/parley-chat/parley/transport"
)

// fastSends lifts the SEND rate limit for tests that send many frames on purpose.
func fastSends(c *transport.Config) {
	c.Realtime.SendRate, c.Realtime.SendBurst = 100000, 100000
}

// TestOneBytePerWebSocketMessage sends a whole session, CONNECT to SEND, one byte per
// WebSocket message, and then again as one message in one-byte fragments: STOMP framing
// does not depend on WebSocket framing.
func TestOneBytePerWebSocketMessage(t *testing.T) {
	t.Parallel()
	n := startNode(t, fastSends)
	u := n.user("alice")
	s := n.workspace(u, "acme")
	for _, fragments := range []bool{false, true} {
		c, err := n.rawDial(nil, true)
		if err != nil {
			t.Fatal(err)
		}
		content := fmt.Sprintf("one byte at a time (fragments %v)", fragments)
		var stream []byte
		stream = append(stream, connectFrame(u.token)...)
		stream = append(stream, frame(stomp.CmdSubscribe, nil, stomp.HdrID, "s", stomp.HdrDestination, destOf(s.general), stomp.HdrReceipt, "sub")...)
		stream = append(stream, frame(stomp.CmdSend, sendBody(s.general, content), stomp.HdrDestination, actors.DestMessageSend, stomp.HdrReceipt, "send")...)
		if fragments {
			c.writeFragments(stream, 1)
		} else {
			for i := range stream {
				c.write(stream[i : i+1])
			}
		}
		if f := c.next(); f.Command != stomp.CmdConnected {
			t.Fatalf("got %s %v, want CONNECTED", f.Command, f.Headers)
		}
		var gotSub, gotReceipt, gotMessage bool
		for !gotSub || !gotReceipt || !gotMessage {
			f := c.next()
			switch {
			case f.Command == stomp.CmdReceipt && f.Value(stomp.HdrReceiptID) == "sub":
				gotSub = true
			case f.Command == stomp.CmdReceipt && f.Value(stomp.HdrReceiptID) == "send":
				gotReceipt = true
			case f.Command == stomp.CmdMessage && messageContent(t, f) == content:
				gotMessage = true
			default:
				t.Fatalf("unexpected %s %v %q", f.Command, f.Headers, f.Body)
			}
		}
	}
}

// TestSubscribeThenSendPipelined: frames of one session take effect in order, so a
// SUBSCRIBE followed at once by a SEND to the same channel (as @stomp/stompjs apps do,
// without waiting for the RECEIPT) delivers the message to the new subscription, on a
// channel nobody on the node followed before.
func TestSubscribeThenSendPipelined(t *testing.T) {
	t.Parallel()
	n := startNode(t, fastSends)
	u := n.user("alice")
	s := n.workspace(u, "acme")
	for i := range 5 {
		cid := n.channel(u, s.id, fmt.Sprintf("fresh-%d", i), "public")
		c := n.raw(u)
		content := fmt.Sprintf("first words %d", i)
		c.write(append(
			frame(stomp.CmdSubscribe, nil, stomp.HdrID, "s", stomp.HdrDestination, destOf(cid), stomp.HdrReceipt, "sub"),
			frame(stomp.CmdSend, sendBody(cid, content), stomp.HdrDestination, actors.DestMessageSend, stomp.HdrReceipt, "send")...))
		var receipts int
		for got := false; !got || receipts < 2; {
			f := c.next()
			switch {
			case f.Command == stomp.CmdReceipt:
				receipts++
			case f.Command == stomp.CmdMessage && messageContent(t, f) == content:
				got = true
			default:
				t.Fatalf("channel %d: unexpected %s %v %q", i, f.Command, f.Headers, f.Body)
			}
		}
	}
}

// TestThreeFramesSplitAtEveryByte writes a stream of three SENDs (a message, typing, a
// message) as two WebSocket messages, split at each of its byte boundaries in turn: every
// split gives the same three RECEIPTs and the two messages, committed once each, in order.
func TestThreeFramesSplitAtEveryByte(t *testing.T) {
	t.Parallel()
	n := startNode(t, fastSends)
	u := n.user("alice")
	s := n.workspace(u, "acme")
	c := n.raw(u)
	c.write(frame(stomp.CmdSubscribe, nil, stomp.HdrID, "s", stomp.HdrDestination, destOf(s.general), stomp.HdrReceipt, "sub"))
	if f := c.next(); f.Command != stomp.CmdReceipt {
		t.Fatalf("got %s %v, want RECEIPT", f.Command, f.Headers)
	}
	stream := func(k int) []byte {
		var b []byte
		b = append(b, frame(stomp.CmdSend, sendBody(s.general, fmt.Sprintf("split %04d a: colon\\escaped", k)),
			stomp.HdrDestination, actors.DestMessageSend, stomp.HdrReceipt, fmt.Sprintf("a%04d", k))...)
		b = append(b, frame(stomp.CmdSend, []byte(fmt.Sprintf(`{"channelId":"%d"}`, s.general)),
			stomp.HdrDestination, actors.DestTyping, stomp.HdrReceipt, fmt.Sprintf("t%04d", k), "x-note", "a:b\\c")...)
		b = append(b, frame(stomp.CmdSend, sendBody(s.general, fmt.Sprintf("split %04d b", k)),
			stomp.HdrDestination, actors.DestMessageSend, stomp.HdrReceipt, fmt.Sprintf("b%04d", k))...)
		return b
	}
	size := len(stream(0))
	for k := 1; k < size; k++ {
		b := stream(k)
		if len(b) != size {
			t.Fatalf("stream %d is %d bytes, want %d", k, len(b), size)
		}
		c.write(b[:k])
		c.write(b[k:])
		want := map[string]bool{fmt.Sprintf("a%04d", k): true, fmt.Sprintf("t%04d", k): true, fmt.Sprintf("b%04d", k): true}
		var contents []string
		typing := false
		for len(want) > 0 || len(contents) < 2 || !typing {
			f := c.next()
			switch f.Command {
			case stomp.CmdReceipt:
				id := f.Value(stomp.HdrReceiptID)
				if !want[id] {
					t.Fatalf("split %d: unexpected RECEIPT %q", k, id)
				}
				delete(want, id)
			case stomp.CmdMessage:
				if bytes.Contains(f.Body, []byte(`"type":"typing"`)) {
					typing = true
				} else {
					contents = append(contents, messageContent(t, f))
				}
			default:
				t.Fatalf("split %d: %s %v %q", k, f.Command, f.Headers, f.Body)
			}
		}
		if len(contents) != 2 || contents[0] != fmt.Sprintf("split %04d a: colon\\escaped", k) || contents[1] != fmt.Sprintf("split %04d b", k) {
			t.Fatalf("split %d: messages %q", k, contents)
		}
	}
	if got := n.count(`SELECT count(*) FROM messages WHERE channel_id = $1`, s.general); got != int64(2*(size-1)) {
		t.Fatalf("%d messages stored, want %d", got, 2*(size-1))
	}
	t.Logf("%d split points of a %d-byte stream", size-1, size)
}

// TestOversizedHeaders: too many header lines, a header block over its byte limit (also
// when it trickles in over many WebSocket messages) and a frame over the frame limit each
// get ERROR payload_too_large and the close, and change nothing; a long header within the
// limits is fine, and other sessions never notice.
func TestOversizedHeaders(t *testing.T) {
	t.Parallel()
	n := startNode(t, nil)
	u := n.user("alice")
	s := n.workspace(u, "acme")
	watcher := n.dial(u)
	sub, err := watcher.Subscribe(destOf(s.general))
	if err != nil {
		t.Fatal(err)
	}
	send := func(extra ...string) []byte {
		kv := append([]string{stomp.HdrDestination, actors.DestMessageSend, stomp.HdrReceipt, "r"}, extra...)
		return frame(stomp.CmdSend, sendBody(s.general, "should never be stored"), kv...)
	}
	var manyHeaders []string
	for i := range stomp.DefaultMaxHeaders + 1 {
		manyHeaders = append(manyHeaders, "x-h"+strconv.Itoa(i), "v")
	}
	before := n.snapshot()
	cases := []struct {
		name    string
		payload []byte
		chunk   int // write in WebSocket messages of this size; 0: one message
	}{
		{"too many headers", send(manyHeaders...), 0},
		{"header block over 8 KiB", send("x-big", strings.Repeat("h", stomp.DefaultMaxHeaderBytes)), 0},
		{"header line with no end, trickled", append([]byte("SEND\nx-endless:"), bytes.Repeat([]byte("z"), 64<<10)...), 512},
		{"frame over 64 KiB", frame(stomp.CmdSend, bytes.Repeat([]byte("b"), stomp.DefaultMaxFrameBytes+1), stomp.HdrDestination, actors.DestMessageSend), 0},
	}
	for _, tc := range cases {
		c := n.raw(u)
		if tc.chunk == 0 {
			c.write(tc.payload)
		} else {
			for i := 0; i < len(tc.payload); i += tc.chunk {
				if err := c.tryWrite(tc.payload[i:min(i+tc.chunk, len(tc.payload))]); err != nil {
					break // the server has had enough and closed
				}
			}
		}
		c.expectError("payload_too_large")
		c.expectClosed(5 * time.Second)
	}
	n.unchanged(before, "oversized frames")

	// Within the limits a long header is fine.
	c := n.raw(u)
	c.write(frame(stomp.CmdSend, sendBody(s.general, "long header"), stomp.HdrDestination, actors.DestMessageSend,
		stomp.HdrReceipt, "ok", "x-long", strings.Repeat("l", 4<<10)))
	if f := c.next(); f.Command != stomp.CmdReceipt || f.Value(stomp.HdrReceiptID) != "ok" {
		t.Fatalf("got %s %v %q, want RECEIPT", f.Command, f.Headers, f.Body)
	}
	select {
	case f := <-sub.C:
		if got := messageContent(t, f); got != "long header" {
			t.Fatalf("watcher got %q first, want the long header message", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("watcher got nothing: %v", watcher.Err())
	}
	n.healthy()
}

// messageContent is the content of a MESSAGE carrying a new message.
func messageContent(t *testing.T, f *stomp.Frame) string {
	t.Helper()
	var m struct {
		Type    string `json:"type"`
		Message struct {
			Content string `json:"content"`
		} `json:"message"`
	}
	if err := json.Unmarshal(f.Body, &m); err != nil {
		t.Fatalf("MESSAGE body %q: %v", f.Body, err)
	}
	return m.Message.Content
}

// TestMalformedInputNeverStallsOthers: malformed STOMP and WebSocket input each get an
// ERROR (protocol_error, or payload_too_large) and, when the stream cannot be followed, the
// close; a watcher on the same node receives throughout, and nothing is written.
func TestMalformedInputNeverStallsOthers(t *testing.T) {
	t.Parallel()
	n := startNode(t, nil)
	u := n.user("alice")
	s := n.workspace(u, "acme")
	watcher := n.dial(u)
	sub, err := watcher.Subscribe(destOf(s.general))
	if err != nil {
		t.Fatal(err)
	}
	before := n.snapshot()
	dest := "destination:" + actors.DestMessageSend + "\n"
	body := string(sendBody(s.general, "never stored"))
	stompCases := map[string]string{
		"undefined header escape":     "SEND\n" + dest + "x:a\\tb\n\n" + body + "\x00",
		"content-length too short":    "SEND\n" + dest + "content-length:3\n\n" + body + "\x00",
		"content-length not a number": "SEND\n" + dest + "content-length:-1\n\n" + body + "\x00",
		"header without colon":        "SEND\n" + dest + "nocolon\n\n" + body + "\x00",
		"unknown command":             "BOGUS\nreceipt:1\n\n\x00",
		"binary garbage":              "\x00\xff\xfe\x01SEND\x00\n\n\x00\x00",
		"command line too long":       strings.Repeat("S", 10<<10) + "\n\n\x00",
	}
	for name, in := range stompCases {
		c := n.raw(u)
		c.write([]byte(in))
		f := c.next()
		if f.Command != stomp.CmdError || (f.Value("code") != "protocol_error" && f.Value("code") != "payload_too_large") {
			t.Fatalf("%s: got %s %v %q", name, f.Command, f.Headers, f.Body)
		}
		c.expectClosed(5 * time.Second)
	}
	// Well-formed frames that make no sense here keep the session open.
	c := n.raw(u)
	for _, in := range [][]byte{
		frame(stomp.CmdConnect, nil, stomp.HdrReceipt, "2"),
		frame(stomp.CmdBegin, nil, "transaction", "t", stomp.HdrReceipt, "3"),
		frame(stomp.CmdMessage, nil, stomp.HdrReceipt, "4"),
		frame(stomp.CmdSubscribe, nil, stomp.HdrReceipt, "5"),
		frame(stomp.CmdSend, []byte(body), stomp.HdrDestination, "/app/nowhere", stomp.HdrReceipt, "6"),
		frame(stomp.CmdSend, []byte(`{"channelId":`), stomp.HdrDestination, actors.DestMessageSend, stomp.HdrReceipt, "7"),
	} {
		c.write(in)
		if f := c.next(); f.Command != stomp.CmdError || f.Value(stomp.HdrReceiptID) == "" {
			t.Fatalf("%q: got %s %v %q", in, f.Command, f.Headers, f.Body)
		}
	}
	// WebSocket-level violations: an unmasked frame, a reserved opcode, a continuation
	// with nothing to continue, a control frame over 125 bytes.
	for name, raw := range map[string][]byte{
		"unmasked":          {0x81, 0x03, 'a', 'b', 'c'},
		"reserved opcode":   {0x83, 0x80, 0, 0, 0, 0},
		"lone continuation": {0x80, 0x80, 0, 0, 0, 0},
		"long ping":         {0x89, 0xfe, 0x00, 0xc8, 0, 0, 0, 0},
	} {
		c := n.raw(u)
		if _, err := c.conn.Write(raw); err != nil {
			t.Fatal(err)
		}
		f := c.next()
		if f.Command != stomp.CmdError || f.Value("code") != "protocol_error" {
			t.Fatalf("%s: got %s %v %q", name, f.Command, f.Headers, f.Body)
		}
		c.expectClosed(5 * time.Second)
	}
	n.unchanged(before, "malformed input")
	n.post(u, s.general, "still flowing")
	if got := messageContent(t, nextOn(t, sub)); got != "still flowing" {
		t.Fatalf("watcher got %q", got)
	}
	n.healthy()
}
