package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/paulmach/orb"

	"github.com/hexward/hexward/layers"
)

// OGC API – Features: landing page, conformance, collections, items.

const (
	geoJSONType = "application/geo+json"
	jsonType    = "application/json"
	crs84       = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
	// DefaultLimit and MaxLimit bound a page of items; a larger limit is
	// lowered to MaxLimit, as the standard allows.
	DefaultLimit = 100
	MaxLimit     = 10000
)

type link struct {
	Href  string `json:"href"`
	Rel   string `json:"rel"`
	Type  string `json:"type,omitempty"`
	Title string `json:"title,omitempty"`
}

// base is the scheme and host the client used, for absolute links.
func base(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func (s *Server) landing(w http.ResponseWriter, r *http.Request) error {
	b := base(r)
	writeJSON(w, http.StatusOK, jsonType, map[string]any{
		"title":       "Hexward",
		"description": "Spatial governance layers of the subdistrict (街道空间治理图层)",
		"links": []link{
			{b + "/api", "self", jsonType, "This document"},
			{b + "/api/conformance", "conformance", jsonType, "Conformance classes"},
			{b + "/api/collections", "data", jsonType, "Layers"},
			{b + "/style.json", "stylesheet", "application/vnd.mapbox.style+json", "MapLibre style"},
		},
	})
	return nil
}

func (s *Server) conformance(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, jsonType, map[string]any{"conformsTo": []string{
		"http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
		"http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
		"http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
		"http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
		"http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/create-replace-delete",
		"http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/update",
	}})
	return nil
}

func (s *Server) layer(r *http.Request) (*layers.Layer, error) {
	name := r.PathValue("layer")
	l, ok := s.cat.Layer(name)
	if !ok {
		return nil, &layers.UnknownLayerError{Name: name}
	}
	return l, nil
}

func (s *Server) collectionDoc(r *http.Request, l *layers.Layer) map[string]any {
	b := base(r) + "/api/collections/" + l.Name
	doc := map[string]any{
		"id":          l.Name,
		"title":       l.Title,
		"title_zh":    l.TitleZH,
		"description": fmt.Sprintf("%s / %s (%s layer)", l.Title, l.TitleZH, l.Kind),
		"itemType":    "feature",
		"kind":        l.Kind,
		"minzoom":     l.MinZoom,
		"maxzoom":     l.MaxZoom,
		"crs":         []string{crs84},
		"links": []link{
			{b, "self", jsonType, l.Title},
			{b + "/items", "items", geoJSONType, l.Title + " features"},
			{b + "/queryables", "http://www.opengis.net/def/rel/ogc/1.0/queryables", "application/schema+json", "Queryables"},
			{base(r) + "/tiles/" + l.Name + ".json", "tiles", "application/json", "TileJSON"},
		},
	}
	if s.tiles != nil {
		if bb := s.tiles.Bounds(); bb != (orb.Bound{}) {
			doc["extent"] = map[string]any{"spatial": map[string]any{
				"bbox": [][]float64{{bb.Min[0], bb.Min[1], bb.Max[0], bb.Max[1]}}, "crs": crs84}}
		}
	}
	return doc
}

func (s *Server) collections(w http.ResponseWriter, r *http.Request) error {
	cols := make([]map[string]any, 0, len(s.cat.Layers()))
	for _, l := range s.cat.Layers() {
		cols = append(cols, s.collectionDoc(r, l))
	}
	writeJSON(w, http.StatusOK, jsonType, map[string]any{
		"links":       []link{{base(r) + "/api/collections", "self", jsonType, "Layers"}},
		"collections": cols,
	})
	return nil
}

func (s *Server) collection(w http.ResponseWriter, r *http.Request) error {
	l, err := s.layer(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, jsonType, s.collectionDoc(r, l))
	return nil
}

