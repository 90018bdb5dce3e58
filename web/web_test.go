package web_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/maptile"

	"github.com/hexward/hexward/analysis"
	"github.com/hexward/hexward/auth"
	"github.com/hexward/hexward/layers"
	"github.com/hexward/hexward/layers/pgtest"
	"github.com/hexward/hexward/tiles"
	"github.com/hexward/hexward/web"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// sample returns one feature per layer around (114.12, 22.55), of the
// layer's kind, so every collection has something to read and tile.
func sample(cat *layers.Catalogue) []layers.Feature {
	var out []layers.Feature
	for i, l := range cat.Layers() {
		x, y := 114.12+float64(i)*0.0003, 22.55
		var g orb.Geometry
		switch l.Kind {
		case layers.Point:
			g = orb.Point{x, y}
		case layers.Line:
			g = orb.LineString{{x, y}, {x + 0.0002, y + 0.0001}, {x + 0.0003, y + 0.0003}}
		case layers.Plane:
			g = orb.Polygon{{{x, y}, {x + 0.0002, y}, {x + 0.0002, y + 0.0002}, {x, y + 0.0002}, {x, y}}}
		}
		props := map[string]any{}
		if _, ok := l.Prop("name"); ok {
			props["name"] = l.TitleZH + "一号"
		}
		if slices.Contains(layers.AdminLayers, l.Name) {
			// Admin areas cover all the sample features: scope "A".
			g = orb.Polygon{{{114.11, 22.54}, {114.125, 22.54}, {114.125, 22.56}, {114.11, 22.56}, {114.11, 22.54}}}
			props["code"] = map[string]string{"subdistricts": "SD", "communities": "A", "compounds": "A-1"}[l.Name]
		}
		if p, ok := l.Prop("kind"); ok && len(p.Enum) > 0 {
			props["kind"] = p.Enum[0]
		}
		for _, p := range l.Props { // required choices (alerts' severity and state)
			if p.Required && len(p.Enum) > 0 {
				props[p.Name] = p.Enum[0]
			}
		}
		out = append(out, layers.Feature{Layer: l.Name, Geometry: g, Props: props})
	}
	return out
}

type env struct {
	url      string
	srv      *web.Server
	store    *layers.Store
	eng      *tiles.Engine
	mu       sync.Mutex
	analysis *analysis.Engine
	tokens   map[string]string // API token per test user (named for its role)
}

// newEnv serves the API over a real PostGIS holding the sample features,
// with the tile engine following the change log as `hexward serve` does.
func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvWith(t, nil)
}

