package api

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/parley-chat/parley/errcode"
	"github.com/parley-chat/parley/persistence"
	"github.com/parley-chat/parley/transport/auth"
)

// CodeOf maps err to an HTTP status and a stable code (package errcode holds the table);
// anything unknown is 500 internal.
func CodeOf(err error) (status int, code string) {
	status, code, _ = lookup(err)
	return status, code
}

func lookup(err error) (int, string, string) {
	code := errcode.Of(err)
	if code == "" {
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &mbe):
			code = errcode.PayloadTooLarge
		case persistence.Unavailable(err): // PostgreSQL unreachable: retry later, the request was fine
			code = errcode.Unavailable
		default:
			code = errcode.Internal
		}
	}
	status, title := errcode.Status(code)
	return status, code, title
}

// Detail is the message a client may see for err: the error text for the 4xx codes
// (written for clients), a fixed text for internal errors (whose text may hold SQL or
// addresses).
func Detail(err error) string {
	_, code := CodeOf(err)
	return errcode.Detail(err, code)
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
