package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"regexp"
	"strings"

	"github.com/parley-chat/parley/actors"
	"github.com/parley-chat/parley/persistence"
)

// OpenAPIDocument builds the OpenAPI 3.1 document of every route in Routes. Schemas are
// derived from the Go types the handlers decode and encode, so the document cannot drift
// from the wire format: ids are decimal strings, times RFC 3339 with milliseconds.
func OpenAPIDocument() ([]byte, error) {
	g := &schemaGen{schemas: map[string]any{}}
	paths := map[string]map[string]any{}
	for _, rt := range Routes() {
		item := paths[rt.Pattern]
		if item == nil {
			item = map[string]any{}
			paths[rt.Pattern] = item
		}
		item[strings.ToLower(rt.Method)] = g.operation(rt)
	}
	g.schemaOf(reflect.TypeFor[Problem]())
	doc := map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title":       "parley",
			"version":     "1",
			"description": "Real-time team chat: REST API (this document) and STOMP 1.2 over WebSocket at /ws. Ids are 64-bit, rendered as decimal strings; times are RFC 3339 UTC with milliseconds. Errors are application/problem+json with a stable code. Lists return {items, next}: pass next back as the cursor parameter.",
		},
		"paths": paths,
		"components": map[string]any{
			"schemas": g.schemas,
			"securitySchemes": map[string]any{
				"bearer": map[string]any{"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
			},
			"responses": map[string]any{
				"Problem": map[string]any{
					"description": "Error (application/problem+json with a stable code)",
					"content":     map[string]any{"application/problem+json": map[string]any{"schema": ref("Problem")}},
				},
			},
		},
		"security": []any{map[string]any{"bearer": []string{}}},
		// The real-time half is not HTTP: an extension lists its destinations so that the
		// reference (and the web client's /docs page) covers both.
		"x-stomp": map[string]any{
			"endpoint":     "/ws",
			"subprotocols": []string{"v12.stomp"},
			"connect":      "CONNECT with header Authorization: Bearer <token> (or passcode); heart-beats both ways",
			"destinations": actors.Destinations(),
		},
	}
	return json.MarshalIndent(doc, "", "  ")
}

func (a *API) openAPI(context.Context, *http.Request, persistence.User) (int, any, error) {
	return http.StatusOK, rawBody{contentType: "application/json", body: a.openapi}, nil
}

var pathParamRe = regexp.MustCompile(`\{([a-z]+)\}`)

func (g *schemaGen) operation(rt Route) map[string]any {
	op := map[string]any{
		"summary":     rt.Summary,
		"operationId": operationID(rt),
		"tags":        []string{rt.Tag},
	}
	var params []any
	for _, m := range pathParamRe.FindAllStringSubmatch(rt.Pattern, -1) {
		s := map[string]any{"type": "string", "pattern": "^[0-9]{1,19}$"}
		if m[1] == "emoji" {
			s = map[string]any{"type": "string", "minLength": 1, "maxLength": 64}
		}
		params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "schema": s})
	}
	for _, p := range rt.Query {
		s := map[string]any{"type": p.Type}
		if len(p.Enum) > 0 {
			s["enum"] = p.Enum
		}
		if p.Type == "integer" {
			s["minimum"] = 0
		}
		q := map[string]any{"name": p.Name, "in": "query", "required": p.Required, "schema": s}
		if p.Description != "" {
			q["description"] = p.Description
		}
		params = append(params, q)
	}
	if len(params) > 0 {
		op["parameters"] = params
	}
	if rt.Public {
		op["security"] = []any{}
	}
	if rt.Request != nil {
		op["requestBody"] = map[string]any{
			"required": true,
			"content":  map[string]any{"application/json": map[string]any{"schema": g.schemaOf(reflect.TypeOf(rt.Request))}},
		}
	}
	if rt.Upload {
		bin := map[string]any{"schema": map[string]any{"type": "string", "format": "binary"}}
		op["requestBody"] = map[string]any{"required": true, "content": map[string]any{
			"multipart/form-data": map[string]any{"schema": map[string]any{"type": "object", "required": []string{"file"},
				"properties": map[string]any{"file": map[string]any{"type": "string", "format": "binary"}}}},
			"application/octet-stream": bin,
		}}
	}
	ok := map[string]any{"description": http.StatusText(rt.Status)}
	switch {
	case rt.Download:
		ok["content"] = map[string]any{"*/*": map[string]any{"schema": map[string]any{"type": "string", "format": "binary"}}}
	case rt.Response != nil:
		ok["content"] = map[string]any{"application/json": map[string]any{"schema": g.schemaOf(reflect.TypeOf(rt.Response))}}
	case rt.Pattern == "/metrics":
		ok["content"] = map[string]any{"text/plain": map[string]any{"schema": map[string]any{"type": "string"}}}
	case rt.Pattern == "/docs":
		ok["content"] = map[string]any{"text/html": map[string]any{"schema": map[string]any{"type": "string"}}}
	case rt.Pattern == "/openapi.json", rt.Pattern == "/healthz", rt.Pattern == "/readyz":
		ok["content"] = map[string]any{"application/json": map[string]any{"schema": map[string]any{"type": "object"}}}
	}
	responses := map[string]any{fmt.Sprint(rt.Status): ok}
	if rt.Method == "POST" && rt.Pattern == "/api/channels/{cid}/members" {
		responses["204"] = map[string]any{"description": "Already a member"}
	}
	if rt.Method == "POST" && rt.Pattern == "/api/workspaces/{wid}/dms" {
		responses["200"] = map[string]any{"description": "The existing direct message of exactly these people",
			"content": ok["content"]}
	}
	if rt.Method == "POST" && rt.Pattern == "/api/channels/{cid}/messages" {
		responses["200"] = map[string]any{"description": "A retry: the message first stored with this clientMsgId",
			"content": ok["content"]}
	}
	if rt.Download {
		responses["302"] = map[string]any{"description": "S3 store: the bytes are at Location, a presigned URL valid at most 5 minutes"}
		responses["304"] = map[string]any{"description": "Not modified (If-None-Match)"}
	}
	errs := rt.Errors
	if rt.Request != nil || rt.Upload { // a body that does not arrive within the server's body timeout
		errs = append(errs, http.StatusRequestTimeout)
	}
	if !rt.Public {
		errs = append(errs, http.StatusUnauthorized)
	}
	if !rt.External {
		// Every route spends a rate limit: per user, or per address before (public) or
		// after failed authentication (limits.go).
		errs = append(errs, http.StatusTooManyRequests, http.StatusInternalServerError)
	}
	for _, code := range errs {
		responses[fmt.Sprint(code)] = map[string]any{"$ref": "#/components/responses/Problem"}
	}
	op["responses"] = responses
	return op
}

func operationID(rt Route) string {
	id := strings.ToLower(rt.Method) + strings.NewReplacer("/", "_", "{", "", "}", "", ".", "_", "-", "_").Replace(rt.Pattern)
	return strings.TrimSuffix(id, "_")
}

func ref(name string) map[string]any { return map[string]any{"$ref": "#/components/schemas/" + name} }
