package web

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/hexward/hexward/analysis"
	"github.com/hexward/hexward/auth"
	"github.com/hexward/hexward/layers"
	"github.com/hexward/hexward/layers/readings"
	"github.com/hexward/hexward/tiles"
	"github.com/hexward/hexward/web/live"
)

// Config configures the server.
type Config struct {
	Store    *layers.Store
	Tiles    *tiles.Engine
	Accounts *auth.Accounts
	Audit    *auth.Audit
	Log      *slog.Logger
	MaxBody  int64 // largest request body in bytes
	Registry *prometheus.Registry
	// CORSOrigins may call the API from a browser on another origin (with
	// API tokens; session cookies are SameSite=Strict). Empty: none.
	CORSOrigins []string
	// LoginRate is the failed sign-in attempts allowed per client IP per
	// minute.
	LoginRate int
	// IngestRate is the ingest requests (readings, positions) allowed per
	// second per account; each client IP may make four times as many.
	IngestRate int
	// Readings ingests sensor readings and runs the alert rules; nil: one
	// over Store.
	Readings *readings.Ingester
	// Checks are the parts besides the database whose trouble degrades
	// the service without stopping it (the NATS bus, the MQTT ingest), by
	// name: GET /healthz reports each.
	Checks map[string]func() error
	// Analysis answers the planners' questions (/api/analysis/…); nil:
	// those routes answer 503.
	Analysis *analysis.Engine
}

// Server is the HTTP API.
type Server struct {
	store    *layers.Store
	cat      *layers.Catalogue
	tiles    *tiles.Engine
	accounts *auth.Accounts
	audit    *auth.Audit
	log      *slog.Logger
	maxBody  int64
	mux      *http.ServeMux
	metrics  *metrics
	registry *prometheus.Registry
	cors     []string
	login    *limiter
	ingest   *limiter // per account
	ingestIP *limiter // per client IP

	scopeMu sync.Mutex
	scopes  map[string]*tiles.Scope // area code → area, for scoped tiles

	readings *readings.Ingester // sensor readings, alert rules and lifecycle
	checks   map[string]func() error
	analysis *analysis.Engine

	hub *live.Hub // the live stream
}

// route is one entry of the route table: its pattern, the permission it
// needs and its handler.
type route struct {
	pattern string
	need    auth.Permission
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
	if cfg.LoginRate <= 0 {
		cfg.LoginRate = 10
	}
	if cfg.IngestRate <= 0 {
		cfg.IngestRate = 20
	}
	s := &Server{store: cfg.Store, cat: cfg.Store.Catalogue(), tiles: cfg.Tiles, accounts: cfg.Accounts, audit: cfg.Audit,
		log: cfg.Log, maxBody: cfg.MaxBody, mux: http.NewServeMux(), registry: cfg.Registry, cors: cfg.CORSOrigins,
		login: newLimiter(cfg.LoginRate, time.Minute), scopes: map[string]*tiles.Scope{},
		ingest: newLimiter(cfg.IngestRate, time.Second), ingestIP: newLimiter(4*cfg.IngestRate, time.Second)}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.metrics = newMetrics(cfg.Registry)
	s.checks, s.analysis = cfg.Checks, cfg.Analysis
	if s.readings = cfg.Readings; s.readings == nil {
		s.readings = readings.New(cfg.Store, s.log)
	}
	s.hub = s.newHub()
	if s.tiles != nil {
		registerTileStats(cfg.Registry, s.tiles)
	}
	for _, rt := range s.routes() {
		s.mux.Handle(rt.pattern, s.authorize(rt))
	}
	// An edited admin area changes what its scope holds.
	s.store.Subscribe(func(cs []layers.Change) {
		for _, c := range cs {
			if slices.Contains(layers.AdminLayers, c.Layer) {
				s.forgetScopes()
				return
			}
		}
	})
	return s
}

