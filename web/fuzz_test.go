package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"github.com/hexward/hexward/layers"
	"github.com/hexward/hexward/layers/positions"
	"github.com/hexward/hexward/tiles"
)

// The fuzz targets of the request parsers: query parameters, tile paths
// and request bodies. None may panic; each refuses with a 400 or returns
// values within the limits its callers rely on.

// checkBadRequest fails unless err is a 400 for the client.
func checkBadRequest(t *testing.T, err error) {
	t.Helper()
	var he *httpError
	if !errors.As(err, &he) || he.status != http.StatusBadRequest {
		t.Fatalf("error %T %v, want a 400 httpError", err, err)
	}
}

// checkBBox fails unless b is a bounding box the store can query.
func checkBBox(t *testing.T, b orb.Bound) {
	t.Helper()
	for _, v := range []float64{b.Min[0], b.Min[1], b.Max[0], b.Max[1]} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			t.Fatalf("accepted bbox %v has a non-finite value", b)
		}
	}
	if b.Min[0] < -180 || b.Max[0] > 180 || b.Min[1] < -90 || b.Max[1] > 90 {
		t.Fatalf("accepted bbox %v is out of range", b)
	}
	if b.Min[0] > b.Max[0] || b.Min[1] > b.Max[1] {
		t.Fatalf("accepted bbox %v has min > max", b)
	}
}

func FuzzParseBBox(f *testing.F) {
	for _, s := range []string{
		"114.1,22.5,114.2,22.6",
		"114.1,22.5,0,114.2,22.6,100",
		"-180,-90,180,90",
		" 1 , 2 , 3 , 4 ",
		"1,2,3",
		"1,2,3,4,5",
		"2,2,1,1",
		"-181,0,0,0",
		"0,0,0,91",
		"NaN,0,1,1",
		"-Inf,-90,Inf,90",
		"1e400,0,0,0",
		"0x1p-2,0,1,1",
		"1_0,0,20,20",
		"",
		",,,",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := ParseBBox(s)
		if err != nil {
			checkBadRequest(t, err)
			return
		}
		checkBBox(t, b)
	})
}

func FuzzParseItemsQuery(f *testing.F) {
	for _, s := range []string{
		"",
		"limit=10&cursor=42",
		"limit=0",
		"limit=-1",
		"limit=99999999999999999999",
		"limit=100000",
		"cursor=-5",
		"cursor=9223372036854775808",
		"bbox=114.1,22.5,114.2,22.6&bbox-crs=http://www.opengis.net/def/crs/OGC/1.3/CRS84",
		"bbox=1,2,3&f=json",
		"bbox-crs=EPSG:3857",
		"crs=EPSG:4326",
		"f=html",
		"use=residential&floors=6",
		"floors=6.5",
		"height=NaN",
		"height=-Inf",
		"height=1e400",
		"booth=true&kind=main",
		"booth=maybe",
		"entrance=1,2",
		"name=%ff%fe",
		"nope=1",
		"limit=1&limit=2",
		"%zz=1",
	} {
		for i := range 3 {
			f.Add(uint8(i), s)
		}
	}
	cat := layers.Governance()
	picks := []string{"buildings", "gates", "cameras"}
	f.Fuzz(func(t *testing.T, pick uint8, raw string) {
		l, _ := cat.Layer(picks[int(pick)%len(picks)])
		v, _ := url.ParseQuery(raw) // what parsed, as r.URL.Query() gives it
		q, err := parseItemsQuery(l, v)
		if err != nil {
			checkBadRequest(t, err)
			return
		}
		if q.Layer != l.Name {
			t.Fatalf("query of layer %q, want %q", q.Layer, l.Name)
		}
		if q.Limit < 1 || q.Limit > MaxLimit {
			t.Fatalf("limit %d outside 1..%d", q.Limit, MaxLimit)
		}
		if q.After < 0 {
			t.Fatalf("negative cursor %d", q.After)
		}
		if q.BBox != nil {
			checkBBox(t, *q.BBox)
		}
		for k, val := range q.Filters {
			if reserved[k] {
				t.Fatalf("reserved parameter %s taken as a filter", k)
			}
			p, ok := l.Prop(k)
			if !ok {
				t.Fatalf("filter on %q, not a property of %s", k, l.Name)
			}
			ok = false
			switch p.Type {
			case layers.String, layers.DateTime:
				_, ok = val.(string)
			case layers.Integer:
				_, ok = val.(int64)
			case layers.Number:
				_, ok = val.(float64)
			case layers.Boolean:
				_, ok = val.(bool)
			}
			if !ok {
				t.Fatalf("filter %s = %#v (%T) for a %s property", k, val, val, p.Type)
			}
		}
		// The store sends the filters to PostgreSQL as JSON.
		if _, err := json.Marshal(q.Filters); err != nil {
			t.Fatalf("filters %#v cannot be sent to the store: %v", q.Filters, err)
		}
	})
}