// newEnvWith is newEnv with the server's configuration changed by adjust.
// Tests send bursts of ingest requests: the ingest rate limit is high
// unless a test lowers it.
func newEnvWith(t *testing.T, adjust func(*web.Config)) *env {
	t.Helper()
	ctx := context.Background()
	cat := layers.Governance()
	store := layers.NewStore(pgtest.New(t), cat)
	feats := sample(cat)
	if _, err := store.Import(ctx, layers.FromSlice(feats), nil); err != nil {
		t.Fatal(err)
	}
	eng := tiles.NewEngine(cat, store, tiles.Options{})
	if err := eng.Load(ctx); err != nil {
		t.Fatal(err)
	}
	e := &env{store: store, eng: eng}
	store.Subscribe(func(cs []layers.Change) {
		e.mu.Lock()
		defer e.mu.Unlock()
		if err := eng.Apply(ctx, cs); err != nil {
			t.Errorf("apply: %v", err)
		}
	})
	accounts := auth.NewAccounts(store.Pool(), nil)
	audit := auth.NewAudit(store.Pool())
	store.SetAudit(audit.FeatureWrite)
	e.tokens = map[string]string{}
	for _, u := range []auth.NewUser{
		{Name: "admin", Role: auth.Admin}, {Name: "operator", Role: auth.Operator}, {Name: "planner", Role: auth.Planner},
		{Name: "officer", Role: auth.Officer}, {Name: "device", Role: auth.Device}, {Name: "viewer", Role: auth.Viewer},
		{Name: "planner-b", Role: auth.Planner, Scope: "B"}, {Name: "viewer-b", Role: auth.Viewer, Scope: "B"},
	} {
		u.Password = u.Name + "-password"
		if _, err := accounts.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		secret, _, err := accounts.CreateToken(ctx, u.Name, "test", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		e.tokens[u.Name] = secret
	}
	an, err := analysis.New(store, analysis.Options{Leaks: true})
	if err != nil {
		t.Fatal(err)
	}
	e.analysis = an
	cfg := web.Config{Store: store, Tiles: eng, Accounts: accounts, Audit: audit, MaxBody: 1 << 20, IngestRate: 10_000, Analysis: an}
	if adjust != nil {
		adjust(&cfg)
	}
	e.srv = web.New(cfg)
	srv := httptest.NewServer(e.srv)
	t.Cleanup(srv.Close)
	e.url = srv.URL
	return e
}

// do sends a request as the planner (who may read and edit everything).
func (e *env) do(t *testing.T, method, path, body string, hdr ...string) (int, http.Header, []byte) {
	t.Helper()
	return e.as(t, "planner", method, path, body, hdr...)
}

// as sends a request with the API token of user ("" for none).
func (e *env) as(t *testing.T, user, method, path, body string, hdr ...string) (int, http.Header, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, e.url+path, strings.NewReader(body))
	if user != "" {
		req.Header.Set("Authorization", "Bearer "+e.tokens[user])
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func (e *env) counts(t *testing.T) (features, changes int) {
	t.Helper()
	p := e.store.Pool()
	if err := p.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM features), (SELECT count(*) FROM changes)`).Scan(&features, &changes); err != nil {
		t.Fatal(err)
	}
	return
}

func TestBadInputIsRefusedAndChangesNothing(t *testing.T) {
	e := newEnv(t)
	f0, c0 := e.counts(t)
	square := `{"type":"Polygon","coordinates":[[[114.1,22.5],[114.101,22.5],[114.101,22.501],[114.1,22.501],[114.1,22.5]]]}`
	feature := func(geom, props string) string {
		return `{"type":"Feature","geometry":` + geom + `,"properties":` + props + `}`
	}
	big := feature(square, `{"name":"`+strings.Repeat("x", 2<<20)+`"}`)
	cases := []struct {
		name, method, path, body string
		status                   int
		want                     string
	}{
		{"invalid geometry", "POST", "/api/collections/buildings/items",
			feature(`{"type":"Polygon","coordinates":[[[114.1,22.5],[114.101,22.501],[114.101,22.5],[114.1,22.501],[114.1,22.5]]]}`, `{}`), 422, "Self-intersection"},
		{"out of range", "POST", "/api/collections/cameras/items", feature(`{"type":"Point","coordinates":[114.1,95]}`, `{}`), 422, "latitude 95 outside"},
		{"wrong kind", "POST", "/api/collections/buildings/items", feature(`{"type":"Point","coordinates":[114.1,22.5]}`, `{}`), 422, "Point given"},
		{"wrong property type", "POST", "/api/collections/buildings/items", feature(square, `{"floors":"seven"}`), 422, "floors: want an integer"},
		{"unknown property", "POST", "/api/collections/buildings/items", feature(square, `{"colour":"red"}`), 422, "colour: not a property"},
		{"unknown layer", "POST", "/api/collections/castles/items", feature(square, `{}`), 404, `unknown layer "castles"`},
		{"oversized body", "POST", "/api/collections/buildings/items", big, 413, "larger than 1048576 bytes"},
		{"malformed JSON", "POST", "/api/collections/buildings/items", `{"type":"Feature",`, 400, "malformed JSON"},
		{"not a feature", "POST", "/api/collections/buildings/items", `{"type":"Point","coordinates":[1,2]}`, 400, `type must be "Feature"`},
		{"bad geometry type", "POST", "/api/collections/buildings/items", feature(`{"type":"Circle","coordinates":[1,2]}`, `{}`), 400, "geometry"},
		{"missing geometry", "POST", "/api/collections/buildings/items", feature(`null`, `{}`), 422, "geometry: missing"},
		{"bad collection member", "POST", "/api/collections/buildings/items",
			`{"type":"FeatureCollection","features":[` + feature(square, `{}`) + `,` + feature(square, `{"floors":-3}`) + `]}`, 422, "feature 1 of layer buildings: floors"},
		{"replace missing", "PUT", "/api/collections/buildings/items/999999", feature(square, `{}`), 404, "not found"},
		{"patch bad id", "PATCH", "/api/collections/buildings/items/abc", `{}`, 404, "ids are positive integers"},
		{"bad bbox", "GET", "/api/collections/buildings/items?bbox=1,2,3", "", 400, "bbox needs 4 numbers"},
		{"bbox range", "GET", "/api/collections/buildings/items?bbox=1,2,300,4", "", 400, "longitude outside"},
		{"bad limit", "GET", "/api/collections/buildings/items?limit=-1", "", 400, "limit must be a positive integer"},
		{"unknown filter", "GET", "/api/collections/buildings/items?colour=red", "", 400, "not a property"},
		{"bad filter value", "GET", "/api/collections/buildings/items?floors=many", "", 400, "wants integer"},
		{"tile zoom", "GET", "/tiles/buildings/23/0/0.mvt", "", 400, "zoom 23 above"},
		{"tile x", "GET", "/tiles/buildings/2/4/0.mvt", "", 400, "does not exist"},
		{"tile not number", "GET", "/tiles/buildings/a/0/0.mvt", "", 400, "not a non-negative integer"},
		{"tile suffix", "GET", "/tiles/buildings/1/0/0.png", "", 400, "must end in"},
		{"tile layer", "GET", "/tiles/buildings,castles/1/0/0.mvt", "", 404, `unknown layer "castles"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, h, body := e.do(t, c.method, c.path, c.body)
			var p struct{ Detail string }
			_ = json.Unmarshal(body, &p)
			if status != c.status || !strings.Contains(p.Detail, c.want) {
				t.Fatalf("%s %s: %d %s; want %d containing %q", c.method, c.path, status, body, c.status, c.want)
			}
			if ct := h.Get("Content-Type"); ct != "application/problem+json" {
				t.Fatalf("content type %q", ct)
			}
		})
	}
	if f, c := e.counts(t); f != f0 || c != c0 {
		t.Fatalf("bad input changed the database: features %d→%d, changes %d→%d", f0, f, c0, c)
	}
}