// routes is the table of every route and what it needs. A route without a
// declared permission is refused by authorize.
func (s *Server) routes() []route {
	ui := UIHandler()
	metricsH := promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{})
	static := func(h http.Handler) func(http.ResponseWriter, *http.Request) error {
		return func(w http.ResponseWriter, r *http.Request) error { h.ServeHTTP(w, r); return nil }
	}
	return []route{
		{"GET /", auth.Public, static(ui)}, // the map page, its scripts, MapLibre and fonts; data needs sign-in
		{"GET /healthz", auth.Public, s.healthz},
		{"GET /metrics", auth.Public, static(metricsH)},

		{"POST /auth/login", auth.Public, s.loginHandler},
		{"POST /auth/setup", auth.Public, s.setup},
		{"GET /setup", auth.Public, s.setupPage},
		{"POST /auth/logout", auth.Authenticated, s.logout},
		{"GET /auth/me", auth.Authenticated, s.me},
		{"GET /auth/tokens", auth.OwnTokens, s.ownTokens},
		{"POST /auth/tokens", auth.OwnTokens, s.createOwnToken},
		{"DELETE /auth/tokens/{id}", auth.OwnTokens, s.revokeOwnToken},
		{"GET /auth/users", auth.ManageAccounts, s.users},
		{"POST /auth/users", auth.ManageAccounts, s.createUser},
		{"POST /auth/users/{name}/tokens", auth.ManageAccounts, s.createUserToken},
		{"GET /api/audit", auth.ReadAudit, s.auditLog},

		{"GET /api", auth.ReadMap, s.landing},
		{"GET /api/{$}", auth.ReadMap, s.landing},
		{"GET /api/conformance", auth.ReadMap, s.conformance},
		{"GET /api/collections", auth.ReadMap, s.collections},
		{"GET /api/collections/{layer}", auth.ReadMap, s.collection},
		{"GET /api/collections/{layer}/queryables", auth.ReadMap, s.queryables},
		{"GET /api/collections/{layer}/items", auth.ReadMap, s.items},
		{"GET /api/collections/{layer}/items/{id}", auth.ReadMap, s.item},
		{"POST /api/collections/{layer}/items", auth.EditLayers, s.createItem},
		{"PUT /api/collections/{layer}/items/{id}", auth.EditLayers, s.replaceItem},
		{"PATCH /api/collections/{layer}/items/{id}", auth.EditLayers, s.patchItem},
		{"DELETE /api/collections/{layer}/items/{id}", auth.EditLayers, s.deleteItem},

		{"GET /style.json", auth.ReadMap, s.style},
		{"GET /tiles/{layers}/{z}/{x}/{y}", auth.ReadMap, s.tile},
		{"GET /tiles/{tilejson}", auth.ReadMap, s.tileJSON},

		{"POST /ingest/readings", auth.SendReadings, s.ingestReadings}, // web/ingest.go
		{"POST /api/alerts/{id}/acknowledge", auth.HandleAlerts, s.alertAction(readings.Acknowledge)},
		{"POST /api/alerts/{id}/dispatch", auth.HandleAlerts, s.alertAction(readings.Dispatch)},
		{"POST /api/alerts/{id}/resolve", auth.HandleAlerts, s.alertAction(readings.Resolve)},
		{"GET /api/alerts/{id}/transitions", auth.ReadMap, s.alertHistory},
		{"GET /api/alerts/{id}/nearest-officers", auth.HandleAlerts, s.nearestOfficers}, // web/alerts.go
		{"GET /api/officers/{id}/trail", auth.ReadMap, s.officerTrail},
		{"POST /api/incidents", auth.ReportIncidents, s.reportIncident}, // web/incidents.go
		{"POST /api/incidents/{id}/close", auth.HandleAlerts, s.closeIncident},
		{"GET /live", auth.ReadMap, s.live},

		{"GET /api/analysis", auth.ReadMap, s.analysisInfo}, // web/analysis.go
		{"POST /api/analysis/run", auth.RunAnalyses, s.analysisRun},
		{"GET /api/analysis/figures", auth.ReadMap, s.analysisFigures},
		{"GET /api/analysis/figures/{layer}/{id}", auth.ReadMap, s.analysisArea},
		{"POST /api/analysis/whatif", auth.RunAnalyses, s.analysisWhatIf},
		{"POST /api/analysis/suggest", auth.RunAnalyses, s.analysisSuggest},
		{"PUT /api/analysis/placards/{compound}", auth.RunAnalyses, s.analysisPlacard},
		{"GET /api/analysis/frontages/incidents", auth.ReadMap, s.analysisShopIncidents},

		{"GET /osmand", auth.SendPositions, s.osmand}, // OsmAnd / Traccar Client; web/osmand.go
		{"POST /osmand", auth.SendPositions, s.osmand},
		{"POST /ingest/positions", auth.SendPositions, s.ingestPositions},
	}
}

type principalKey struct{}

// principal returns the caller authenticated by authorize, or nil.
func principal(r *http.Request) *auth.Principal {
	p, _ := r.Context().Value(principalKey{}).(*auth.Principal)
	return p
}

// scopeOf is the caller's area scope ("" for everywhere).
func scopeOf(r *http.Request) string {
	if p := principal(r); p != nil {
		return p.Scope
	}
	return ""
}

const sessionCookie = "hexward_session"

// requestTimeout bounds every handler and the database calls it makes.
const requestTimeout = time.Minute

