package web_test

import (
	"context"
	"encoding/json"
	"math"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"github.com/hexward/hexward/layers"
)

// officers creates the officer features whose phones are the test
// accounts "device" and "officer", and returns their ids.
func (e *env) officers(t *testing.T) (dev, off int64) {
	t.Helper()
	ids := make([]int64, 2)
	for i, account := range []string{"device", "officer"} {
		f, err := e.store.Create(context.Background(), layers.Feature{Layer: "officers", Geometry: orb.Point{114.12, 22.55},
			Props: map[string]any{"name": "Officer " + account, "device": account, "duty": "patrol"}})
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = f.ID
	}
	return ids[0], ids[1]
}

type storedPosition struct {
	TS                                          time.Time
	Lon, Lat                                    float64
	Speed, Bearing, Altitude, Accuracy, Battery *float64
	Attrs                                       map[string]any
}

func (e *env) positions(t *testing.T, officer int64) []storedPosition {
	t.Helper()
	rows, err := e.store.Pool().Query(context.Background(), `SELECT ts, lon, lat, speed, bearing, altitude, accuracy, battery, attrs
		FROM positions WHERE officer_id = $1 ORDER BY ts`, officer)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []storedPosition
	for rows.Next() {
		var p storedPosition
		if err := rows.Scan(&p.TS, &p.Lon, &p.Lat, &p.Speed, &p.Bearing, &p.Altitude, &p.Accuracy, &p.Battery, &p.Attrs); err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

func (e *env) allPositions(t *testing.T) int {
	t.Helper()
	var n int
	if err := e.store.Pool().QueryRow(context.Background(), `SELECT count(*) FROM positions`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func near(a *float64, b float64) bool { return a != nil && math.Abs(*a-b) < 1e-9 }

const form = "application/x-www-form-urlencoded"

func TestOsmAndProtocol(t *testing.T) {
	e := newEnv(t)
	dev, _ := e.officers(t)
	base := time.Now().Add(-time.Hour).Truncate(time.Second).UTC()

	// Traccar Client / OsmAnd: a GET with the query, as the apps send it.
	q := url.Values{"id": {"device"}, "lat": {"22.5512345"}, "lon": {"114.1212345"}, "timestamp": {itoa(base.Unix())},
		"speed": {"10"}, "bearing": {"45.5"}, "altitude": {"12.5"}, "accuracy": {"8"}, "hdop": {"0.8"}, "batt": {"76"},
		"charge": {"true"}, "event": {"start"}, "driverUniqueId": {"D-7"}}
	status, _, body := e.as(t, "device", "GET", "/osmand?"+q.Encode(), "")
	if status != 200 || len(body) != 0 {
		t.Fatalf("GET: %d %q; want 200 with an empty body", status, body)
	}
	// A form POST with deviceid, location=lat,lon and milliseconds.
	q = url.Values{"deviceid": {"device"}, "location": {"22.5513,114.1213"}, "timestamp": {itoa(base.Add(10*time.Second).UnixMilli() + 250)},
		"speed": {"0"}, "heading": {"90"}, "batt": {"75.5"}}
	if status, _, body = e.as(t, "device", "POST", "/osmand", q.Encode(), "Content-Type", form); status != 200 || len(body) != 0 {
		t.Fatalf("form POST: %d %q", status, body)
	}
	// A POST with the parameters in the query and ISO 8601 time.
	q = url.Values{"id": {"device"}, "lat": {"22.5514"}, "lon": {"114.1214"}, "timestamp": {base.Add(20 * time.Second).In(time.FixedZone("CST", 8*3600)).Format(time.RFC3339)}}
	if status, _, body = e.as(t, "device", "POST", "/osmand?"+q.Encode(), "", "Content-Type", form); status != 200 {
		t.Fatalf("query POST: %d %q", status, body)
	}
	// Traccar Client's JSON: speed m/s, battery level 0..1, -1 unknown.
	js := `{"location":{"timestamp":"` + base.Add(30*time.Second).Format("2006-01-02T15:04:05.000Z") + `",
		"coords":{"latitude":22.5515,"longitude":114.1215,"accuracy":4.5,"speed":1.4,"heading":-1,"altitude":20},
		"is_moving":true,"odometer":1234.5,"event":"motionchange","battery":{"level":0.52,"is_charging":false},"activity":{"type":"walking"}},
		"device_id":"device"}`
	if status, _, body = e.as(t, "device", "POST", "/osmand", js, "Content-Type", "application/json"); status != 200 || len(body) != 0 {
		t.Fatalf("JSON POST: %d %q", status, body)
	}

	got := e.positions(t, dev)
	if len(got) != 4 {
		t.Fatalf("%d positions stored, want 4: %+v", len(got), got)
	}
	p := got[0]
	if !p.TS.Equal(base) || p.Lat != 22.5512345 || p.Lon != 114.1212345 || !near(p.Speed, 10*1852.0/3600) || !near(p.Bearing, 45.5) ||
		!near(p.Altitude, 12.5) || !near(p.Accuracy, 8) || !near(p.Battery, 76) {
		t.Errorf("GET stored %+v", p)
	}
	if p.Attrs["hdop"] != 0.8 || p.Attrs["charge"] != true || p.Attrs["event"] != "start" || p.Attrs["driverUniqueId"] != "D-7" || len(p.Attrs) != 4 {
		t.Errorf("GET attributes %v", p.Attrs)
	}
	if p = got[1]; !p.TS.Equal(base.Add(10250*time.Millisecond)) || p.Lat != 22.5513 || p.Lon != 114.1213 || !near(p.Speed, 0) ||
		!near(p.Bearing, 90) || !near(p.Battery, 75.5) || p.Accuracy != nil || p.Attrs != nil {
		t.Errorf("form POST stored %+v", p)
	}
	if p = got[2]; !p.TS.Equal(base.Add(20*time.Second)) || p.Lat != 22.5514 || p.Speed != nil {
		t.Errorf("query POST stored %+v", p)
	}
	if p = got[3]; !p.TS.Equal(base.Add(30*time.Second)) || p.Lat != 22.5515 || p.Lon != 114.1215 || !near(p.Speed, 1.4) || p.Bearing != nil ||
		!near(p.Accuracy, 4.5) || !near(p.Altitude, 20) || !near(p.Battery, 52) ||
		p.Attrs["motion"] != true || p.Attrs["odometer"] != 1234.5 || p.Attrs["event"] != "motionchange" || p.Attrs["charge"] != false || p.Attrs["activity"] != "walking" {
		t.Errorf("JSON stored %+v %v", p, p.Attrs)
	}

	// The marker is at the newest fix, readable over the API.
	status, _, body = e.as(t, "operator", "GET", "/api/collections/officers/items/"+itoa(dev), "")
	var item struct {
		Geometry   struct{ Coordinates []float64 }
		Properties map[string]any
	}
	if err := json.Unmarshal(body, &item); status != 200 || err != nil {
		t.Fatalf("%d %s", status, body)
	}
	if c := item.Geometry.Coordinates; len(c) != 2 || c[0] != 114.1215 || c[1] != 22.5515 ||
		item.Properties["fix_time"] != base.Add(30*time.Second).Format(time.RFC3339) || item.Properties["battery"] != 52.0 {
		t.Fatalf("marker %v %v", item.Geometry, item.Properties)
	}

	// Sending a fix again changes nothing and still answers 200 (the app
	// retries until it gets one).
	q = url.Values{"id": {"device"}, "lat": {"22.6"}, "lon": {"114.2"}, "timestamp": {itoa(base.Unix())}}
	if status, _, _ = e.as(t, "device", "GET", "/osmand?"+q.Encode(), ""); status != 200 {
		t.Fatalf("resent: %d", status)
	}
	if got := e.positions(t, dev); len(got) != 4 || got[0].Lat != 22.5512345 {
		t.Fatalf("a resent fix changed the stored ones: %+v", got[0])
	}
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

func TestPositionsBatchAndMarker(t *testing.T) {
	e := newEnv(t)
	_, off := e.officers(t)
	base := time.Now().Add(-2 * time.Hour).Truncate(time.Millisecond).UTC()
	batch := func(from time.Time, n int) string {
		var ps []string
		for i := 0; i < n; i++ {
			ps = append(ps, `{"ts":"`+from.Add(time.Duration(i)*5*time.Second).Format(time.RFC3339Nano)+`","lon":`+
				strconv.FormatFloat(114.12+float64(i)*1e-4, 'f', -1, 64)+`,"lat":22.55,"speed":1.1,"bearing":180,"accuracy":6,"battery":64,"altitude":3}`)
		}
		return `{"positions":[` + strings.Join(ps, ",") + `]}`
	}
	var res struct {
		Officer              int64
		Accepted, Duplicates int
		Moved                bool
	}
	// An officer's own phone, signed in with the officer's token.
	status, _, body := e.as(t, "officer", "POST", "/ingest/positions", batch(base.Add(time.Hour), 20), "Content-Type", "application/json")
	if err := json.Unmarshal(body, &res); status != 200 || err != nil || res.Officer != off || res.Accepted != 20 || !res.Moved {
		t.Fatalf("%d %s", status, body)
	}
	marker := func() layers.Feature {
		f, err := e.store.Get(context.Background(), "officers", off)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	want := base.Add(time.Hour + 95*time.Second).Format(time.RFC3339Nano)
	if m := marker(); m.Props["fix_time"] != want || math.Abs(m.Geometry.(orb.Point)[0]-114.1219) > 1e-9 || m.Props["speed"] != 1.1 {
		t.Fatalf("marker %v %v, want at %s", m.Geometry, m.Props, want)
	}
	// Buffered offline an hour earlier, uploaded now: stored, marker stays.
	status, _, body = e.as(t, "officer", "POST", "/ingest/positions", batch(base, 30), "Content-Type", "application/json")
	if err := json.Unmarshal(body, &res); status != 200 || err != nil || res.Accepted != 30 || res.Moved {
		t.Fatalf("late batch: %d %s", status, body)
	}
	if m := marker(); m.Props["fix_time"] != want {
		t.Fatalf("a late batch moved the marker back to %v", m.Props["fix_time"])
	}
	// Resent: all duplicates.
	status, _, body = e.as(t, "officer", "POST", "/ingest/positions", batch(base, 30), "Content-Type", "application/json")
	if err := json.Unmarshal(body, &res); status != 200 || err != nil || res.Accepted != 0 || res.Duplicates != 30 {
		t.Fatalf("resent batch: %d %s", status, body)
	}
	if n := len(e.positions(t, off)); n != 50 {
		t.Fatalf("%d stored, want 50", n)
	}
}

func TestPositionsRefused(t *testing.T) {
	e := newEnv(t)
	dev, off := e.officers(t)
	now := time.Now()
	ok := url.Values{"id": {"device"}, "lat": {"22.55"}, "lon": {"114.12"}, "timestamp": {itoa(now.Unix())}}
	with := func(k, v string) string {
		q := url.Values{}
		for k, v := range ok {
			q[k] = v
		}
		if v == "" {
			delete(q, k)
		} else {
			q.Set(k, v)
		}
		return q.Encode()
	}
	cases := []struct {
		name, user, method, path, body, ctype string
		status                                int
		want                                  string
	}{
		{"another officer's device", "device", "GET", "/osmand?" + with("id", "officer"), "", "", 403, `names device "officer"`},
		{"another officer's device (JSON)", "device", "POST", "/osmand",
			`{"device_id":"officer","location":{"timestamp":"` + now.Format(time.RFC3339) + `","coords":{"latitude":22.55,"longitude":114.12}}}`, "application/json", 403, "another account's device"},
		{"officer for the device", "officer", "POST", "/osmand", with("id", "device"), form, 403, `names device "device"`},
		{"unknown device", "device", "GET", "/osmand?" + with("id", "ghost"), "", "", 400, `unknown device "ghost"`},
		{"no device id", "device", "GET", "/osmand?" + with("id", ""), "", "", 400, "missing id"},
		{"latitude 95", "device", "GET", "/osmand?" + with("lat", "95"), "", "", 400, "lat: 95 outside -90..90"},
		{"longitude 200", "device", "POST", "/osmand", with("lon", "200"), form, 400, "lon: 200 outside"},
		{"latitude NaN", "device", "GET", "/osmand?" + with("lat", "NaN"), "", "", 400, `lat: want a number, got "NaN"`},
		{"latitude text", "device", "GET", "/osmand?" + with("lat", "north"), "", "", 400, `lat: want a number`},
		{"no position", "device", "GET", "/osmand?" + with("lat", ""), "", "", 400, "missing position"},
		{"bad location", "device", "GET", "/osmand?" + with("location", "22.55"), "", "", 400, "location: want lat,lon"},
		{"null island", "device", "GET", "/osmand?id=device&lat=0&lon=0", "", "", 400, "no position"},
		{"far future", "device", "GET", "/osmand?" + with("timestamp", itoa(now.Add(time.Hour).Unix())), "", "", 400, "in the future"},
		{"far future ms", "device", "GET", "/osmand?" + with("timestamp", itoa(now.Add(24*time.Hour).UnixMilli())), "", "", 400, "in the future"},
		{"1970", "device", "GET", "/osmand?" + with("timestamp", "0"), "", "", 400, "before 2000"},
		{"bad timestamp", "device", "GET", "/osmand?" + with("timestamp", "yesterday"), "", "", 400, "timestamp: want Unix seconds"},
		{"bad speed", "device", "GET", "/osmand?" + with("speed", "fast"), "", "", 400, "speed: want a number"},
		{"battery 150", "device", "GET", "/osmand?" + with("batt", "150"), "", "", 400, "battery: 150 outside"},
		{"malformed JSON", "device", "POST", "/osmand", `{"device_id":"device","location":{`, "application/json", 400, "malformed JSON"},
		{"JSON without coords", "device", "POST", "/osmand", `{"device_id":"device","location":{"timestamp":"` + now.Format(time.RFC3339) + `"}}`, "application/json", 400, "missing coords"},
		{"JSON without time", "device", "POST", "/osmand", `{"device_id":"device","location":{"coords":{"latitude":22.55,"longitude":114.12}}}`, "application/json", 400, "missing timestamp"},
		{"batch: empty", "device", "POST", "/ingest/positions", `{"positions":[]}`, "application/json", 400, "no positions"},
		{"batch: bad one in the middle", "device", "POST", "/ingest/positions",
			`{"positions":[{"ts":"` + now.Format(time.RFC3339) + `","lon":114.12,"lat":22.55},{"ts":"` + now.Add(-time.Second).Format(time.RFC3339) + `","lon":114.12,"lat":-91}]}`,
			"application/json", 400, "position 1: lat: -91 outside"},
		{"batch: no zone", "device", "POST", "/ingest/positions", `{"positions":[{"ts":"2025-03-14T08:00:00","lon":114.12,"lat":22.55}]}`, "application/json", 400, "position 0: ts: want an RFC 3339"},
		{"batch: no lat", "device", "POST", "/ingest/positions", `{"positions":[{"ts":"` + now.Format(time.RFC3339) + `","lon":114.12}]}`, "application/json", 400, "position 0: missing lon or lat"},
		{"batch: lat a string", "device", "POST", "/ingest/positions", `{"positions":[{"ts":"` + now.Format(time.RFC3339) + `","lon":114.12,"lat":"22.55"}]}`, "application/json", 400, "want float64"},
		{"batch: malformed", "device", "POST", "/ingest/positions", `{"positions":[`, "application/json", 400, "malformed JSON"},
		{"no token", "", "GET", "/osmand?" + ok.Encode(), "", "", 401, "sign in"},
		{"viewer", "viewer", "GET", "/osmand?" + ok.Encode(), "", "", 403, "may not send positions"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var hdr []string
			if c.ctype != "" {
				hdr = []string{"Content-Type", c.ctype}
			}
			status, _, body := e.as(t, c.user, c.method, c.path, c.body, hdr...)
			var p struct{ Detail string }
			_ = json.Unmarshal(body, &p)
			if status != c.status || !strings.Contains(p.Detail, c.want) {
				t.Fatalf("%d %s; want %d containing %q", status, body, c.status, c.want)
			}
		})
	}
	if n := e.allPositions(t); n != 0 {
		t.Fatalf("%d positions stored by refused requests", n)
	}
	for _, id := range []int64{dev, off} {
		if f, _ := e.store.Get(context.Background(), "officers", id); f.Props["fix_time"] != nil {
			t.Fatalf("officer %d moved: %v", id, f.Props)
		}
	}
	// The same request with the device's own id is fine.
	if status, _, body := e.as(t, "device", "GET", "/osmand?"+ok.Encode(), ""); status != 200 {
		t.Fatalf("%d %s", status, body)
	}
}
