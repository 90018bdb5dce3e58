package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geo"

	"github.com/hexward/hexward/layers"
)

// create stores a point feature of layer at lon/lat.
func (e *env) create(t *testing.T, layer string, lon, lat float64, props map[string]any) int64 {
	t.Helper()
	f, err := e.store.Create(context.Background(), layers.Feature{Layer: layer, Geometry: orb.Point{lon, lat}, Props: props})
	if err != nil {
		t.Fatal(err)
	}
	return f.ID
}

// scopedUser creates a user of role with an area scope through the admin
// API and keeps its API token for e.as.
func (e *env) scopedUser(t *testing.T, name, role, scope string) {
	t.Helper()
	body := fmt.Sprintf(`{"user":%q,"role":%q,"scope":%q,"password":"%s-password"}`, name, role, scope, name)
	if status, _, b := e.as(t, "admin", "POST", "/auth/users", body); status != 201 {
		t.Fatalf("create user %s: %d %s", name, status, b)
	}
	status, _, b := e.as(t, "admin", "POST", "/auth/users/"+name+"/tokens", `{"name":"test"}`)
	var tok struct{ Token string }
	if err := json.Unmarshal(b, &tok); status != 201 || err != nil || tok.Token == "" {
		t.Fatalf("token of %s: %d %s", name, status, b)
	}
	e.mu.Lock()
	e.tokens[name] = tok.Token
	e.mu.Unlock()
}

type nearAnswer struct {
	Alert    int64
	Officers []struct {
		ID        int64
		Name      string
		Team      string
		Duty      string
		DistanceM float64 `json:"distance_m"`
		Position  [2]float64
	}
}

func (e *env) nearest(t *testing.T, user string, alert int64, query string) (int, nearAnswer, string) {
	t.Helper()
	status, _, b := e.as(t, user, "GET", fmt.Sprintf("/api/alerts/%d/nearest-officers%s", alert, query), "")
	var a nearAnswer
	if status == 200 {
		if err := json.Unmarshal(b, &a); err != nil {
			t.Fatalf("nearest: %v in %s", err, b)
		}
	}
	var p struct{ Detail string }
	_ = json.Unmarshal(b, &p)
	return status, a, p.Detail
}