// queryables is the layer's property schema as JSON Schema (OGC API –
// Features Part 3), with Chinese titles in x-title-zh.
func (s *Server) queryables(w http.ResponseWriter, r *http.Request) error {
	l, err := s.layer(r)
	if err != nil {
		return err
	}
	props := make(ordered, 0, len(l.Props)+1)
	for _, p := range l.Props {
		d := map[string]any{"title": p.Title, "x-title-zh": p.TitleZH}
		switch p.Type {
		case layers.String:
			d["type"] = "string"
			if len(p.Enum) > 0 {
				d["enum"] = p.Enum
			}
		case layers.Integer:
			d["type"] = "integer"
		case layers.Number:
			d["type"] = "number"
		case layers.Boolean:
			d["type"] = "boolean"
		case layers.DateTime:
			d["type"], d["format"] = "string", "date-time"
		case layers.PointProp:
			d["type"], d["minItems"], d["maxItems"] = "array", 2, 2
			d["items"] = map[string]string{"type": "number"}
		}
		if p.Min != nil {
			d["minimum"] = *p.Min
		}
		if p.Max != nil {
			d["maximum"] = *p.Max
		}
		props = append(props, kv{p.Name, d})
	}
	props = append(props, kv{"geometry", map[string]any{"x-ogc-role": "primary-geometry", "format": "geometry-" + map[layers.Kind]string{
		layers.Point: "point-or-multipoint", layers.Line: "linestring-or-multilinestring", layers.Plane: "polygon-or-multipolygon"}[l.Kind]}})
	writeJSON(w, http.StatusOK, "application/schema+json", map[string]any{
		"$schema":    "https://json-schema.org/draft/2020-12/schema",
		"$id":        base(r) + "/api/collections/" + l.Name + "/queryables",
		"type":       "object",
		"title":      l.Title,
		"properties": props,
	})
	return nil
}

// ordered is a JSON object that keeps its keys in order (the catalogue's
// property order, which the map's panel follows).
type ordered []kv

type kv struct {
	k string
	v any
}

func (o ordered) MarshalJSON() ([]byte, error) {
	buf := []byte{'{'}
	for i, e := range o {
		if i > 0 {
			buf = append(buf, ',')
		}
		k, _ := json.Marshal(e.k)
		v, err := json.Marshal(e.v)
		if err != nil {
			return nil, err
		}
		buf = append(append(append(buf, k...), ':'), v...)
	}
	return append(buf, '}'), nil
}

// reserved query parameters; every other parameter filters a property.
var reserved = map[string]bool{"bbox": true, "bbox-crs": true, "limit": true, "cursor": true, "f": true, "crs": true}

// parseItemsQuery reads bbox, limit, cursor and property filters.
func parseItemsQuery(l *layers.Layer, v url.Values) (layers.Query, error) {
	q := layers.Query{Layer: l.Name, Limit: DefaultLimit}
	for k, vals := range v {
		if len(vals) != 1 {
			return q, badRequest("parameter %s given %d times", k, len(vals))
		}
	}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return q, badRequest("limit must be a positive integer, got %q", s)
		}
		q.Limit = min(n, MaxLimit)
	}
	if s := v.Get("cursor"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return q, badRequest("cursor must be a feature id, got %q", s)
		}
		q.After = n
	}
	if s := v.Get("bbox"); s != "" {
		b, err := ParseBBox(s)
		if err != nil {
			return q, err
		}
		q.BBox = &b
	}
	for _, k := range []string{"bbox-crs", "crs"} {
		if s := v.Get(k); s != "" && s != crs84 {
			return q, badRequest("%s %q is not supported; only %s", k, s, crs84)
		}
	}
	if f := v.Get("f"); f != "" && f != "json" && f != "geojson" {
		return q, badRequest("format f=%q is not supported; use json", f)
	}
	for k := range v {
		if reserved[k] {
			continue
		}
		val, err := layers.ParseFilter(l, k, v.Get(k))
		if err != nil {
			return q, badRequest("%v", err)
		}
		if q.Filters == nil {
			q.Filters = map[string]any{}
		}
		q.Filters[k] = val
	}
	return q, nil
}

