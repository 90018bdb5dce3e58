package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"github.com/hexward/hexward/layers"
)

// incident is an answer of the incident routes.
type incident struct {
	ID       int64
	Geometry struct{ Coordinates [2]float64 }
	Props    map[string]any `json:"properties"`
}

// report posts an incident report as user: the status, the incident (on
// 201) and the problem's detail.
func (e *env) report(t *testing.T, user, body string) (int, incident, string) {
	t.Helper()
	return e.incidentCall(t, user, "/api/incidents", body)
}

func (e *env) closeIncident(t *testing.T, user string, id int64, body string) (int, incident, string) {
	t.Helper()
	return e.incidentCall(t, user, fmt.Sprintf("/api/incidents/%d/close", id), body)
}

func (e *env) incidentCall(t *testing.T, user, path, body string) (int, incident, string) {
	t.Helper()
	status, _, b := e.as(t, user, "POST", path, body, "Content-Type", "application/json")
	var in incident
	var p struct{ Detail string }
	if status == 200 || status == 201 {
		if err := json.Unmarshal(b, &in); err != nil {
			t.Fatalf("%s: %v in %s", path, err, b)
		}
	} else {
		_ = json.Unmarshal(b, &p)
	}
	return status, in, p.Detail
}

// areaB adds community "B" east of the sample's area "A" (which ends at
// lon 114.125).
func (e *env) areaB(t *testing.T) {
	t.Helper()
	if _, err := e.store.Create(context.Background(), layers.Feature{Layer: "communities",
		Geometry: orb.Polygon{{{114.13, 22.54}, {114.145, 22.54}, {114.145, 22.56}, {114.13, 22.56}, {114.13, 22.54}}},
		Props:    map[string]any{"name": "B", "code": "B"}}); err != nil {
		t.Fatal(err)
	}
}