// TestNearestOfficersOfAnAlert: the available officers nearest an alert
// come first with their distance in metres; unavailable officers are not
// offered; a scoped operator sees only the officers and alerts of the
// area (the sample's community "A": 114.11–114.125, 22.54–22.56).
func TestNearestOfficersOfAnAlert(t *testing.T) {
	e := newEnv(t)
	at := orb.Point{114.1150, 22.5450} // far from the sample features (≥ 600 m)
	alert := e.create(t, "alerts", at[0], at[1], map[string]any{"title": "燃气泄漏", "severity": "critical", "state": "raised"})
	officer := func(name string, dx, dy float64, extra map[string]any) int64 {
		p := map[string]any{"name": name, "team": "第1巡查组", "duty": "patrol"}
		for k, v := range extra {
			p[k] = v
		}
		return e.create(t, "officers", at[0]+dx, at[1]+dy, p)
	}
	busy := officer("忙碌", 0.0001, 0, map[string]any{"available": false}) // nearest, but not available
	near := officer("张三", 0.0005, 0, nil)                                // available unset: available
	mid := officer("李四", 0, 0.0015, map[string]any{"available": true, "team": "第2巡查组", "duty": "safety"})
	far := officer("王五", -0.002, 0.002, map[string]any{"available": true})
	outside := officer("区外", 0.0105, 0, nil) // lon 114.1255: outside area A, 1 km east

	status, a, detail := e.nearest(t, "operator", alert, "?limit=4")
	if status != 200 {
		t.Fatalf("nearest: %d %s", status, detail)
	}
	var ids []int64
	for _, o := range a.Officers {
		ids = append(ids, o.ID)
	}
	if want := []int64{near, mid, far, outside}; fmt.Sprint(ids) != fmt.Sprint(want) || a.Alert != alert {
		t.Fatalf("officers %v of alert %d, want %v (busy %d is unavailable)", ids, a.Alert, want, busy)
	}
	for i, o := range a.Officers {
		want := geo.Distance(at, o.Position) // great circle; the spheroid differs by < 0.5 %
		if math.Abs(o.DistanceM-want) > want*0.005+0.5 {
			t.Errorf("officer %d at %v: %.1f m, want about %.1f m", o.ID, o.Position, o.DistanceM, want)
		}
		if i > 0 && o.DistanceM < a.Officers[i-1].DistanceM {
			t.Errorf("officer %d (%.1f m) after a farther one", o.ID, o.DistanceM)
		}
	}
	if o := a.Officers[1]; o.Name != "李四" || o.Team != "第2巡查组" || o.Duty != "safety" || math.Abs(o.DistanceM-166) > 2 {
		t.Fatalf("second officer %+v", o)
	}

	// The default limit is 5; limit=1 gives the nearest only.
	if _, a, _ := e.nearest(t, "admin", alert, "?limit=1"); len(a.Officers) != 1 || a.Officers[0].ID != near {
		t.Fatalf("limit=1: %+v", a.Officers)
	}
	// Made unavailable, an officer drops out; made available, comes back.
	for _, avail := range []bool{false, true} {
		if _, err := e.store.Patch(context.Background(), "officers", near, nil, map[string]any{"available": avail}); err != nil {
			t.Fatal(err)
		}
		_, a, _ := e.nearest(t, "operator", alert, "")
		if got := len(a.Officers) > 0 && a.Officers[0].ID == near; got != avail {
			t.Fatalf("available=%v: first of %+v", avail, a.Officers)
		}
	}

	// A scoped operator: only the area's officers; an alert outside is not found.
	e.scopedUser(t, "operator-a", "operator", "A")
	e.scopedUser(t, "operator-b", "operator", "B") // B names no area
	_, a, _ = e.nearest(t, "operator-a", alert, "?limit=50")
	for _, o := range a.Officers {
		if o.ID == outside {
			t.Fatalf("operator-a is offered officer %d outside its area", outside)
		}
	}
	if len(a.Officers) < 3 {
		t.Fatalf("operator-a: %+v", a.Officers)
	}
	alertOutside := e.create(t, "alerts", 114.1400, 22.5450, map[string]any{"severity": "major", "state": "raised"})
	if status, _, detail := e.nearest(t, "operator-a", alertOutside, ""); status != 404 || !strings.Contains(detail, "no alert") {
		t.Fatalf("alert outside the area: %d %s", status, detail)
	}
	if status, _, _ := e.nearest(t, "operator", alertOutside, ""); status != 200 {
		t.Fatalf("unscoped operator, alert outside A: %d", status)
	}
	if status, _, _ := e.nearest(t, "operator-b", alert, ""); status != 404 {
		t.Fatalf("operator of an area that does not exist: %d", status)
	}

	// Bad input.
	for _, c := range []struct {
		path   string
		status int
		want   string
	}{
		{fmt.Sprintf("/api/alerts/%d/nearest-officers?limit=0", alert), 400, "limit must be an integer from 1 to 50"},
		{fmt.Sprintf("/api/alerts/%d/nearest-officers?limit=51", alert), 400, "limit must be an integer from 1 to 50"},
		{fmt.Sprintf("/api/alerts/%d/nearest-officers?limit=x", alert), 400, `from 1 to 50, got \"x\"`},
		{"/api/alerts/0/nearest-officers", 404, "ids are positive integers"},
		{"/api/alerts/abc/nearest-officers", 404, "ids are positive integers"},
		{"/api/alerts/987654321/nearest-officers", 404, "no alert 987654321"},
		{fmt.Sprintf("/api/alerts/%d/nearest-officers", near), 404, "no alert"}, // an officer is not an alert
		{fmt.Sprintf("/api/alerts/%d/nearest-officers", alert), 403, "may not handle alerts"},
	} {
		user := "operator"
		if c.status == 403 {
			user = "viewer"
		}
		status, _, b := e.as(t, user, "GET", c.path, "")
		if status != c.status || !strings.Contains(string(b), c.want) {
			t.Errorf("%s: %d %s; want %d with %q", c.path, status, b, c.status, c.want)
		}
	}
}