func TestCRUDAndPaging(t *testing.T) {
	e := newEnv(t)
	body := `{"type":"Feature","geometry":{"type":"Point","coordinates":[114.125,22.552]},"properties":{"name":"东门闸口","kind":"main","booth":true}}`
	status, h, b := e.do(t, "POST", "/api/collections/gates/items", body)
	if status != 201 {
		t.Fatalf("create: %d %s", status, b)
	}
	loc := strings.TrimPrefix(h.Get("Location"), e.url)
	status, _, b = e.do(t, "PATCH", loc, `{"properties":{"staffed_hours":"07:00-23:00","booth":null}}`)
	if status != 200 {
		t.Fatalf("patch: %d %s", status, b)
	}
	status, _, b = e.do(t, "GET", loc, "")
	var f struct {
		Properties map[string]any
	}
	_ = json.Unmarshal(b, &f)
	if status != 200 || f.Properties["staffed_hours"] != "07:00-23:00" || f.Properties["booth"] != nil || f.Properties["name"] != "东门闸口" {
		t.Fatalf("get after patch: %d %s", status, b)
	}
	// Paging: two gates, one per page, following next links.
	next := "/api/collections/gates/items?limit=1"
	var ids []float64
	for next != "" && len(ids) < 5 {
		status, _, b = e.do(t, "GET", next, "")
		var page struct {
			Features []struct{ ID float64 }
			Links    []struct{ Href, Rel string }
		}
		if status != 200 || json.Unmarshal(b, &page) != nil {
			t.Fatalf("page: %d %s", status, b)
		}
		for _, f := range page.Features {
			ids = append(ids, f.ID)
		}
		next = ""
		for _, l := range page.Links {
			if l.Rel == "next" {
				next = strings.TrimPrefix(l.Href, e.url)
			}
		}
	}
	if len(ids) != 2 || ids[0] >= ids[1] {
		t.Fatalf("paged ids %v", ids)
	}
	if status, _, _ = e.do(t, "DELETE", loc, ""); status != 204 {
		t.Fatalf("delete: %d", status)
	}
	if status, _, _ = e.do(t, "GET", loc, ""); status != 404 {
		t.Fatalf("get after delete: %d", status)
	}
}

