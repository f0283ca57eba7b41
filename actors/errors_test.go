package actors

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/parley-chat/parley/errcode"
	"github.com/parley-chat/parley/persistence"
	"github.com/parley-chat/parley/stomp"
)

// The drain's ERROR tells the client what to do (SPEC guarantee 5): its code stays
// shutting_down, its message says reconnect with since-seq, and reconnect:true says it to
// machines. REST still sees a 503.
func TestShuttingDownErrorSaysReconnect(t *testing.T) {
	t.Parallel()
	fs, _, err := stomp.Parse(ErrorFrame(ErrShuttingDown, "", ""), stomp.Limits{})
	if err != nil || len(fs) != 1 || fs[0].Command != stomp.CmdError {
		t.Fatalf("parse: %v %v", fs, err)
	}
	f := fs[0]
	if f.Value(hdrCode) != "shutting_down" || f.Value(hdrReconnect) != "true" {
		t.Fatalf("headers code=%q reconnect=%q", f.Value(hdrCode), f.Value(hdrReconnect))
	}
	if msg := f.Value(stomp.HdrMessage); !strings.Contains(msg, "reconnect") || !strings.Contains(msg, "since-seq") {
		t.Fatalf("message %q does not say to reconnect with since-seq", msg)
	}
	if !errors.Is(ErrShuttingDown, errcode.ErrUnavailable) {
		t.Fatal("ErrShuttingDown is not errcode.ErrUnavailable")
	}
	other, _, _ := stomp.Parse(ErrorFrame(ErrSlowConsumer, "", ""), stomp.Limits{})
	if other[0].Value(hdrReconnect) != "" {
		t.Fatal("reconnect header on an ERROR that is not the drain's")
	}
}

// The store's errors reach a STOMP client with the codes REST gives them (errcode's table),
// without actors knowing the REST handlers.
func TestErrorFrameCodesOfTheStore(t *testing.T) {
	for _, tc := range []struct {
		err          error
		code, detail string
	}{
		{fmt.Errorf("post to 7: %w", persistence.ErrForbidden), errcode.Forbidden, "post to 7: forbidden"},
		{&persistence.ValidationError{Field: "content", Reason: "blank"}, errcode.Validation, "content: blank"},
		{fmt.Errorf("append: %w", persistence.ErrInDoubt), errcode.OutcomeUnknown, "Outcome unknown: retry with the same clientMsgId"},
		{fmt.Errorf("%w: at most 5 SEND frames per second", errcode.ErrRateLimited), errcode.RateLimited, "rate limited: at most 5 SEND frames per second"},
		{errors.New("pq: secret things"), errcode.Internal, "Internal server error"},
	} {
		fs, _, err := stomp.Parse(ErrorFrame(tc.err, "", ""), stomp.Limits{})
		if err != nil || len(fs) != 1 {
			t.Fatalf("%v: parse: %v", tc.err, err)
		}
		if got := fs[0].Value(hdrCode); got != tc.code {
			t.Errorf("%v: code %q, want %q", tc.err, got, tc.code)
		}
		if got := string(fs[0].Body); got != tc.detail {
			t.Errorf("%v: detail %q, want %q", tc.err, got, tc.detail)
		}
	}
}
