package api

import (
	"net/http"

	"github.com/parley-chat/parley/persistence"
)

// Route is one endpoint: the single table from which Register adds handlers to the mux
// and the OpenAPI document is built, so an undocumented route cannot exist.
type Route struct {
	Method  string
	Pattern string // http.ServeMux pattern path, e.g. /api/channels/{cid}
	Summary string
	Tag     string
	// Public routes need no bearer token.
	Public bool
	// External routes are served by the server wiring (health, metrics, WebSocket); they are
	// here to be documented, and Register skips them.
	External bool
	// Request is a zero value of the JSON body type (nil: no body); Response of the success
	// body (nil: none). Status is the success status.
	Request  any
	Response any
	Status   int
	Query    []Param
	// Errors lists the error statuses the route can answer besides 401/500.
	Errors []int

	handler handlerFunc
}

// Param is a query parameter.
type Param struct {
	Name        string
	Type        string // "string", "integer" or "boolean"
	Description string
	Required    bool
	Enum        []string
}

// Routes returns every route of parley's HTTP surface (including the externally served ones)
// without handlers, for documentation and tests.
func Routes() []Route {
	var a API
	rs := a.routes()
	for i := range rs {
		rs[i].handler = nil
	}
	return rs
}

func (a *API) routes() []Route {
	const (
		ok, created, noContent = http.StatusOK, http.StatusCreated, http.StatusNoContent
	)
	var rs []Route
	add := func(r Route) { rs = append(rs, r) }
	_ = noContent
	_ = created

	add(Route{Method: "POST", Pattern: "/api/auth/dev/login", Tag: "auth", Public: true,
		Summary: "Get a token for any username (dev mode only)", Request: devLoginRequest{}, Response: devLoginResponse{},
		Status: ok, Errors: []int{400, 404}, handler: a.devLogin})
	add(Route{Method: "GET", Pattern: "/api/users/me", Tag: "users", Summary: "The caller (created on first use)",
		Response: persistence.User{}, Status: ok, handler: a.me})
	return rs
}
