package api_test

import (
	"context"
	"encoding/json"
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

// TestOpenAPIListsTheSTOMPDestinations: the reference covers the real-time half too, from
// the connection actor's own table (actors.Destinations).
func TestOpenAPIListsTheSTOMPDestinations(t *testing.T) {
	raw, err := api.OpenAPIDocument()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Stomp struct {
			Endpoint     string `json:"endpoint"`
			Destinations []struct {
				Path, Frame, Summary string
			} `json:"destinations"`
		} `json:"x-stomp"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Stomp.Endpoint != "/ws" {
		t.Errorf("x-stomp endpoint %q, want /ws", doc.Stomp.Endpoint)
	}
	want := map[string]bool{"SEND /app/presence.watch": false, "SUBSCRIBE /user/queue/presence": false,
		"SUBSCRIBE /user/queue/notifications": false, "SEND /app/message.send": false, "SUBSCRIBE /topic/channel.{channelId}": false}
	for _, d := range doc.Stomp.Destinations {
		if d.Summary == "" {
			t.Errorf("%s %s has no summary", d.Frame, d.Path)
		}
		if _, ok := want[d.Frame+" "+d.Path]; ok {
			want[d.Frame+" "+d.Path] = true
		}
	}
	for k, seen := range want {
		if !seen {
			t.Errorf("x-stomp does not list %s", k)
		}
	}
}