func FuzzParseTile(f *testing.F) {
	for _, s := range [][3]string{
		{"0", "0", "0.mvt"},
		{"14", "13373", "7141.mvt"},
		{"22", "4194303", "4194303.pbf"},
		{"22", "4194304", "0.mvt"},
		{"23", "0", "0.mvt"},
		{"1", "2", "0.mvt"},
		{"31", "0", "0.mvt"},
		{"64", "0", "0.mvt"},
		{"4294967296", "0", "0.mvt"},
		{"-1", "0", "0.mvt"},
		{"+1", "0", "0.mvt"},
		{"1", "0", "0"},
		{"1", "0", ".mvt"},
		{"01", "00", "01.mvt"},
		{"", "", ""},
	} {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, zs, xs, ys string) {
		r := httptest.NewRequest(http.MethodGet, "/tiles/buildings/0/0/0.mvt", nil)
		r.SetPathValue("z", zs)
		r.SetPathValue("x", xs)
		r.SetPathValue("y", ys)
		z, x, y, err := parseTile(r)
		if err != nil {
			checkBadRequest(t, err)
			return
		}
		if z > tiles.MaxZoom || uint64(x) >= 1<<z || uint64(y) >= 1<<z {
			t.Fatalf("accepted tile %d/%d/%d does not exist", z, x, y)
		}
		if strconv.FormatUint(uint64(z), 10) != trimZeros(zs) || strconv.FormatUint(uint64(x), 10) != trimZeros(xs) {
			t.Fatalf("path %s/%s/%s read as %d/%d/%d", zs, xs, ys, z, x, y)
		}
	})
}

// trimZeros drops leading zeros of a decimal number ("007" is 7).
func trimZeros(s string) string {
	for len(s) > 1 && s[0] == '0' {
		s = s[1:]
	}
	return s
}

