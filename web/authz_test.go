package web_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/hexward/hexward/auth"
	"github.com/hexward/hexward/web"
)

var placeholder = regexp.MustCompile(`\{[a-z$]+\}`)

// requestFor turns a route pattern into a request path and body.
func requestFor(pattern string, id int64) (method, path, body string) {
	method, path, _ = strings.Cut(pattern, " ")
	path = placeholder.ReplaceAllStringFunc(path, func(p string) string {
		switch p {
		case "{layer}":
			return "gates"
		case "{id}":
			return fmt.Sprint(id)
		case "{layers}":
			return "buildings,gates"
		case "{z}":
			return "16"
		case "{x}":
			return "53539"
		case "{y}":
			return "28531.mvt"
		case "{tilejson}":
			return "buildings.json"
		case "{name}":
			return "device"
		case "{compound}":
			return fmt.Sprint(id)
		}
		return "" // {$}
	})
	switch {
	case strings.HasSuffix(path, "/items") && method == "POST", strings.Contains(path, "/items/") && method != "GET":
		body = `{"type":"Feature","geometry":{"type":"Point","coordinates":[114.121,22.551]},"properties":{"name":"x"}}`
	case strings.HasPrefix(path, "/auth/"):
		body = `{"name":"t","user":"nobody","password":"wrong password"}`
	}
	return method, path, body
}

// denied tells an answer of the authorisation point from the handler's.
func denied(status int, body []byte) bool {
	var p struct{ Detail string }
	_ = json.Unmarshal(body, &p)
	return (status == 401 || status == 403) && (strings.HasPrefix(p.Detail, "sign in or send an API token") ||
		strings.HasPrefix(p.Detail, "role ") || strings.Contains(p.Detail, "no declared access rule"))
}

// undeclared lists the routes without a permission.
func undeclared(routes []web.RouteInfo) []string {
	var out []string
	for _, r := range routes {
		if r.Need == "" {
			out = append(out, r.Pattern)
		}
	}
	return out
}

func TestRouteTableCheckCatchesAnUndeclaredRoute(t *testing.T) {
	table := []web.RouteInfo{{Pattern: "GET /a", Need: auth.ReadMap}, {Pattern: "POST /b"}}
	if got := undeclared(table); len(got) != 1 || got[0] != "POST /b" {
		t.Fatalf("undeclared %v", got)
	}
}

// Who may call each route, written out by hand so that a change of
// policy is a change of this table: "*" anyone, "+" any signed-in user,
// else the roles. A route missing here fails the test.
const (
	anyone   = "*"
	signedIn = "+"
	readers  = "admin operator planner officer viewer"
	editors  = "admin planner"
	admins   = "admin"
)

var matrix = map[string]string{
	"GET /":                                      anyone,
	"GET /healthz":                               anyone,
	"GET /metrics":                               anyone,
	"POST /auth/login":                           anyone,
	"POST /auth/setup":                           anyone,
	"GET /setup":                                 anyone,
	"POST /auth/logout":                          signedIn,
	"GET /auth/me":                               signedIn,
	"GET /auth/tokens":                           readers,
	"POST /auth/tokens":                          readers,
	"DELETE /auth/tokens/{id}":                   readers,
	"GET /auth/users":                            admins,
	"POST /auth/users":                           admins,
	"POST /auth/users/{name}/tokens":             admins,
	"GET /api/audit":                             admins,
	"GET /api":                                   readers,
	"GET /api/{$}":                               readers,
	"GET /api/conformance":                       readers,
	"GET /api/collections":                       readers,
	"GET /api/collections/{layer}":               readers,
	"GET /api/collections/{layer}/queryables":    readers,
	"GET /api/collections/{layer}/items":         readers,
	"GET /api/collections/{layer}/items/{id}":    readers,
	"POST /api/collections/{layer}/items":        editors,
	"PUT /api/collections/{layer}/items/{id}":    editors,
	"PATCH /api/collections/{layer}/items/{id}":  editors,
	"DELETE /api/collections/{layer}/items/{id}": editors,
	"GET /style.json":                            readers,
	"GET /tiles/{layers}/{z}/{x}/{y}":            readers,
	"GET /tiles/{tilejson}":                      readers,
	"POST /ingest/readings":                      "device",
	"POST /api/alerts/{id}/acknowledge":          "admin operator",
	"POST /api/alerts/{id}/dispatch":             "admin operator",
	"POST /api/alerts/{id}/resolve":              "admin operator",
	"GET /api/alerts/{id}/transitions":           readers,
	"GET /api/alerts/{id}/nearest-officers":      "admin operator",
	"GET /api/officers/{id}/trail":               readers,
	"POST /api/incidents":                        "admin operator officer",
	"POST /api/incidents/{id}/close":             "admin operator",
	"GET /live":                                  readers,
	"GET /api/analysis":                          readers,
	"POST /api/analysis/run":                     editors,
	"GET /api/analysis/figures":                  readers,
	"GET /api/analysis/figures/{layer}/{id}":     readers,
	"POST /api/analysis/whatif":                  editors,
	"POST /api/analysis/suggest":                 editors,
	"PUT /api/analysis/placards/{compound}":      editors,
	"GET /api/analysis/frontages/incidents":      readers,
	"GET /osmand":                                "officer device",
	"POST /osmand":                               "officer device",
	"POST /ingest/positions":                     "officer device",
}

// TestRouteRoleMatrix walks every route as every role and as nobody, and
// checks that the authorisation point lets through exactly the callers
// that the matrix above names.
func TestRouteRoleMatrix(t *testing.T) {
	e := newEnv(t)
	routes := e.srv.Routes()
	if u := undeclared(routes); len(u) > 0 {
		t.Fatalf("routes without a declared permission: %v", u)
	}
	for _, rt := range routes {
		if _, ok := matrix[rt.Pattern]; !ok {
			t.Errorf("route %s is not in the test's matrix: say who may call it", rt.Pattern)
		}
	}
	users := append([]string{""}, "admin", "operator", "planner", "officer", "device", "viewer")
	for _, rt := range routes {
		for _, user := range users {
			// A fresh feature each time, so deletes have something to delete.
			_, _, b := e.as(t, "admin", "POST", "/api/collections/gates/items",
				`{"type":"Feature","geometry":{"type":"Point","coordinates":[114.121,22.551]},"properties":{}}`)
			var created struct{ ID int64 }
			_ = json.Unmarshal(b, &created)
			method, path, body := requestFor(rt.Pattern, created.ID)
			status, _, resp := e.as(t, user, method, path, body)
			who := matrix[rt.Pattern]
			allowed := who == anyone || (user != "" && (who == signedIn || slices.Contains(strings.Fields(who), user)))
			if got := !denied(status, resp); got != allowed {
				t.Errorf("%s as %q: %d %s; want allowed=%v", rt.Pattern, user, status, resp, allowed)
			}
			if !allowed && user == "" && status != http.StatusUnauthorized {
				t.Errorf("%s without credentials: %d, want 401", rt.Pattern, status)
			}
		}
	}
}