// TestWriteRefreshesExactlyTheTilesItTouches: a building moved through the
// API changes the tiles over its old and new place (new ETag, new content)
// and leaves a tile elsewhere as it was.
func TestWriteRefreshesExactlyTheTilesItTouches(t *testing.T) {
	e := newEnv(t)
	z := uint32(17)
	tileOf := func(lon, lat float64) string {
		t := maptile.At(orb.Point{lon, lat}, maptile.Zoom(z))
		return fmt.Sprintf("/tiles/buildings/%d/%d/%d.mvt", z, t.X, t.Y)
	}
	get := func(path string) (string, []byte) {
		status, h, b := e.do(t, "GET", path, "")
		if status != 200 {
			t.Fatalf("%s: %d %s", path, status, b)
		}
		return h.Get("ETag"), b
	}
	here := tileOf(114.1301, 22.5601) // where the new building goes
	far := tileOf(114.20, 22.60)      // nowhere near
	etagHere, before := get(here)
	etagFar, _ := get(far)
	status, _, _ := e.do(t, "GET", here, "", "If-None-Match", etagHere)
	if status != http.StatusNotModified {
		t.Fatalf("If-None-Match: %d", status)
	}
	body := `{"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[114.13,22.56],[114.1302,22.56],[114.1302,22.5602],[114.13,22.5602],[114.13,22.56]]]},"properties":{"name":"新楼"}}`
	if status, _, b := e.do(t, "POST", "/api/collections/buildings/items", body); status != 201 {
		t.Fatalf("create: %d %s", status, b)
	}
	var etagNow string
	var after []byte
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if etagNow, after = get(here); etagNow != etagHere {
			break
		}
	}
	if etagNow == etagHere || bytes.Equal(before, after) {
		t.Fatalf("tile over the new building unchanged (ETag %s)", etagNow)
	}
	if e2, _ := get(far); e2 != etagFar {
		t.Fatalf("a far tile changed: %s → %s", etagFar, e2)
	}
}

func TestOGCDocuments(t *testing.T) {
	e := newEnv(t)
	for _, path := range []string{"/api", "/api/conformance", "/api/collections", "/api/collections/buildings",
		"/api/collections/buildings/queryables", "/tiles/buildings.json", "/style.json", "/healthz", "/metrics", "/"} {
		status, _, b := e.do(t, "GET", path, "")
		if status != 200 {
			t.Fatalf("%s: %d %s", path, status, b)
		}
	}
	if _, _, b := e.do(t, "GET", "/metrics", ""); !bytes.Contains(b, []byte("hexward_tile_renders_total")) || !bytes.Contains(b, []byte("hexward_http_request_seconds")) {
		t.Fatalf("metrics lack tile or request figures:\n%.500s", b)
	}
	_, _, b := e.do(t, "GET", "/api/collections", "")
	var cols struct{ Collections []struct{ ID string } }
	_ = json.Unmarshal(b, &cols)
	if len(cols.Collections) != len(layers.Governance().Layers()) {
		t.Fatalf("%d collections", len(cols.Collections))
	}
	_, _, b = e.do(t, "GET", "/tiles/buildings.json", "")
	var tj struct {
		TileJSON string `json:"tilejson"`
	}
	_ = json.Unmarshal(b, &tj)
	if tj.TileJSON != "3.0.0" {
		t.Fatalf("tilejson %q", tj.TileJSON)
	}
}

// TestTilesGzip: a client that accepts gzip gets the compressed tile, the
// same tile, under its own ETag.
func TestTilesGzip(t *testing.T) {
	e := newEnv(t)
	tl := maptile.At(orb.Point{114.121, 22.5501}, 16)
	path := fmt.Sprintf("/tiles/%s/16/%d/%d.mvt", strings.Join(layers.Governance().Names(), ","), tl.X, tl.Y)
	_, h1, plain := e.do(t, "GET", path, "", "Accept-Encoding", "identity")
	status, h2, gz := e.do(t, "GET", path, "", "Accept-Encoding", "gzip, deflate")
	if status != 200 || h2.Get("Content-Encoding") != "gzip" || h1.Get("Content-Encoding") != "" || h1.Get("ETag") == h2.Get("ETag") {
		t.Fatalf("gzip: %d %v / %v", status, h2, h1)
	}
	r, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	unzipped, _ := io.ReadAll(r)
	if !bytes.Equal(unzipped, plain) || len(gz) >= len(plain) {
		t.Fatalf("gzip tile %d bytes → %d, plain %d", len(gz), len(unzipped), len(plain))
	}
	if status, _, _ := e.do(t, "GET", path, "", "Accept-Encoding", "gzip", "If-None-Match", h2.Get("ETag")); status != 304 {
		t.Fatalf("If-None-Match on the gzip ETag: %d", status)
	}
}
