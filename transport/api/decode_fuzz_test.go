package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
)

// fuzzBodyLimit is small so that the fuzzer reaches the body size limit too.
const fuzzBodyLimit = 256

// FuzzDecodeBody feeds arbitrary bytes to the request-body decoder as the body of every
// route that takes one. It checks that decoding never panics, that every failure is a
// client error (400 or, past the size limit, 413, never 500) with a detail to show, and
// that an accepted body is exactly one JSON value whose decoded form survives a round trip
// through the encoder. The committed corpus is in testdata/fuzz/FuzzDecodeBody.
func FuzzDecodeBody(f *testing.F) {
	f.Add([]byte(`{"content":"hi","parentId":"12","clientMsgId":"c-1"}`), "application/json")
	f.Add([]byte(`{"name":"acme"} {"name":"again"}`), "")
	f.Add([]byte(`{"userId":12}`), "application/json; charset=utf-8")
	f.Add([]byte(`{"seq":-1,"seq":1e400}`), "text/plain")

	var types []reflect.Type
	seen := map[reflect.Type]bool{}
	for _, r := range Routes() {
		if r.Request == nil || r.External {
			continue
		}
		t := reflect.TypeOf(r.Request)
		if !seen[t] {
			seen[t] = true
			types = append(types, t)
		}
	}
	if len(types) < 8 {
		f.Fatalf("only %d request body types in the route table", len(types))
	}

	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		for _, typ := range types {
			v := reflect.New(typ).Interface()
			err := decodeBody(request(body, contentType, fuzzBodyLimit), v)
			if err != nil {
				status, code := CodeOf(err)
				tooLarge := status == http.StatusRequestEntityTooLarge && len(body) > fuzzBodyLimit
				if status != http.StatusBadRequest && !tooLarge {
					t.Fatalf("%v: body %q answered %d %s (%v), want 400", typ, body, status, code, err)
				}
				if Detail(err) == "" {
					t.Fatalf("%v: error %v has no detail", typ, err)
				}
				continue
			}
			if !json.Valid(bytes.TrimSpace(body)) {
				t.Fatalf("%v: accepted %q, which is not one JSON value", typ, body)
			}
			enc, err := json.Marshal(v)
			if err != nil {
				t.Fatalf("%v: re-encoding %+v: %v", typ, v, err)
			}
			again := reflect.New(typ).Interface()
			if err := decodeBody(request(enc, "application/json", 1<<20), again); err != nil {
				t.Fatalf("%v: re-decoding %s: %v", typ, enc, err)
			}
			if !reflect.DeepEqual(v, again) {
				t.Fatalf("%v: round trip of %q:\n%+v\n%+v", typ, body, v, again)
			}
		}
	})
}

func request(body []byte, contentType string, limit int64) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/api/x", bytes.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	r.Body = http.MaxBytesReader(httptest.NewRecorder(), r.Body, limit)
	return r
}
