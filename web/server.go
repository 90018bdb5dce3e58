package web

import (
	"context"
	"crypto/subtle"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/hexward/hexward/layers"
	"github.com/hexward/hexward/tiles"
)

// Need is what a route requires of its caller.
type Need int

// What a route may need. The zero Need is deliberately invalid, so a route
// declared without one is refused (default deny).
const (
	needUndeclared Need = iota
	Public              // anyone: the map, reads, health, metrics
	Write               // a holder of the write token
)

// Config configures the server.
type Config struct {
	Store      *layers.Store
	Tiles      *tiles.Engine
	Log        *slog.Logger
	WriteToken string // bearer token for writes; empty disables writes
	MaxBody    int64  // largest request body in bytes
	Registry   *prometheus.Registry
}

// Server is the HTTP API.
type Server struct {
	store      *layers.Store
	cat        *layers.Catalogue
	tiles      *tiles.Engine
	log        *slog.Logger
	writeToken string
	maxBody    int64
	mux        *http.ServeMux
	metrics    *metrics
	registry   *prometheus.Registry
}

// route is one entry of the route table: its pattern, what it needs and its
// handler.
type route struct {
	pattern string
	need    Need
	handle  func(http.ResponseWriter, *http.Request) error
}

// New builds the server and its routes.
func New(cfg Config) *Server {
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = 8 << 20
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	s := &Server{store: cfg.Store, cat: cfg.Store.Catalogue(), tiles: cfg.Tiles, log: cfg.Log,
		writeToken: cfg.WriteToken, maxBody: cfg.MaxBody, mux: http.NewServeMux(), registry: cfg.Registry}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.metrics = newMetrics(cfg.Registry)
	for _, rt := range s.routes() {
		s.mux.Handle(rt.pattern, s.authorize(rt))
	}
	return s
}

// routes is the table of every route. A route must declare its Need.
func (s *Server) routes() []route {
	ui := UIHandler()
	metricsH := promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{})
	static := func(h http.Handler) func(http.ResponseWriter, *http.Request) error {
		return func(w http.ResponseWriter, r *http.Request) error { h.ServeHTTP(w, r); return nil }
	}
	return []route{
		{"GET /", Public, static(ui)}, // the map, its scripts, MapLibre and fonts
		{"GET /healthz", Public, s.healthz},
		{"GET /metrics", Public, static(metricsH)},

		{"GET /api", Public, s.landing},
		{"GET /api/{$}", Public, s.landing},
		{"GET /api/conformance", Public, s.conformance},
		{"GET /api/collections", Public, s.collections},
		{"GET /api/collections/{layer}", Public, s.collection},
		{"GET /api/collections/{layer}/queryables", Public, s.queryables},
		{"GET /api/collections/{layer}/items", Public, s.items},
		{"GET /api/collections/{layer}/items/{id}", Public, s.item},
		{"POST /api/collections/{layer}/items", Write, s.createItem},
		{"PUT /api/collections/{layer}/items/{id}", Write, s.replaceItem},
		{"PATCH /api/collections/{layer}/items/{id}", Write, s.patchItem},
		{"DELETE /api/collections/{layer}/items/{id}", Write, s.deleteItem},

		{"GET /style.json", Public, s.style},
		{"GET /tiles/{layers}/{z}/{x}/{y}", Public, s.tile},
		{"GET /tiles/{tilejson}", Public, s.tileJSON},
	}
}

// authorize is the one authorisation point: it runs before every handler
// and decides from the route's declared Need. Undeclared means deny.
func (s *Server) authorize(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		defer func() { s.metrics.observe(rt.pattern, sw.status, time.Since(start)) }()
		switch rt.need {
		case Public:
		case Write:
			if s.writeToken == "" {
				s.writeError(sw, r, &httpError{http.StatusForbidden, "writes are disabled: the server has no write token (set HEXWARD_WRITE_TOKEN)"})
				return
			}
			tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if !ok || subtle.ConstantTimeCompare([]byte(tok), []byte(s.writeToken)) != 1 {
				sw.Header().Set("WWW-Authenticate", `Bearer realm="hexward"`)
				s.writeError(sw, r, &httpError{http.StatusUnauthorized, "this route needs a valid bearer token"})
				return
			}
			r.Body = http.MaxBytesReader(sw, r.Body, s.maxBody)
		default:
			s.writeError(sw, r, &httpError{http.StatusForbidden, "route has no declared access rule"})
			return
		}
		if err := rt.handle(sw, r); err != nil {
			s.writeError(sw, r, err)
		}
	})
}

// ServeHTTP serves the API with security headers on every answer.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	s.mux.ServeHTTP(w, r)
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.store.Pool().Ping(ctx); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, "application/json", map[string]string{"status": "database unavailable"})
		return nil
	}
	writeJSON(w, http.StatusOK, "application/json", map[string]string{"status": "ok"})
	return nil
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
