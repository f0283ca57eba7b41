package api_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/parley-chat/parley/transport/api"
)

// The document must be valid OpenAPI 3.1 and describe exactly the routes of the table;
// every route of the table with a handler must be what the mux serves for its pattern.
func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpts{})
	anon := &client{h: h, name: "anonymous"}
	_, body := anon.do("GET", "/openapi.json", nil)
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(body)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("invalid OpenAPI document: %v", err)
	}
	if !doc.IsOpenAPI31OrLater() {
		t.Fatalf("openapi version %q, want 3.1", doc.OpenAPI)
	}

	routes := api.Routes()
	documented := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented[method+" "+path] = true
		}
	}
	mux := http.NewServeMux()
	a, err := api.New(api.Config{}, api.Deps{Store: h.store, Verifier: h.verify, IDs: mustIDs(t)})
	if err != nil {
		t.Fatal(err)
	}
	a.Register(mux)
	seen := map[string]bool{}
	for _, rt := range routes {
		key := rt.Method + " " + rt.Pattern
		if seen[key] {
			t.Errorf("route %s twice in the table", key)
		}
		seen[key] = true
		if !documented[key] {
			t.Errorf("route %s is not in the OpenAPI document", key)
		}
		delete(documented, key)
		// A concrete request for the pattern must reach exactly this registration.
		path := regexp.MustCompile(`\{[a-z]+\}`).ReplaceAllString(rt.Pattern, "1")
		req := httptest.NewRequest(rt.Method, path, nil)
		_, pattern := mux.Handler(req)
		switch {
		case rt.External && pattern != "":
			t.Errorf("external route %s is registered by the API (%q)", key, pattern)
		case !rt.External && pattern != key:
			t.Errorf("%s %s is served by %q, want %q", rt.Method, path, pattern, key)
		}
	}
	for key := range documented {
		t.Errorf("documented operation %s is not in the route table", key)
	}
	for _, must := range []string{"GET /healthz", "GET /readyz", "GET /metrics", "GET /ws", "GET /openapi.json"} {
		if !seen[must] {
			t.Errorf("%s missing from the route table", must)
		}
	}
}