// FuzzDecodeBody runs a request body through what the write handlers do
// before the store: decodeBody, toFeature for a Feature or each feature
// of a FeatureCollection, geometry for a merge patch, and the layer's
// validation.
func FuzzDecodeBody(f *testing.F) {
	for _, s := range []string{
		`{"type":"Feature","geometry":{"type":"Point","coordinates":[114.12,22.55]},"properties":{"name":"北门","kind":"main","booth":true}}`,
		`{"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[114.12,22.55],[114.13,22.55],[114.13,22.56],[114.12,22.55]]]},"properties":{"name":"楼","floors":6,"entrance":[114.125,22.555]}}`,
		`{"type":"Feature","geometry":{"type":"LineString","coordinates":[[114.12,22.55],[114.13,22.56]]},"properties":{"kind":"alley","width":3}}`,
		`{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"Point","coordinates":[1,2]},"properties":{}},{"type":"Feature","geometry":null}]}`,
		`{"type":"FeatureCollection","features":[{"type":"Point"}]}`,
		`{"properties":{"floors":7}}`,
		`{"geometry":{"type":"MultiPolygon","coordinates":[[[[0,0],[1,0],[1,1],[0,0]]],[]]}}`,
		`{"type":"Feature","geometry":{"type":"GeometryCollection","geometries":[{"type":"Point","coordinates":[1,2]}]}}`,
		`{"type":"Feature","geometry":{"type":"Point","coordinates":[]}}`,
		`{"type":"Feature","geometry":{"type":"Polygon","coordinates":[[]]}}`,
		`{"type":"Feature","geometry":{"type":"Circle","coordinates":[1,2]}}`,
		`{"type":"Feature","geometry":{"type":"Point"}}`,
		`{"type":"Feature","geometry":"x"}`,
		`{"type":"Feature","geometry":{"type":"Point","coordinates":[1e400,2]}}`,
		`{"type":1}`,
		`{"features":{}}`,
		`[]`,
		`null`,
		`{"type":"Feature",`,
		``,
	} {
		for i := range 3 {
			f.Add(uint8(i), []byte(s))
		}
	}
	cat := layers.Governance()
	picks := []string{"buildings", "gates", "streets"}
	f.Fuzz(func(t *testing.T, pick uint8, body []byte) {
		layer := picks[int(pick)%len(picks)]
		r := httptest.NewRequest(http.MethodPost, "/api/collections/"+layer+"/items", bytes.NewReader(body))
		var in inFeature
		if err := decodeBody(r, &in); err != nil {
			checkBadRequest(t, err)
			return
		}
		validate := func(feat layers.Feature, i int) {
			if feat.Layer != layer {
				t.Fatalf("feature of layer %q, want %q", feat.Layer, layer)
			}
			if err := cat.Validate(&feat, i); err != nil {
				var ve *layers.ValidationError
				if !errors.As(err, &ve) {
					t.Fatalf("Validate: %T %v, want a *ValidationError", err, err)
				}
			}
		}
		// PATCH: the geometry alone.
		if _, err := geometry(in.Geometry, -1); err != nil {
			checkBadRequest(t, err)
		}
		// POST of a collection.
		if in.Type == "FeatureCollection" {
			for i, fin := range in.Features {
				feat, err := fin.toFeature(layer, i)
				if err != nil {
					checkBadRequest(t, err)
					continue
				}
				validate(feat, i)
			}
		}
		// POST or PUT of a feature.
		feat, err := in.toFeature(layer, -1)
		if err != nil {
			checkBadRequest(t, err)
			return
		}
		validate(feat, -1)
	})
}

// fuzzNow is the clock of the position fuzz target: seeds stay valid.
var fuzzNow = time.Date(2025, 6, 1, 8, 0, 0, 0, time.UTC)

// checkPositions fails unless ps, as a parser accepted it, holds finite
// coordinates, and unless the positions service either refuses it with an
// *InvalidError or accepts positions within range with a fix time.
func checkPositions(t *testing.T, ps []positions.Position, device bool) {
	t.Helper()
	for i, p := range ps {
		if !finite(p.Lon) || !finite(p.Lat) {
			t.Fatalf("position %d: accepted non-finite lon/lat %v,%v", i, p.Lon, p.Lat)
		}
		if device && p.Device == "" {
			t.Fatalf("position %d: accepted without a device", i)
		}
	}
	svc := positions.New(nil)
	svc.SetClock(func() time.Time { return fuzzNow })
	if err := svc.Validate(ps); err != nil {
		var ie *positions.InvalidError
		if !errors.As(err, &ie) {
			t.Fatalf("Validate: %T %v, want an *InvalidError", err, err)
		}
		return
	}
	for i, p := range ps {
		if p.Lon < -180 || p.Lon > 180 || p.Lat < -90 || p.Lat > 90 {
			t.Fatalf("position %d: accepted lon/lat %v,%v out of range", i, p.Lon, p.Lat)
		}
		if p.Time.IsZero() || p.Time.Before(positions.Earliest) || p.Time.After(fuzzNow.Add(positions.MaxFuture)) {
			t.Fatalf("position %d: accepted fix time %v", i, p.Time)
		}
		for _, v := range []*float64{p.Speed, p.Bearing, p.Altitude, p.Accuracy, p.Battery} {
			if v != nil && !finite(*v) {
				t.Fatalf("position %d: accepted non-finite value %v", i, *v)
			}
		}
		// The store sends the attributes to PostgreSQL as JSON.
		if _, err := json.Marshal(p.Attrs); err != nil {
			t.Fatalf("position %d: attributes %#v cannot be stored: %v", i, p.Attrs, err)
		}
	}
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// fuzzRequest is a request to path with a raw query string (not
// necessarily valid: it is what the client sent) and a body.
func fuzzRequest(method, path, query, contentType string, body []byte) *http.Request {
	r := &http.Request{Method: method, URL: &url.URL{Path: path, RawQuery: query}, Header: http.Header{},
		Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body))}
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	return r
}

