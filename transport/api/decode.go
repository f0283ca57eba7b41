package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/parley-chat/parley/errcode"
	"github.com/parley-chat/parley/persistence"
)

// decodeBody reads exactly one JSON value into v, refusing unknown fields. The body size
// is already bounded by the route wrapper (http.MaxBytesReader).
func decodeBody(r *http.Request, v any) error { return decodeJSON(r, v, true) }

// decodeJSON is decodeBody; strict refuses unknown fields (the incoming webhooks' bodies
// are not strict, for Slack's payloads).
func decodeJSON(r *http.Request, v any, strict bool) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(strings.ToLower(ct), "application/json") {
		return &persistence.ValidationError{Reason: "Content-Type must be application/json"}
	}
	dec := json.NewDecoder(r.Body)
	if strict {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		return bodyError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if errors.Is(err, errcode.ErrRequestTimeout) {
			return err
		}
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return fmt.Errorf("%w: %w", errcode.ErrTooLarge, err)
		}
		return &persistence.ValidationError{Reason: "body must hold exactly one JSON value"}
	}
	return nil
}

func bodyError(err error) error {
	var mbe *http.MaxBytesError
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.Is(err, errcode.ErrRequestTimeout): // the server's body deadline (transport)
		return err
	case errors.As(err, &mbe):
		return fmt.Errorf("%w: body larger than %d bytes", errcode.ErrTooLarge, mbe.Limit)
	case errors.Is(err, io.EOF):
		return &persistence.ValidationError{Reason: "body is empty, a JSON object is required"}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &persistence.ValidationError{Reason: "body is truncated JSON"}
	case errors.As(err, &syn):
		return &persistence.ValidationError{Reason: fmt.Sprintf("malformed JSON at byte %d", syn.Offset)}
	case errors.As(err, &typ):
		return &persistence.ValidationError{Field: typ.Field, Reason: "wrong type, expected " + typ.Type.String()}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return &persistence.ValidationError{Field: strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`), Reason: "unknown field"}
	default:
		// ,string decoding of ids and custom unmarshalers report plain errors.
		return &persistence.ValidationError{Reason: "invalid JSON: " + err.Error()}
	}
}

// ID is an id in a JSON body: a decimal string (JSON numbers cannot hold 64 bits).
type ID int64

// UnmarshalJSON accepts only a string of decimal digits naming a positive id.
func (id *ID) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errors.New("id must be a decimal string")
	}
	v, err := parseID(s)
	if err != nil {
		return err
	}
	*id = ID(v)
	return nil
}

// MarshalJSON renders the id as a decimal string.
func (id ID) MarshalJSON() ([]byte, error) {
	return []byte(`"` + strconv.FormatInt(int64(id), 10) + `"`), nil
}

func parseID(s string) (int64, error) {
	if s == "" || len(s) > 19 || strings.TrimLeft(s, "0123456789") != "" {
		return 0, errors.New("id must be a decimal string")
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v <= 0 {
		return 0, errors.New("id must be a positive 64-bit decimal")
	}
	return v, nil
}

// pathID parses the path parameter name as an id.
func pathID(r *http.Request, name string) (int64, error) {
	v, err := parseID(r.PathValue(name))
	if err != nil {
		return 0, &persistence.ValidationError{Field: name, Reason: err.Error()}
	}
	return v, nil
}

// queryInt parses an optional non-negative integer query parameter (def when absent).
func queryInt(r *http.Request, name string, def int64) (int64, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < 0 {
		return 0, &persistence.ValidationError{Field: name, Reason: "must be a non-negative integer"}
	}
	return v, nil
}

// queryLimit parses limit: def when absent, 1..max otherwise.
func queryLimit(r *http.Request, def, max int) (int, error) {
	v, err := queryInt(r, "limit", int64(def))
	if err != nil {
		return 0, err
	}
	if v < 1 || v > int64(max) {
		return 0, &persistence.ValidationError{Field: "limit", Reason: fmt.Sprintf("must be between 1 and %d", max)}
	}
	return int(v), nil
}

// Page is a page of a list: Next is the cursor of the following page (pass it as `after`,
// or as the route's cursor parameter), null on the last page.
type Page[T any] struct {
	Items []T     `json:"items"`
	Next  *string `json:"next"`
}

// pageOf cuts items (fetched with limit+1) to limit and sets Next from the last item kept.
func pageOf[T any](items []T, limit int, cursor func(T) string) Page[T] {
	p := Page[T]{Items: items}
	if p.Items == nil {
		p.Items = []T{}
	}
	if len(items) > limit {
		p.Items = items[:limit]
		c := cursor(p.Items[limit-1])
		p.Next = &c
	}
	return p
}

func idString(id int64) string { return strconv.FormatInt(id, 10) }

// idCursor parses the `after` cursor of an id-ordered list (absent: from the start) and
// the page size.
func idCursor(r *http.Request) (after int64, limit int, err error) {
	if s := r.URL.Query().Get("after"); s != "" {
		if after, err = parseID(s); err != nil {
			return 0, 0, &persistence.ValidationError{Field: "after", Reason: "not a cursor of this list"}
		}
	}
	limit, err = queryLimit(r, defaultPage, maxPage)
	return after, limit, err
}