// TestOfficerTrail: the positions of the last N minutes, oldest first, as
// a LineString; fewer than two fixes give a null geometry.
func TestOfficerTrail(t *testing.T) {
	e := newEnv(t)
	off := e.create(t, "officers", 114.1150, 22.5450, map[string]any{"name": "张三"})
	lone := e.create(t, "officers", 114.1160, 22.5460, map[string]any{"name": "李四"})
	now := time.Now()
	insert := func(officer int64, ago time.Duration, lon, lat float64) {
		t.Helper()
		if _, err := e.store.Pool().Exec(context.Background(), `INSERT INTO positions (officer_id, ts, lon, lat) VALUES ($1, $2, $3, $4)`,
			officer, now.Add(-ago), lon, lat); err != nil {
			t.Fatal(err)
		}
	}
	// Inserted out of order: the trail is in time order.
	insert(off, 10*time.Minute, 114.1152, 22.5452)
	insert(off, 50*time.Minute, 114.1140, 22.5440)
	insert(off, 20*time.Minute, 114.1151, 22.5451)
	insert(off, time.Minute, 114.1153, 22.5453)
	insert(lone, 5*time.Minute, 114.1160, 22.5460)
	insert(off+lone+1000, time.Minute, 114.1, 22.5) // another officer's

	type trail struct {
		Type     string
		ID       int64
		Geometry *struct {
			Type        string
			Coordinates [][2]float64
		}
		Properties struct {
			OfficerID int64 `json:"officer_id"`
			Minutes   int
			Points    int
			Times     []string
		}
	}
	get := func(user string, id int64, query string) (int, trail, string) {
		t.Helper()
		status, h, b := e.as(t, user, "GET", fmt.Sprintf("/api/officers/%d/trail%s", id, query), "")
		var tr trail
		if status == 200 {
			if ct := h.Get("Content-Type"); ct != "application/geo+json" {
				t.Fatalf("content type %q", ct)
			}
			if err := json.Unmarshal(b, &tr); err != nil {
				t.Fatalf("trail: %v in %s", err, b)
			}
		}
		return status, tr, string(b)
	}

	status, tr, b := get("viewer", off, "")
	if status != 200 || tr.Type != "Feature" || tr.ID != off || tr.Geometry == nil || tr.Geometry.Type != "LineString" {
		t.Fatalf("trail: %d %s", status, b)
	}
	want := [][2]float64{{114.1151, 22.5451}, {114.1152, 22.5452}, {114.1153, 22.5453}} // the default 30 minutes
	if fmt.Sprint(tr.Geometry.Coordinates) != fmt.Sprint(want) || tr.Properties.Points != 3 || tr.Properties.Minutes != 30 || len(tr.Properties.Times) != 3 {
		t.Fatalf("trail of 30 min: %s", b)
	}
	for i := 1; i < len(tr.Properties.Times); i++ {
		if tr.Properties.Times[i] <= tr.Properties.Times[i-1] {
			t.Fatalf("times not ascending: %v", tr.Properties.Times)
		}
	}
	if _, tr, b := get("operator", off, "?minutes=60"); tr.Properties.Points != 4 || tr.Geometry.Coordinates[0] != [2]float64{114.1140, 22.5440} {
		t.Fatalf("trail of 60 min: %s", b)
	}
	if _, tr, b := get("officer", lone, ""); tr.Geometry != nil || tr.Properties.Points != 1 || !strings.Contains(b, `"geometry":null`) {
		t.Fatalf("one fix: %s", b)
	}
	if _, tr, b := get("officer", lone, "?minutes=1"); tr.Geometry != nil || tr.Properties.Points != 0 || !strings.Contains(b, `"times":[]`) {
		t.Fatalf("no fix: %s", b)
	}
	for _, c := range []struct {
		user   string
		path   string
		status int
		want   string
	}{
		{"viewer", fmt.Sprintf("/api/officers/%d/trail?minutes=0", off), 400, "minutes must be an integer from 1 to 1440"},
		{"viewer", fmt.Sprintf("/api/officers/%d/trail?minutes=1441", off), 400, "minutes must be an integer from 1 to 1440"},
		{"viewer", "/api/officers/-3/trail", 404, "ids are positive integers"},
		{"viewer", "/api/officers/987654321/trail", 404, "no officer 987654321"},
		{"viewer-b", fmt.Sprintf("/api/officers/%d/trail", off), 404, "no officer"}, // outside the viewer's scope
		{"device", fmt.Sprintf("/api/officers/%d/trail", off), 403, "may not read map"},
	} {
		status, _, b := e.as(t, c.user, "GET", c.path, "")
		if status != c.status || !strings.Contains(string(b), c.want) {
			t.Errorf("%s as %s: %d %s; want %d with %q", c.path, c.user, status, b, c.status, c.want)
		}
	}
}
