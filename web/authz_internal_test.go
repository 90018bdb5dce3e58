package web

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestUndeclaredRouteIsDenied: a route added without a permission is
// refused by the authorisation point, whoever calls it.
func TestUndeclaredRouteIsDenied(t *testing.T) {
	s := &Server{metrics: newMetrics(prometheus.NewRegistry())}
	called := false
	h := s.authorize(route{pattern: "GET /new", handle: func(http.ResponseWriter, *http.Request) error { called = true; return nil }})
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/new", nil))
	if called || w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "no declared access rule") {
		t.Fatalf("undeclared route: called=%v %d %s", called, w.Code, w.Body)
	}
}
