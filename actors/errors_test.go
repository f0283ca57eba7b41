package actors

import (
	"errors"
	"strings"
	"testing"

	"github.com/parley-chat/parley/errcode"
	"github.com/parley-chat/parley/transport/stomp"
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
