package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"github.com/hexward/hexward/layers"
)

// sensorOf creates a gas sensor reporting through the account device.
func sensorOf(t *testing.T, e *env, device string, props map[string]any) int64 {
	t.Helper()
	p := map[string]any{"name": "燃气探测器", "kind": "gas", "unit": "%LEL", "device": device}
	for k, v := range props {
		p[k] = v
	}
	f, err := e.store.Create(context.Background(), layers.Feature{Layer: "sensors", Geometry: orb.Point{114.1205, 22.5505}, Props: p})
	if err != nil {
		t.Fatal(err)
	}
	return f.ID
}

func readingsBody(sensor int64, pts ...[2]any) string {
	var parts []string
	for _, p := range pts {
		parts = append(parts, fmt.Sprintf(`{"sensor":%d,"ts":%q,"value":%v}`, sensor, p[0], p[1]))
	}
	return `{"readings":[` + strings.Join(parts, ",") + `]}`
}

func (e *env) readingCount(t *testing.T) int {
	t.Helper()
	var n int
	if err := e.store.Pool().QueryRow(context.Background(), `SELECT count(*) FROM readings`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestReadingsRaiseAnAlertThatOperatorsHandle(t *testing.T) {
	e := newEnv(t)
	s := sensorOf(t, e, "device", map[string]any{"alarm_above": 25, "hysteresis": 5})
	now := time.Now().UTC()
	ts := func(d time.Duration) string { return now.Add(d).Format(time.RFC3339Nano) }
	body := readingsBody(s, [2]any{ts(-3 * time.Second), 10}, [2]any{ts(-2 * time.Second), 40}, [2]any{ts(-time.Second), 22})
	status, _, b := e.as(t, "device", "POST", "/ingest/readings", body)
	if status != 200 || !strings.Contains(string(b), `"accepted":3`) {
		t.Fatalf("ingest: %d %s", status, b)
	}
	status, _, b = e.as(t, "device", "POST", "/ingest/readings", body)
	if status != 200 || !strings.Contains(string(b), `"accepted":0`) || !strings.Contains(string(b), `"duplicates":3`) {
		t.Fatalf("ingest again: %d %s", status, b)
	}
	// The alert is a feature of layer alerts, served like any other.
	status, _, b = e.as(t, "operator", "GET", "/api/collections/alerts/items?source=sensor:"+fmt.Sprint(s), "")
	var fc struct {
		Features []struct {
			ID         int64
			Properties map[string]any
		}
	}
	if err := json.Unmarshal(b, &fc); status != 200 || err != nil || len(fc.Features) != 1 {
		t.Fatalf("alerts: %d %s", status, b)
	}
	a := fc.Features[0]
	if a.Properties["severity"] != "critical" || a.Properties["state"] != "raised" || a.Properties["value"] != 40.0 {
		t.Fatalf("alert %v", a.Properties)
	}
	path := fmt.Sprintf("/api/alerts/%d/", a.ID)
	steps := []struct {
		user, action, body string
		status             int
		want               string
	}{
		{"viewer", "acknowledge", "", 403, "may not handle alerts"},
		{"device", "acknowledge", "", 403, "may not handle alerts"},
		{"operator", "resolve", `{"note":"x"}`, 409, "cannot resolve an alert that is raised"},
		{"operator", "acknowledge", "", 200, `"acknowledged_by":"operator"`},
		{"admin", "acknowledge", "", 409, "cannot acknowledge an alert that is acknowledged"},
		{"operator", "dispatch", `{}`, 400, `dispatch needs`},
		{"operator", "dispatch", `{"to":"巡查一队"}`, 200, `"dispatched_to":"巡查一队"`},
		{"operator", "resolve", `{}`, 400, `resolve needs a`},
		{"operator", "resolve", `{"note":"阀门已关闭 valve closed"}`, 200, `"state":"resolved"`},
		{"operator", "dispatch", `{"to":"x"}`, 409, "cannot dispatch an alert that is resolved"},
	}
	for _, st := range steps {
		status, _, b := e.as(t, st.user, "POST", path+st.action, st.body)
		if status != st.status || !strings.Contains(string(b), st.want) {
			t.Fatalf("%s %s: %d %s; want %d with %s", st.user, st.action, status, b, st.status, st.want)
		}
	}
	status, _, b = e.as(t, "viewer", "GET", path+"transitions", "")
	var h struct {
		Transitions []struct{ Event, State, Actor, Note string }
	}
	if err := json.Unmarshal(b, &h); status != 200 || err != nil {
		t.Fatalf("transitions: %d %s", status, b)
	}
	var got []string
	for _, tr := range h.Transitions {
		got = append(got, tr.Event+":"+tr.Actor)
	}
	if strings.Join(got, " ") != "raised:system:rules acknowledged:operator dispatched:operator resolved:operator" {
		t.Fatalf("transitions %v", got)
	}
	// Every write of the alert is in the audit log, by whom it was made.
	var audited int
	if err := e.store.Pool().QueryRow(context.Background(), `SELECT count(*) FROM audit_log WHERE target = $1 AND actor = 'operator'`,
		fmt.Sprintf("alerts/%d", a.ID)).Scan(&audited); err != nil || audited != 3 {
		t.Fatalf("audited %d transitions by operator, %v", audited, err)
	}
	if status, _, _ := e.as(t, "operator", "POST", "/api/alerts/999999/acknowledge", ""); status != 404 {
		t.Fatalf("unknown alert: %d", status)
	}
}

func TestBadReadingsAreRefusedAndStoreNothing(t *testing.T) {
	e := newEnv(t)
	mine := sensorOf(t, e, "device", nil)
	theirs := sensorOf(t, e, "device-2", nil)
	now := time.Now().UTC().Format(time.RFC3339)
	ok := fmt.Sprintf(`{"sensor":%d,"ts":%q,"value":1}`, mine, now)
	cases := []struct {
		name, user, body string
		status           int
		want             string
	}{
		{"another device's sensor", "device", `{"readings":[` + ok + `,` + fmt.Sprintf(`{"sensor":%d,"ts":%q,"value":1}`, theirs, now) + `]}`,
			403, fmt.Sprintf(`reading 1 (sensor %d): not a sensor of device "device"`, theirs)},
		{"unknown sensor", "device", `{"readings":[` + ok + `,{"sensor":987654,"ts":"` + now + `","value":1}]}`, 422, "reading 1 (sensor 987654): no such sensor"},
		{"far future", "device", readingsBody(mine, [2]any{"2099-01-01T00:00:00Z", 1}), 422, "reading 0 (sensor"},
		{"before 2000", "device", readingsBody(mine, [2]any{"1970-01-01T00:00:00Z", 1}), 422, "before 2000"},
		{"malformed JSON", "device", `{"readings":[`, 400, "malformed JSON"},
		{"no readings key", "device", `{}`, 400, `body must be {"readings"`},
		{"empty batch", "device", `{"readings":[]}`, 422, "no readings"},
		{"missing ts", "device", `{"readings":[` + ok + fmt.Sprintf(`,{"sensor":%d,"value":1}]}`, mine), 400, `reading 1: missing "ts"`},
		{"bad ts", "device", readingsBody(mine, [2]any{"yesterday", 1}), 400, `reading 0: ts "yesterday" is not an RFC 3339 time`},
		{"no zone", "device", readingsBody(mine, [2]any{"2024-01-01T00:00:00", 1}), 400, "not an RFC 3339 time"},
		{"value not a number", "device", fmt.Sprintf(`{"readings":[%s,{"sensor":%d,"ts":%q,"value":"high"}]}`, ok, mine, now), 400, "reading 1:"},
		{"unknown field", "device", fmt.Sprintf(`{"readings":[{"sensor":%d,"timestamp":%q,"value":1}]}`, mine, now), 400, `reading 0: json: unknown field "timestamp"`},
		{"not a device", "operator", `{"readings":[` + ok + `]}`, 403, "may not send readings"},
		{"no credentials", "", `{"readings":[` + ok + `]}`, 401, "sign in"},
	}
	for _, c := range cases {
		status, _, b := e.as(t, c.user, "POST", "/ingest/readings", c.body)
		var p struct{ Detail string }
		_ = json.Unmarshal(b, &p)
		if status != c.status || !strings.Contains(p.Detail, c.want) {
			t.Errorf("%s: %d %s; want %d containing %q", c.name, status, b, c.status, c.want)
		}
	}
	if n := e.readingCount(t); n != 0 {
		t.Fatalf("%d readings stored", n)
	}
}
