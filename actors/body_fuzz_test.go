package actors

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"unicode/utf8"

	"github.com/parley-chat/parley/persistence"
	"github.com/parley-chat/parley/stomp"
)

// FuzzSendBodies feeds arbitrary bytes to the decoding and validation of every SEND
// destination's JSON body, as the connection actor runs them before anything reaches a
// channel or the database. Decoding must never panic; a refused body must be a validation
// failure whose ERROR frame is one well-formed STOMP frame of UTF-8 text; an accepted body
// must be one JSON value naming a positive channel. The committed corpus is in
// testdata/fuzz/FuzzSendBodies.
func FuzzSendBodies(f *testing.F) {
	f.Add([]byte(`{"channelId":"12","content":"hi","parentId":"3","clientMsgId":"c-1"}`))
	f.Add([]byte(`{"channelId":12,"seq":4}`))
	f.Add([]byte(`{"channelId":"-1","sinceSeq":-5}`))
	f.Add([]byte(`{"channelId":null}`))

	f.Fuzz(func(t *testing.T, body []byte) {
		check := func(dest string, err error, channelID flexID) {
			t.Helper()
			if err == nil {
				if channelID <= 0 {
					t.Fatalf("%s: accepted %q without a positive channelId", dest, body)
				}
				if !json.Valid(body) {
					t.Fatalf("%s: accepted %q, which is not one JSON value", dest, body)
				}
				return
			}
			if !errors.Is(err, persistence.ErrInvalid) || errorCode(err) != "validation_failed" {
				t.Fatalf("%s: body %q refused with %v (code %s), want a validation failure", dest, body, err, errorCode(err))
			}
			raw := ErrorFrame(err, "r-1", dest)
			if !utf8.Valid(raw) {
				t.Fatalf("%s: ERROR frame is not UTF-8: %q", dest, raw)
			}
			fs, _, perr := stomp.Parse(raw, stomp.Limits{})
			if perr != nil || len(fs) != 1 || fs[0].Command != stomp.CmdError ||
				fs[0].Value(hdrCode) != "validation_failed" || fs[0].Value(stomp.HdrReceiptID) != "r-1" {
				t.Fatalf("%s: ERROR frame %q does not parse back: %v %v", dest, raw, fs, perr)
			}
			if bytes.ContainsAny([]byte(fs[0].Value(stomp.HdrMessage)), "\r\n") {
				t.Fatalf("%s: message header spans lines: %q", dest, fs[0].Value(stomp.HdrMessage))
			}
		}

		var s sendBody
		err := decodeBody(body, &s, func() flexID { return s.ChannelID })
		if err == nil {
			err = persistence.ValidateContent(s.Content)
		}
		if err == nil {
			err = persistence.ValidateClientMsgID(s.ClientMsgID)
		}
		check(DestMessageSend, err, s.ChannelID)
		if err == nil && (s.ParentID < 0 || !utf8.ValidString(s.Content)) {
			t.Fatalf("accepted %q as %+v", body, s)
		}

		var r readBody
		err = decodeBody(body, &r, func() flexID { return r.ChannelID })
		if err == nil && (r.Seq == nil || *r.Seq < 0) {
			err = &persistence.ValidationError{Field: "seq", Reason: "must be a non-negative integer"}
		}
		check(DestMessageRead, err, r.ChannelID)

		var rs resendBody
		err = decodeBody(body, &rs, func() flexID { return rs.ChannelID })
		if err == nil && rs.SinceSeq < 0 {
			err = &persistence.ValidationError{Field: "sinceSeq", Reason: "must be a non-negative integer"}
		}
		check(DestMessageResend, err, rs.ChannelID)

		var ty typingBody
		err = decodeBody(body, &ty, func() flexID { return ty.ChannelID })
		check(DestTyping, err, ty.ChannelID)
	})
}