// TestReportIncident: an officer reports at a position or, without one,
// at the last known position of the officer whose device is the
// officer's account, when that fix is from about the report's time; "at" may lie in the past but not in the future; bad
// input is 400 naming the field and stores nothing; the report is in the
// collection, the change log and the audit log.
func TestReportIncident(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()

	// Without a position: the officer's last known one, which needs an
	// officer feature with the account as device and a reported position.
	if status, _, detail := e.report(t, "officer", `{"kind":"fire_hazard"}`); status != 400 || !strings.Contains(detail, `no officer has device "officer"`) {
		t.Fatalf("no officer: %d %s", status, detail)
	}
	e.officers(t)
	if status, _, detail := e.report(t, "officer", `{"kind":"fire_hazard"}`); status != 400 || !strings.Contains(detail, "has reported no position yet") {
		t.Fatalf("officer without a position: %d %s", status, detail)
	}
	fix := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	if status, _, b := e.as(t, "officer", "POST", "/ingest/positions",
		`{"positions":[{"ts":"`+fix+`","lon":114.1211,"lat":22.5511}]}`, "Content-Type", "application/json"); status != 200 {
		t.Fatalf("position: %d %s", status, b)
	}
	t0 := time.Now().Add(-time.Second)
	status, at, detail := e.report(t, "officer", `{"kind":"blocked_passage","note":"  电动车堵住消防通道  "}`)
	if status != 201 {
		t.Fatalf("report at the last position: %d %s", status, detail)
	}
	if at.Geometry.Coordinates != [2]float64{114.1211, 22.5511} {
		t.Fatalf("reported at %v, want the officer's last position", at.Geometry.Coordinates)
	}
	p := at.Props
	if p["kind"] != "blocked_passage" || p["note"] != "电动车堵住消防通道" || p["state"] != "open" || p["reported_by"] != "officer" {
		t.Fatalf("properties %v", p)
	}
	if ts, err := time.Parse(time.RFC3339, fmt.Sprint(p["reported_at"])); err != nil || ts.Before(t0) || ts.After(time.Now().Add(time.Second)) {
		t.Fatalf("reported_at %v, want about now (%v)", p["reported_at"], err)
	}

	// Without a position, buffered offline two hours ago: the last fix (a
	// minute ago) says nothing of where the officer was then.
	twoHours := time.Now().Add(-2 * time.Hour).UTC().Format(time.RFC3339)
	if status, _, detail := e.report(t, "officer", `{"kind":"sanitation","at":"`+twoHours+`"}`); status != 400 || !strings.Contains(detail, "send the position") {
		t.Fatalf("report two hours before the last fix, without a position: %d %s", status, detail)
	}

	// With a position, buffered offline two hours ago; by an operator too.
	earlier := time.Now().Add(-2 * time.Hour).UTC().Truncate(time.Second)
	status, there, detail := e.report(t, "officer", `{"kind":"sanitation","position":[114.1222,22.5522],"at":"`+earlier.Format(time.RFC3339)+`"}`)
	if status != 201 || there.Geometry.Coordinates != [2]float64{114.1222, 22.5522} {
		t.Fatalf("report with a position: %d %s %v", status, detail, there.Geometry)
	}
	if ts, _ := time.Parse(time.RFC3339, fmt.Sprint(there.Props["reported_at"])); !ts.Equal(earlier) {
		t.Fatalf("reported_at %v, want %v", there.Props["reported_at"], earlier)
	}
	if _, ok := there.Props["note"]; ok {
		t.Fatalf("a note without one sent: %v", there.Props)
	}
	if status, _, detail := e.report(t, "operator", `{"kind":"public_order","position":[114.123,22.553]}`); status != 201 {
		t.Fatalf("operator's report: %d %s", status, detail)
	}

	// Bad input: 400 naming the field, nothing stored.
	f0, c0 := e.counts(t)
	long := strings.Repeat("事", 501)
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	old := time.Now().Add(-8 * 24 * time.Hour).UTC().Format(time.RFC3339)
	for _, c := range []struct{ body, want string }{
		{`{"kind":"arson","position":[114.12,22.55]}`, `kind: "arson" is not one of`},
		{`{"note":"x","position":[114.12,22.55]}`, "kind: required, one of fire_hazard"},
		{`{"kind":5}`, "kind"},
		{`{"kind":"other","note":"` + long + `"}`, "note: 501 characters, at most 500"},
		{`{"kind":"other","note":["x"]}`, "note"},
		{`{"kind":"other","position":[200,22.55]}`, "position: longitude 200 outside -180..180"},
		{`{"kind":"other","position":[114.12]}`, "position: want [lon, lat], got 1 numbers"},
		{`{"kind":"other","position":[114.12,22.55,3]}`, "position: want [lon, lat], got 3 numbers"},
		{`{"kind":"other","position":[0,0]}`, "position: 0,0 is no position"},
		{`{"kind":"other","position":"114.12,22.55"}`, "position"},
		{`{"kind":"other","position":[114.12,22.55],"at":"` + future + `"}`, "at: " + future + " is in the future"},
		{`{"kind":"other","position":[114.12,22.55],"at":"` + old + `"}`, "is more than 7 days ago"},
		{`{"kind":"other","position":[114.12,22.55],"at":"yesterday"}`, `at: want an RFC 3339 time with zone, got "yesterday"`},
		{`{"kind":"other","position":[114.12,22.55],"colour":"red"}`, `unknown field "colour"`},
		{`{"kind":"other",`, "malformed JSON"},
		{``, "malformed JSON"},
	} {
		if status, _, detail := e.report(t, "officer", c.body); status != 400 || !strings.Contains(detail, c.want) {
			t.Errorf("%.80s: %d %q, want 400 with %q", c.body, status, detail, c.want)
		}
	}
	huge := `{"kind":"other","note":"` + strings.Repeat("x", 2<<20) + `"}`
	if status, _, detail := e.report(t, "officer", huge); status != 413 || !strings.Contains(detail, "larger than") {
		t.Errorf("oversized body: %d %s", status, detail)
	}
	if f, c := e.counts(t); f != f0 || c != c0 {
		t.Fatalf("bad reports changed the database: features %d→%d, changes %d→%d", f0, f, c0, c)
	}

	// Who may report: not viewers, devices or planners.
	for _, user := range []string{"viewer", "device", "planner"} {
		if status, _, detail := e.report(t, user, `{"kind":"other","position":[114.12,22.55]}`); status != 403 || !strings.Contains(detail, "may not report incidents") {
			t.Errorf("%s: %d %s", user, status, detail)
		}
	}
	// A scoped officer reports inside the area only.
	e.areaB(t)
	e.scopedUser(t, "officer-b", "officer", "B")
	if status, _, detail := e.report(t, "officer-b", `{"kind":"other","position":[114.12,22.55]}`); status != 403 || !strings.Contains(detail, "outside your area scope") {
		t.Fatalf("officer-b in A: %d %s", status, detail)
	}
	if status, _, detail := e.report(t, "officer-b", `{"kind":"other","position":[114.135,22.55]}`); status != 201 {
		t.Fatalf("officer-b in B: %d %s", status, detail)
	}
	if f, _ := e.counts(t); f != f0+2 { // community B and officer-b's report
		t.Fatalf("%d features, want %d", f, f0+2)
	}

	// In the collection, the change log and the audit log.
	status, _, b := e.as(t, "viewer", "GET", "/api/collections/incidents/items", "")
	var col struct{ Features []incident }
	if err := json.Unmarshal(b, &col); status != 200 || err != nil {
		t.Fatalf("items: %d %v", status, err)
	}
	var ids []int64
	for _, f := range col.Features {
		ids = append(ids, f.ID)
	}
	if !slices.Contains(ids, at.ID) || !slices.Contains(ids, there.ID) {
		t.Fatalf("items %v lack %d or %d", ids, at.ID, there.ID)
	}
	cs, err := e.store.ChangesSince(ctx, 0, 100_000)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(cs, func(c layers.Change) bool {
		return c.Layer == "incidents" && c.FeatureID == at.ID && c.Op == layers.Insert
	}) {
		t.Fatalf("no insert of incident %d in the change log", at.ID)
	}
	var actor string
	if err := e.store.Pool().QueryRow(ctx, `SELECT actor FROM audit_log WHERE action = 'feature.insert' AND target = $1`,
		fmt.Sprintf("incidents/%d", at.ID)).Scan(&actor); err != nil || actor != "officer" {
		t.Fatalf("audit of the report: %q %v", actor, err)
	}
}

