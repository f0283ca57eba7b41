package actors

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/parley-chat/parley/errcode"
	"github.com/parley-chat/parley/persistence"
	"github.com/parley-chat/parley/stomp"
)

// Errors of the real-time layer. Each maps to a stable code (the ERROR frame's code header)
// through errorCode, which falls back on errcode.Of, the one table REST uses too.
var (
	// ErrShuttingDown: the node is draining; connect to another one. Its text is the
	// ERROR's message, so it says what the client is to do (SPEC guarantee 5); it is an
	// errcode.ErrUnavailable for REST.
	ErrShuttingDown error = &shuttingDown{}
	// ErrSlowConsumer: the session's outbound queue filled up.
	ErrSlowConsumer = errors.New("slow consumer")
	// ErrTooManySubscriptions: the session has Config.MaxSubscriptions already.
	ErrTooManySubscriptions = errors.New("too many subscriptions")
	// ErrUnknownDestination: no such SEND or SUBSCRIBE destination.
	ErrUnknownDestination = errors.New("unknown destination")
	// ErrProtocol: a frame that is well-formed but wrong here (a second CONNECT, a missing
	// header, a transaction).
	ErrProtocol = errors.New("protocol error")

	errSessionClosed = errors.New("session closed")
)

// replayBudgetError: a replay spent its user's Config.ReplayBudget. Its text tells the
// client how to fetch the rest; it is an errcode.ErrRateLimited (code rate_limited).
type replayBudgetError struct {
	budget          int
	channelID, last int64
}

func (e *replayBudgetError) Error() string {
	return fmt.Sprintf("rate limited: replays are limited to %d messages a minute per user; "+
		"page the rest with GET /api/channels/%d/messages?after_seq=%d, then SUBSCRIBE with since-seq",
		e.budget, e.channelID, e.last)
}

func (*replayBudgetError) Unwrap() error { return errcode.ErrRateLimited }

type shuttingDown struct{}

func (*shuttingDown) Error() string {
	return "server shutting down: reconnect (to another node) and resubscribe with since-seq"
}

func (*shuttingDown) Unwrap() error { return errcode.ErrUnavailable }

const (
	hdrCode             = "code"
	hdrSeq              = "seq"
	hdrReconnect        = "reconnect"
	maxErrorDetailBytes = 512
)

// CodedError is an error that names its own ERROR code: a limit enforced outside this
// package (the transport's token expiry and connection cap). Its text is shown to the client.
type CodedError struct{ Code, Text string }

func (e *CodedError) Error() string { return e.Text }

// errorCode is the stable code of err.
func errorCode(err error) string {
	if ce, ok := errors.AsType[*CodedError](err); ok {
		return ce.Code
	}
	switch {
	case errors.Is(err, ErrShuttingDown):
		return errcode.ShuttingDown
	case errors.Is(err, ErrSlowConsumer):
		return errcode.SlowConsumer
	case errors.Is(err, ErrTooManySubscriptions):
		return errcode.TooManySubscriptions
	case errors.Is(err, ErrUnknownDestination):
		return errcode.UnknownDestination
	case errors.Is(err, ErrProtocol):
		return errcode.Protocol
	}
	if code := errcode.Of(err); code != "" {
		return code
	}
	if persistence.Unavailable(err) { // PostgreSQL unreachable, as REST says it
		return errcode.Unavailable
	}
	return errcode.Internal
}

// errorDetail is what a client may read about err: internal errors are not spelled out.
func errorDetail(err error) string {
	switch {
	case errors.Is(err, ErrShuttingDown), errors.Is(err, ErrSlowConsumer),
		errors.Is(err, ErrTooManySubscriptions), errors.Is(err, ErrUnknownDestination),
		errors.Is(err, ErrProtocol), errors.Is(err, ErrCommandFailed):
		return err.Error()
	}
	if _, ok := errors.AsType[*CodedError](err); ok {
		return err.Error()
	}
	return errcode.Detail(err, errorCode(err))
}

// ErrorFrame encodes an ERROR for err: the code header, a human message header, and the
// detail as the body; receiptID and destination are added when not empty.
func ErrorFrame(err error, receiptID, destination string) []byte {
	detail := errorDetail(err)
	if len(detail) > maxErrorDetailBytes {
		detail = detail[:maxErrorDetailBytes]
	}
	detail = strings.ToValidUTF8(detail, "?") // a text WebSocket message must be UTF-8
	hs := make([]stomp.Header, 0, 4)
	hs = append(hs, stomp.Header{Key: hdrCode, Value: errorCode(err)})
	if errors.Is(err, ErrShuttingDown) {
		// Machine-readable twin of the message: this node is going, another one serves.
		hs = append(hs, stomp.Header{Key: hdrReconnect, Value: "true"})
	}
	if receiptID != "" {
		hs = append(hs, stomp.Header{Key: stomp.HdrReceiptID, Value: sanitize(receiptID)})
	}
	if destination != "" {
		hs = append(hs, stomp.Header{Key: stomp.HdrDestination, Value: sanitize(destination)})
	}
	return stomp.AppendFrame(nil, stomp.ErrorFrame(firstLine(detail), []byte(detail), hs...))
}

func sanitize(s string) string {
	if len(s) > 256 {
		s = s[:256]
	}
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "?")
}

func firstLine(s string) string {
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		return s[:i]
	}
	return s
}
