package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// Issue 21: the document and the handlers must agree on what a request may be. A body the
// document's schema accepts must not be refused as invalid, and one it refuses must be 400.
// Found wrong: `PUT /api/channels/{cid}/read {}` (SPEC: {seq}, required; the document had it
// optional) and a channel `type` with no enum.
func TestOpenAPIRequestSchemasAgreeWithHandlers(t *testing.T) {
	t.Parallel()
	doc, err := spec()
	if err != nil {
		t.Fatal(err)
	}
	requestSchema := func(method, path string) *openapi3.Schema {
		op := doc.Paths.Find(path).GetOperation(method)
		return op.RequestBody.Value.Content.Get("application/json").Schema.Value
	}
	tm := newTeam(t, harnessOpts{})
	cases := []struct {
		method, path, pattern string
		body                  string
		status                int
	}{
		{"PUT", fmt.Sprintf("/api/channels/%d/read", tm.gen), "/api/channels/{cid}/read", `{}`, http.StatusBadRequest},
		{"PUT", fmt.Sprintf("/api/channels/%d/read", tm.gen), "/api/channels/{cid}/read", `{"seq":0}`, http.StatusOK},
		{"POST", fmt.Sprintf("/api/workspaces/%d/channels", tm.ws), "/api/workspaces/{wid}/channels", `{"name":"secret","type":"secret"}`, http.StatusBadRequest},
		{"POST", fmt.Sprintf("/api/workspaces/%d/channels", tm.ws), "/api/workspaces/{wid}/channels", `{"name":"dm","type":"dm"}`, http.StatusBadRequest},
		{"POST", fmt.Sprintf("/api/workspaces/%d/channels", tm.ws), "/api/workspaces/{wid}/channels", `{"name":"ops","type":"private"}`, http.StatusCreated},
	}
	for _, c := range cases {
		var v any
		if err := json.Unmarshal([]byte(c.body), &v); err != nil {
			t.Fatal(err)
		}
		schemaErr := requestSchema(c.method, c.pattern).VisitJSON(v, openapi3.EnableJSONSchema2020())
		status, body := tm.alice.do(c.method, c.path, c.body)
		if status != c.status {
			t.Errorf("%s %s %s: %d, want %d: %s", c.method, c.pattern, c.body, status, c.status, body)
		}
		if (schemaErr == nil) != (status < 300) {
			t.Errorf("%s %s %s: the document says valid=%v, the handler answers %d", c.method, c.pattern, c.body, schemaErr == nil, status)
		}
	}

	// Responses carry the same enum.
	chType := doc.Components.Schemas["ChannelView"].Value.Properties["type"].Value
	if !slices.Equal(chType.Enum, []any{"public", "private", "dm"}) {
		t.Errorf("ChannelView.type enum %v, want [public private dm]", chType.Enum)
	}
}