// FuzzOsmand runs a query string and a body through what /osmand does
// before the database: osmandForm for a GET and for a form POST,
// osmandJSON for Traccar Client's JSON, and positionsBatch for the body of
// /ingest/positions, then the positions service's validation.
func FuzzOsmand(f *testing.F) {
	ts := strconv.FormatInt(fuzzNow.Add(-time.Minute).Unix(), 10)
	iso := fuzzNow.Add(-time.Minute).Format(time.RFC3339Nano)
	for _, s := range [][2]string{
		{"id=device&lat=22.55&lon=114.12&timestamp=" + ts + "&speed=3.2&bearing=90&altitude=12&accuracy=5&batt=80&hdop=1.2&charge=true", ""},
		{"deviceid=device&location=22.5513,114.1213&timestamp=" + ts + "250", "event=motion&speed=0"},
		{"id=device&lat=22.55&lon=114.12&timestamp=" + iso, ""},
		{"id=device&lat=22.55&lon=114.12&timestamp=2025-06-01 07:59:00", ""},
		{"id=device&lat=22.55&lon=114.12&timestamp=1748764740.5", ""},
		{"id=device&lat=22.55&lon=114.12", ""},
		{"id=device&lat=95&lon=114.12", ""},
		{"id=device&lat=NaN&lon=Inf", ""},
		{"id=device&lat=1e400&lon=0x1p-2", ""},
		{"id=device&location=22.55", ""},
		{"id=device&location=,", ""},
		{"id=device&lat=0&lon=0", ""},
		{"id=device&lat=22.55&lon=114.12&timestamp=1e300", ""},
		{"id=device&lat=22.55&lon=114.12&timestamp=-9.3e18", ""},
		{"id=device&lat=22.55&lon=114.12&speed=1e308", ""},
		{"id=&lat=1&lon=1", ""},
		{"lat=1&lon=1&id=device&id=other", ""},
		{"%zz=1;a", "a=%"},
		{"", ""},
		{"", `{"device_id":"device","location":{"timestamp":"` + iso + `","coords":{"latitude":22.55,"longitude":114.12,"accuracy":5,"speed":1.5,"heading":-1,"altitude":20},"battery":{"level":0.82,"is_charging":true},"is_moving":true,"odometer":1200,"event":"motionchange","activity":{"type":"walking"}}}`},
		{"", `{"device_id":"device","location":[{"timestamp":` + ts + `,"coords":{"latitude":22.55,"longitude":114.12}},{"timestamp":"` + iso + `","coords":{"latitude":22.56,"longitude":114.13}}]}`},
		{"", `{"device_id":"device","location":{"timestamp":"` + iso + `","coords":{"latitude":22.55,"longitude":114.12},"battery":{"level":1e306}}}`},
		{"", `{"device_id":"device","location":{"timestamp":null,"coords":{"latitude":22.55,"longitude":114.12}}}`},
		{"", `{"device_id":"device","location":{"timestamp":{},"coords":{"latitude":1e400,"longitude":114.12}}}`},
		{"", `{"device_id":"device","location":[]}`},
		{"", `{"device_id":"device","location":null}`},
		{"", `{"device_id":"device","location":"x"}`},
		{"", `{"positions":[{"ts":"` + iso + `","lon":114.12,"lat":22.55,"speed":1,"bearing":10,"accuracy":4,"battery":50,"altitude":3,"attrs":{"hdop":0.9,"fix":"3d","moving":true,"n":null}}]}`},
		{"", `{"positions":[{"ts":"` + iso + `","lon":114.12,"lat":22.55,"attrs":{"nested":{"a":[1]}}}]}`},
		{"", `{"positions":[{"ts":"2025-03-14T08:00:00","lon":114.12,"lat":22.55}]}`},
		{"", `{"positions":[]}`},
		{"", `{"positions":[`},
	} {
		f.Add(s[0], []byte(s[1]))
	}
	f.Fuzz(func(t *testing.T, query string, body []byte) {
		// GET, and form POST (query string and body).
		for _, r := range []*http.Request{
			fuzzRequest(http.MethodGet, "/osmand", query, "", nil),
			fuzzRequest(http.MethodPost, "/osmand", query, "application/x-www-form-urlencoded", body),
		} {
			ps, err := osmandForm(r, fuzzNow)
			if err != nil {
				checkBadRequest(t, err)
				continue
			}
			if len(ps) != 1 {
				t.Fatalf("osmandForm: %d positions, want 1", len(ps))
			}
			checkPositions(t, ps, true)
		}
		// Traccar Client's JSON.
		if ps, err := osmandJSON(fuzzRequest(http.MethodPost, "/osmand", "", "application/json", body)); err != nil {
			checkBadRequest(t, err)
		} else {
			checkPositions(t, ps, true)
		}
		// The batch of /ingest/positions.
		if ps, err := positionsBatch(fuzzRequest(http.MethodPost, "/ingest/positions", "", "application/json", body)); err != nil {
			checkBadRequest(t, err)
		} else {
			if len(ps) == 0 || len(ps) > positions.MaxBatch {
				t.Fatalf("positionsBatch: accepted %d positions", len(ps))
			}
			checkPositions(t, ps, false)
		}
	})
}

