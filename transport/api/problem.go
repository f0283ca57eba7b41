package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/parley-chat/parley/persistence"
	"github.com/parley-chat/parley/transport/auth"
)

// Stable error codes (the `code` of a problem+json body and of a STOMP ERROR frame).
const (
	CodeUnauthorized     = "unauthorized"
	CodeForbidden        = "forbidden"
	CodeNotFound         = "not_found"
	CodeValidation       = "validation_failed"
	CodeConflict         = "conflict"
	CodeArchived         = "archived"
	CodeGone             = "gone"
	CodeTooManyReactions = "too_many_reactions"
	CodeRateLimited      = "rate_limited"
	CodePayloadTooLarge  = "payload_too_large"
	CodeMethodNotAllowed = "method_not_allowed"
	CodeRequestTimeout   = "request_timeout"
	CodeUnavailable      = "unavailable"
	CodeOutcomeUnknown   = "outcome_unknown"
	CodeInternal         = "internal"
)

// Sentinels of the transport layer, mapped by CodeOf like the store's.
var (
	// ErrUnauthorized: no usable credentials (401 with WWW-Authenticate).
	ErrUnauthorized = errors.New("authentication required")
	// ErrRateLimited: too many requests or frames.
	ErrRateLimited = errors.New("rate limited")
	// ErrTooLarge: a body or frame over its limit.
	ErrTooLarge = errors.New("payload too large")
	// ErrUnavailable: the server is draining or a dependency is down.
	ErrUnavailable = errors.New("service unavailable")
	// ErrMethodNotAllowed: the path exists, the method does not.
	ErrMethodNotAllowed = errors.New("method not allowed")
	// ErrRequestTimeout: the request's body did not arrive within the server's body timeout.
	ErrRequestTimeout = errors.New("request body timeout")
)

// codeTable is the one mapping from error to status and code; the first match wins, so
// more specific sentinels come first.
var codeTable = []struct {
	err    error
	status int
	code   string
	title  string
}{
	// Before everything a broken connection also matches: "unavailable" promises that
	// nothing was stored, which is exactly what is not known here.
	{persistence.ErrInDoubt, http.StatusServiceUnavailable, CodeOutcomeUnknown, "Outcome unknown: retry with the same clientMsgId"},
	{auth.ErrInvalidToken, http.StatusUnauthorized, CodeUnauthorized, "Unauthorized"},
	{ErrUnauthorized, http.StatusUnauthorized, CodeUnauthorized, "Unauthorized"},
	{persistence.ErrInvalid, http.StatusBadRequest, CodeValidation, "Validation failed"},
	{persistence.ErrBadParent, http.StatusBadRequest, CodeValidation, "Validation failed"},
	{auth.ErrBadUsername, http.StatusBadRequest, CodeValidation, "Validation failed"},
	{persistence.ErrForbidden, http.StatusForbidden, CodeForbidden, "Forbidden"},
	{persistence.ErrNotFound, http.StatusNotFound, CodeNotFound, "Not found"},
	{persistence.ErrArchived, http.StatusConflict, CodeArchived, "Channel is archived"},
	{persistence.ErrTooManyReactions, http.StatusConflict, CodeTooManyReactions, "Too many distinct reactions"},
	{persistence.ErrConflict, http.StatusConflict, CodeConflict, "Conflict"},
	{persistence.ErrGone, http.StatusGone, CodeGone, "Gone"},
	{ErrMethodNotAllowed, http.StatusMethodNotAllowed, CodeMethodNotAllowed, "Method not allowed"},
	{ErrRateLimited, http.StatusTooManyRequests, CodeRateLimited, "Too many requests"},
	{ErrTooLarge, http.StatusRequestEntityTooLarge, CodePayloadTooLarge, "Payload too large"},
	{ErrRequestTimeout, http.StatusRequestTimeout, CodeRequestTimeout, "Request timeout"},
	{ErrUnavailable, http.StatusServiceUnavailable, CodeUnavailable, "Service unavailable"},
	{context.DeadlineExceeded, http.StatusServiceUnavailable, CodeUnavailable, "Service unavailable"},
}

// CodeOf maps err to an HTTP status and a stable code; anything unknown is 500 internal.
func CodeOf(err error) (status int, code string) {
	status, code, _ = lookup(err)
	return status, code
}

func lookup(err error) (int, string, string) {
	for _, e := range codeTable {
		if errors.Is(err, e.err) {
			return e.status, e.code, e.title
		}
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return http.StatusRequestEntityTooLarge, CodePayloadTooLarge, "Payload too large"
	}
	if persistence.Unavailable(err) { // PostgreSQL unreachable: retry later, the request was fine
		return http.StatusServiceUnavailable, CodeUnavailable, "Service unavailable"
	}
	return http.StatusInternalServerError, CodeInternal, "Internal server error"
}

// Detail is the message a client may see for err: the error text for the 4xx codes
// (written for clients), a fixed text for internal errors (whose text may hold SQL or
// addresses).
func Detail(err error) string {
	status, _, title := lookup(err)
	if status >= 500 {
		return title
	}
	var ve *persistence.ValidationError
	if errors.As(err, &ve) {
		return ve.Error()
	}
	if errors.Is(err, auth.ErrTokenExpired) {
		return "token expired"
	}
	if errors.Is(err, auth.ErrInvalidToken) {
		return "invalid token"
	}
	return err.Error()
}

// Problem is an RFC 9457 problem+json body with parley's stable code.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	Code   string `json:"code"`
	// Field names the offending input of a validation failure.
	Field string `json:"field,omitempty"`
}

// ProblemOf builds the problem body for err.
func ProblemOf(err error) Problem {
	status, code, title := lookup(err)
	p := Problem{Type: "https://parley.chat/problems/" + code, Title: title, Status: status, Detail: Detail(err), Code: code}
	var ve *persistence.ValidationError
	if errors.As(err, &ve) {
		p.Field = ve.Field
	}
	return p
}

// WriteProblem writes err as application/problem+json. A 401 carries WWW-Authenticate.
func WriteProblem(w http.ResponseWriter, r *http.Request, err error) {
	p := ProblemOf(err)
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	if p.Status == http.StatusUnauthorized {
		if errors.Is(err, auth.ErrInvalidToken) {
			h.Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		} else {
			h.Set("WWW-Authenticate", "Bearer")
		}
	}
	if (p.Status == http.StatusTooManyRequests || p.Status == http.StatusServiceUnavailable) && h.Get("Retry-After") == "" {
		h.Set("Retry-After", "1")
	}
	w.WriteHeader(p.Status)
	if r != nil && r.Method == http.MethodHead {
		return
	}
	_ = json.NewEncoder(w).Encode(p)
}