// identify finds the caller from an API token (Authorization: Bearer) or
// a session cookie. No credentials give (nil, nil); bad ones an error.
func (s *Server) identify(r *http.Request) (*auth.Principal, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		tok, ok := strings.CutPrefix(h, "Bearer ")
		if !ok {
			return nil, auth.ErrUnauthenticated
		}
		p, err := s.accounts.Token(r.Context(), tok)
		return &p, err
	}
	if c, err := r.Cookie(sessionCookie); err == nil {
		p, err := s.accounts.Session(r.Context(), c.Value)
		return &p, err
	}
	return nil, nil
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// authorize is the one authorisation point: it runs before every handler
// and decides from the route's declared permission and the caller's role.
// Undeclared means deny; every refusal is audited.
func (s *Server) authorize(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		defer func() { s.metrics.observe(rt.pattern, sw.status, time.Since(start)) }()
		p, idErr := s.identify(r)
		deny := func(status int, msg string) {
			if status == http.StatusUnauthorized {
				sw.Header().Set("WWW-Authenticate", `Bearer realm="hexward"`)
			}
			e := auth.Entry{IP: clientIP(r), Action: r.Method + " " + rt.pattern, Target: r.URL.Path, Outcome: auth.Denied, Detail: msg}
			if p != nil && idErr == nil {
				e.Actor, e.Role = p.User, string(p.Role)
			}
			s.auditAppend(r.Context(), e)
			s.writeError(sw, r, &httpError{status, msg})
		}
		if idErr != nil && !isUnauth(idErr) {
			s.writeError(sw, r, idErr)
			return
		}
		switch {
		case rt.need == "":
			deny(http.StatusForbidden, "route has no declared access rule")
			return
		case rt.need == auth.Public:
			if idErr != nil {
				p = nil
			}
		case p == nil || idErr != nil:
			deny(http.StatusUnauthorized, "sign in or send an API token: "+auth.ErrUnauthenticated.Error())
			return
		case rt.need != auth.Authenticated && !p.Role.Can(rt.need):
			deny(http.StatusForbidden, "role "+string(p.Role)+" may not "+strings.ReplaceAll(string(rt.need), "_", " "))
			return
		case p.Via == "session" && !safeMethod(r.Method) && r.Header.Get("X-CSRF-Token") != p.CSRF:
			deny(http.StatusForbidden, "missing or wrong X-CSRF-Token header")
			return
		}
		if rt.need == auth.SendReadings || rt.need == auth.SendPositions {
			ok, wait := s.ingest.take(p.User)
			if ok {
				ok, wait = s.ingestIP.take(clientIP(r))
			}
			if !ok {
				s.writeError(sw, r, tooMany(sw, wait))
				return
			}
		}
		if !safeMethod(r.Method) {
			r.Body = http.MaxBytesReader(sw, r.Body, s.maxBody)
		}
		ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
		defer cancel()
		if p != nil {
			ctx = context.WithValue(ctx, principalKey{}, p)
			ctx = layers.WithActor(ctx, layers.Actor{User: p.User, Role: string(p.Role), Scope: p.Scope, IP: clientIP(r)})
		}
		if err := rt.handle(sw, r.WithContext(ctx)); err != nil {
			s.writeError(sw, r, err)
		}
	})
}

func (s *Server) auditAppend(ctx context.Context, e auth.Entry) {
	if s.audit == nil {
		return
	}
	if err := s.audit.Append(context.WithoutCancel(ctx), e); err != nil {
		s.log.Error("audit log", "err", err)
	}
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// ServeHTTP serves the API with security headers and CORS on every answer.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data: blob:; worker-src 'self' blob:; style-src 'self' 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'")
	if r.TLS != nil {
		h.Set("Strict-Transport-Security", "max-age=31536000")
	}
	if origin := r.Header.Get("Origin"); origin != "" && slices.Contains(s.cors, origin) {
		h.Set("Access-Control-Allow-Origin", origin)
		h.Add("Vary", "Origin")
		if r.Method == http.MethodOptions {
			h.Set("Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE")
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
			h.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
	}
	s.mux.ServeHTTP(w, r)
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.store.Pool().Ping(ctx); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, "application/json", map[string]string{"status": "database unavailable"})
		return nil
	}
	// A broker that is down degrades the service (other nodes, MQTT
	// devices wait) but it still serves: 200 with what is wrong.
	out := map[string]any{"status": "ok"}
	if len(s.checks) > 0 {
		parts := map[string]string{}
		for name, check := range s.checks {
			parts[name] = "ok"
			if err := check(); err != nil {
				parts[name] = err.Error()
				out["status"] = "degraded"
			}
		}
		out["checks"] = parts
	}
	writeJSON(w, http.StatusOK, "application/json", out)
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

// RouteInfo is a route's pattern and the permission it needs.
type RouteInfo struct {
	Pattern string
	Need    auth.Permission
}

// Routes lists every route with what it needs (for documentation and the
// authorisation tests).
func (s *Server) Routes() []RouteInfo {
	var out []RouteInfo
	for _, rt := range s.routes() {
		out = append(out, RouteInfo{rt.pattern, rt.need})
	}
	return out
}
