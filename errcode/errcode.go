// Package errcode holds parley's stable client-facing error codes (the `code` of a
// problem+json body and of a STOMP ERROR frame), their HTTP statuses, and the sentinels
// that carry them. It imports nothing of parley, so the store, the actors and the
// transport all name codes through it without pointing back up.
//
// A sentinel names its own code (as centrifuge's Error and nats-server's ApiError do):
// persistence.ErrNotFound is an *Error with code NotFound, so no table has to import the
// packages that declare errors. The codes' strings are part of the contract: never change one.
package errcode

import (
	"context"
	"net/http"
)

// Codes of the REST API and the real-time layer.
const (
	Unauthorized     = "unauthorized"
	Forbidden        = "forbidden"
	NotFound         = "not_found"
	Validation       = "validation_failed"
	Conflict         = "conflict"
	Archived         = "archived"
	Gone             = "gone"
	TooManyReactions = "too_many_reactions"
	RateLimited      = "rate_limited"
	PayloadTooLarge  = "payload_too_large"
	MethodNotAllowed = "method_not_allowed"
	RequestTimeout   = "request_timeout"
	Unavailable      = "unavailable"
	OutcomeUnknown   = "outcome_unknown"
	Internal         = "internal"
)

// Codes of STOMP ERROR frames only (no REST status).
const (
	SlowConsumer         = "slow-consumer"
	TooManySubscriptions = "too_many_subscriptions"
	UnknownDestination   = "unknown_destination"
	Protocol             = "protocol_error"
	ShuttingDown         = "shutting_down"
	// TokenRevoked ends a session whose API token was revoked (ADR 0035).
	TokenRevoked = "token_revoked"
)

// Codes of slash commands (ADR 0038), REST and STOMP alike.
const (
	// UnknownCommand: the message starts with a /word that is not a command of the workspace.
	UnknownCommand = "unknown_command"
	// CommandFailed: the command's receiver failed, timed out or answered nonsense.
	CommandFailed = "command_failed"
)

// Sentinels of the transport layer that the core raises too.
var (
	// ErrUnauthorized: no usable credentials (401 with WWW-Authenticate).
	ErrUnauthorized = New(Unauthorized, "authentication required")
	// ErrRateLimited: too many requests or frames.
	ErrRateLimited = New(RateLimited, "rate limited")
	// ErrTooLarge: a body or frame over its limit.
	ErrTooLarge = New(PayloadTooLarge, "payload too large")
	// ErrUnavailable: the server is draining or a dependency is down.
	ErrUnavailable = New(Unavailable, "service unavailable")
	// ErrMethodNotAllowed: the path exists, the method does not.
	ErrMethodNotAllowed = New(MethodNotAllowed, "method not allowed")
	// ErrRequestTimeout: the request's body did not arrive within the server's body timeout.
	ErrRequestTimeout = New(RequestTimeout, "request body timeout")
)

// table is the one list of REST codes with their status and title. Its order is the
// precedence when an error wraps several coded errors: the first listed wins. OutcomeUnknown
// comes first because a commit in doubt also looks like a broken connection, and
// "unavailable" would promise that nothing was stored.
var table = []struct {
	code   string
	status int
	title  string
}{
	{OutcomeUnknown, http.StatusServiceUnavailable, "Outcome unknown: retry with the same clientMsgId"},
	{Unauthorized, http.StatusUnauthorized, "Unauthorized"},
	{Validation, http.StatusBadRequest, "Validation failed"},
	{Forbidden, http.StatusForbidden, "Forbidden"},
	{NotFound, http.StatusNotFound, "Not found"},
	{Archived, http.StatusConflict, "Channel is archived"},
	{TooManyReactions, http.StatusConflict, "Too many distinct reactions"},
	{Conflict, http.StatusConflict, "Conflict"},
	{Gone, http.StatusGone, "Gone"},
	{UnknownCommand, http.StatusBadRequest, "Unknown slash command"},
	{CommandFailed, http.StatusBadGateway, "Slash command failed: its receiver did not answer in time, answered with an error, or answered something that is not a response"},
	{MethodNotAllowed, http.StatusMethodNotAllowed, "Method not allowed"},
	{RateLimited, http.StatusTooManyRequests, "Too many requests"},
	{PayloadTooLarge, http.StatusRequestEntityTooLarge, "Payload too large"},
	{RequestTimeout, http.StatusRequestTimeout, "Request timeout"},
	{Unavailable, http.StatusServiceUnavailable, "Service unavailable"},
	{Internal, http.StatusInternalServerError, "Internal server error"},
}

// Status is the HTTP status and title of code; an unknown code is 500 internal.
func Status(code string) (status int, title string) {
	if i := rank(code); i >= 0 {
		return table[i].status, table[i].title
	}
	return http.StatusInternalServerError, "Internal server error"
}

func rank(code string) int {
	for i, e := range table {
		if e.code == code {
			return i
		}
	}
	return -1
}

// Of is the code of err: the highest-ranked code among the errors it wraps, Unavailable for
// a context.DeadlineExceeded, and "" when it holds neither (the caller decides: usually
// Internal).
func Of(err error) string {
	best, code := len(table), ""
	walk(err, func(e error) bool {
		c, ok := e.(interface{ ErrorCode() string })
		if !ok {
			return false
		}
		if r := rank(c.ErrorCode()); r >= 0 && r < best {
			best, code = r, c.ErrorCode()
		}
		return false
	})
	if code == "" && err != nil && isDeadline(err) {
		return Unavailable
	}
	return code
}

func isDeadline(err error) bool {
	found := false
	walk(err, func(e error) bool {
		found = e == context.DeadlineExceeded
		return found
	})
	return found
}

// Detail is the message a client may see for err, whose code is code: the error text for
// the 4xx codes (written for clients) unless an error in the chain offers a PublicDetail,
// and the fixed title for 5xx codes (whose text may hold SQL or addresses).
func Detail(err error, code string) string {
	if status, title := Status(code); status >= 500 {
		return title
	}
	detail := ""
	walk(err, func(e error) bool {
		if p, ok := e.(interface{ PublicDetail() string }); ok && p.PublicDetail() != "" {
			detail = p.PublicDetail()
			return true
		}
		return false
	})
	if detail != "" {
		return detail
	}
	return err.Error()
}

// walk visits err and everything it wraps, outermost first, until visit returns true.
func walk(err error, visit func(error) bool) bool {
	if err == nil {
		return false
	}
	if visit(err) {
		return true
	}
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		return walk(u.Unwrap(), visit)
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			if walk(e, visit) {
				return true
			}
		}
	}
	return false
}