// FuzzDecodeReadings runs a body through what /ingest/readings does before
// the database.
func FuzzDecodeReadings(f *testing.F) {
	for _, s := range []string{
		`{"readings":[{"sensor":7,"ts":"2025-06-01T08:00:00Z","value":21.5},{"sensor":8,"ts":"2025-06-01T16:00:00.123+08:00","value":-3}]}`,
		`{"readings":[]}`,
		`{"readings":null}`,
		`{"readings":[null]}`,
		`{"readings":[{"sensor":7,"ts":"2025-06-01T08:00:00Z"}]}`,
		`{"readings":[{"sensor":7,"value":1}]}`,
		`{"readings":[{"ts":"2025-06-01T08:00:00Z","value":1}]}`,
		`{"readings":[{"sensor":7,"ts":"2025-06-01T08:00:00","value":1}]}`,
		`{"readings":[{"sensor":7,"ts":"2025-06-01T08:00:00Z","value":1e400}]}`,
		`{"readings":[{"sensor":7.5,"ts":"2025-06-01T08:00:00Z","value":1}]}`,
		`{"readings":[{"sensor":9223372036854775808,"ts":"2025-06-01T08:00:00Z","value":1}]}`,
		`{"readings":[{"sensor":7,"ts":"2025-06-01T08:00:00Z","value":"1"}]}`,
		`{"readings":[{"sensor":7,"ts":"2025-06-01T08:00:00Z","value":1,"unit":"C"}]}`,
		`{"readings":[{"sensor":7,"ts":"2025-06-01T08:00:00Z","value":1} {}]}`,
		`{"Readings":[{"Sensor":7,"TS":"2025-06-01T08:00:00Z","VALUE":1}]}`,
		`{"readings":{}}`,
		`[]`,
		`{"readings":[`,
		``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		rs, err := decodeReadings(fuzzRequest(http.MethodPost, "/ingest/readings", "", "application/json", body))
		if err != nil {
			checkBadRequest(t, err)
			return
		}
		for i, r := range rs {
			if !finite(r.Value) {
				t.Fatalf("reading %d: accepted non-finite value %v", i, r.Value)
			}
		}
	})
}