// TestCloseIncident: an operator closes an open incident with a note,
// once; a scoped operator only in its area; two closes at once, one wins.
func TestCloseIncident(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.areaB(t)
	e.scopedUser(t, "operator-a", "operator", "A")
	e.scopedUser(t, "operator-b", "operator", "B")
	status, inc, detail := e.report(t, "officer", `{"kind":"illegal_construction","position":[114.121,22.551]}`) // in A
	if status != 201 {
		t.Fatalf("report: %d %s", status, detail)
	}
	path := fmt.Sprintf("/api/incidents/%d/close", inc.ID)
	state := func() any {
		f, err := e.store.Get(ctx, "incidents", inc.ID)
		if err != nil {
			t.Fatal(err)
		}
		return f.Props["state"]
	}

	f0, c0 := e.counts(t)
	for _, c := range []struct {
		user, path, body string
		status           int
		want             string
	}{
		{"officer", path, `{"note":"x"}`, 403, "may not handle alerts"},
		{"viewer", path, `{"note":"x"}`, 403, "may not handle alerts"},
		{"operator", path, `{}`, 400, "note: required"},
		{"operator", path, `{"note":"  "}`, 400, "note: required"},
		{"operator", path, `{"note":"x","by":"me"}`, 400, `unknown field "by"`},
		{"operator", path, `{"note":"` + strings.Repeat("x", 501) + `"}`, 400, "note: 501 characters, at most 500"},
		{"operator", "/api/incidents/0/close", `{"note":"x"}`, 404, "ids are positive integers"},
		{"operator", "/api/incidents/987654321/close", `{"note":"x"}`, 404, "no incident 987654321"},
		{"operator-b", path, `{"note":"x"}`, 403, "outside your area scope"}, // another community's incident
	} {
		status, _, b := e.as(t, c.user, "POST", c.path, c.body, "Content-Type", "application/json")
		var p struct{ Detail string }
		_ = json.Unmarshal(b, &p)
		if status != c.status || !strings.Contains(p.Detail, c.want) {
			t.Errorf("%s %s %s: %d %q, want %d with %q", c.user, c.path, c.body, status, p.Detail, c.status, c.want)
		}
	}
	gate := e.create(t, "gates", 114.121, 22.551, map[string]any{"name": "g"})
	if status, _, detail := e.closeIncident(t, "operator", gate, `{"note":"x"}`); status != 404 || !strings.Contains(detail, "no incident") {
		t.Errorf("a gate closed as an incident: %d %s", status, detail)
	}
	if f, c := e.counts(t); f != f0+1 || c != c0+1 || state() != "open" {
		t.Fatalf("refused closes changed the incident (state %v) or the database: features %d→%d, changes %d→%d", state(), f0, f, c0, c)
	}

	// The area's operator closes it; a second close is a conflict.
	t0 := time.Now().Add(-time.Second)
	status, closed, detail := e.closeIncident(t, "operator-a", inc.ID, `{"note":"已拆除，恢复通道"}`)
	if status != 200 {
		t.Fatalf("close: %d %s", status, detail)
	}
	p := closed.Props
	if p["state"] != "closed" || p["closed_by"] != "operator-a" || p["close_note"] != "已拆除，恢复通道" || p["kind"] != "illegal_construction" || p["reported_by"] != "officer" {
		t.Fatalf("closed incident %v", p)
	}
	if ts, err := time.Parse(time.RFC3339, fmt.Sprint(p["closed_at"])); err != nil || ts.Before(t0) {
		t.Fatalf("closed_at %v (%v)", p["closed_at"], err)
	}
	if status, _, detail := e.closeIncident(t, "operator", inc.ID, `{"note":"again"}`); status != 409 || !strings.Contains(detail, "closed already") {
		t.Fatalf("second close: %d %s", status, detail)
	}
	cs, err := e.store.ChangesSince(ctx, 0, 100_000)
	if err != nil {
		t.Fatal(err)
	}
	var updates int
	for _, c := range cs {
		if c.Layer == "incidents" && c.FeatureID == inc.ID && c.Op == layers.Update {
			updates++
		}
	}
	if updates != 1 {
		t.Fatalf("%d updates of the incident in the change log, want 1", updates)
	}

	// Two operators close at once: one closes it, the other is told it is
	// closed already.
	_, inc2, _ := e.report(t, "officer", `{"kind":"facility_damage","position":[114.122,22.552]}`)
	var wg sync.WaitGroup
	statuses := make([]int, 2)
	for i, user := range []string{"operator", "admin"} {
		wg.Go(func() {
			req, _ := http.NewRequest("POST", fmt.Sprintf("%s/api/incidents/%d/close", e.url, inc2.ID), strings.NewReader(`{"note":"修复"}`))
			req.Header.Set("Authorization", "Bearer "+e.tokens[user])
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			statuses[i] = resp.StatusCode
		})
	}
	wg.Wait()
	slices.Sort(statuses)
	if statuses[0] != 200 || statuses[1] != 409 {
		t.Fatalf("concurrent closes: %v, want one 200 and one 409", statuses)
	}
}