// ParseBBox parses "minLon,minLat,maxLon,maxLat" (or the 6-number form with
// heights) in CRS84 and checks it.
func ParseBBox(s string) (orb.Bound, error) {
	parts := strings.Split(s, ",")
	if len(parts) != 4 && len(parts) != 6 {
		return orb.Bound{}, badRequest("bbox needs 4 numbers (minLon,minLat,maxLon,maxLat), got %d", len(parts))
	}
	n := make([]float64, len(parts))
	for i, p := range parts {
		f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || f != f {
			return orb.Bound{}, badRequest("bbox value %q is not a number", p)
		}
		n[i] = f
	}
	if len(n) == 6 {
		n = []float64{n[0], n[1], n[3], n[4]}
	}
	b := orb.Bound{Min: orb.Point{n[0], n[1]}, Max: orb.Point{n[2], n[3]}}
	switch {
	case b.Min[0] < -180 || b.Max[0] > 180:
		return b, badRequest("bbox longitude outside -180..180")
	case b.Min[1] < -90 || b.Max[1] > 90:
		return b, badRequest("bbox latitude outside -90..90")
	case b.Min[0] > b.Max[0] || b.Min[1] > b.Max[1]:
		return b, badRequest("bbox minimum is greater than maximum")
	}
	return b, nil
}

type outFeature struct {
	Type       string          `json:"type"`
	ID         int64           `json:"id"`
	Geometry   json.RawMessage `json:"geometry"`
	Properties json.RawMessage `json:"properties"`
	Links      []link          `json:"links,omitempty"`
}

func (s *Server) items(w http.ResponseWriter, r *http.Request) error {
	l, err := s.layer(r)
	if err != nil {
		return err
	}
	q, err := parseItemsQuery(l, r.URL.Query())
	if err != nil {
		return err
	}
	q.Scope = scopeOf(r)
	items, err := s.store.Items(r.Context(), q)
	if err != nil {
		return err
	}
	feats := make([]outFeature, len(items))
	for i, it := range items {
		feats[i] = outFeature{Type: "Feature", ID: it.ID, Geometry: it.Geometry, Properties: it.Props}
	}
	self := base(r) + r.URL.Path
	links := []link{{self + "?" + r.URL.RawQuery, "self", geoJSONType, "This page"}}
	if len(items) == q.Limit {
		next := r.URL.Query()
		next.Set("cursor", strconv.FormatInt(items[len(items)-1].ID, 10))
		next.Set("limit", strconv.Itoa(q.Limit))
		links = append(links, link{self + "?" + next.Encode(), "next", geoJSONType, "Next page"})
	}
	writeJSON(w, http.StatusOK, geoJSONType, map[string]any{
		"type":           "FeatureCollection",
		"features":       feats,
		"numberReturned": len(feats),
		"timeStamp":      time.Now().UTC().Format(time.RFC3339),
		"links":          links,
	})
	return nil
}

// layerAndID reads the {layer} and {id} of an item's path.
func (s *Server) layerAndID(r *http.Request) (*layers.Layer, int64, error) {
	l, err := s.layer(r)
	if err != nil {
		return nil, 0, err
	}
	id, err := featureID(r)
	return l, id, err
}

func featureID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, notFound("no feature %q: ids are positive integers", r.PathValue("id"))
	}
	return id, nil
}

func (s *Server) item(w http.ResponseWriter, r *http.Request) error {
	l, id, err := s.layerAndID(r)
	if err != nil {
		return err
	}
	it, err := s.store.Item(r.Context(), l.Name, id, scopeOf(r))
	if err != nil {
		return err
	}
	self := base(r) + r.URL.Path
	w.Header().Set("Last-Modified", it.Updated.UTC().Format(http.TimeFormat))
	writeJSON(w, http.StatusOK, geoJSONType, outFeature{Type: "Feature", ID: it.ID, Geometry: it.Geometry, Properties: it.Props,
		Links: []link{{self, "self", geoJSONType, ""}, {base(r) + "/api/collections/" + l.Name, "collection", jsonType, l.Title}}})
	return nil
}
