package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/mvt"
	"github.com/paulmach/orb/maptile"

	"github.com/hexward/hexward/layers"
	"github.com/hexward/hexward/web"
)

// addCommunityB adds community "B" east of the sample's area "A", with a
// gate in it, and returns the gate's id.
func addCommunityB(t *testing.T, e *env) int64 {
	t.Helper()
	for _, body := range []string{
		`{"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[114.125,22.54],[114.15,22.54],[114.15,22.56],[114.125,22.56],[114.125,22.54]]]},"properties":{"name":"B社区","code":"B"}}`,
	} {
		if status, _, b := e.as(t, "admin", "POST", "/api/collections/communities/items", body); status != 201 {
			t.Fatalf("community B: %d %s", status, b)
		}
	}
	status, _, b := e.as(t, "admin", "POST", "/api/collections/gates/items",
		`{"type":"Feature","geometry":{"type":"Point","coordinates":[114.1255,22.55]},"properties":{"name":"B门"}}`)
	if status != 201 {
		t.Fatalf("gate in B: %d %s", status, b)
	}
	var f struct{ ID int64 }
	_ = json.Unmarshal(b, &f)
	return f.ID
}

func gateIDs(t *testing.T, e *env, user string) []int64 {
	t.Helper()
	status, _, b := e.as(t, user, "GET", "/api/collections/gates/items?limit=1000", "")
	if status != 200 {
		t.Fatalf("items as %s: %d %s", user, status, b)
	}
	var fc struct{ Features []struct{ ID int64 } }
	_ = json.Unmarshal(b, &fc)
	var ids []int64
	for _, f := range fc.Features {
		ids = append(ids, f.ID)
	}
	return ids
}

func tileIDs(t *testing.T, e *env, user string, lon, lat float64) []int64 {
	t.Helper()
	tl := maptile.At(orb.Point{lon, lat}, 14)
	status, _, b := e.as(t, user, "GET", fmt.Sprintf("/tiles/gates/14/%d/%d.mvt", tl.X, tl.Y), "")
	if status != 200 {
		t.Fatalf("tile as %s: %d", user, status)
	}
	ls, err := mvt.Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, l := range ls {
		for _, f := range l.Features {
			ids = append(ids, int64(f.ID.(float64)))
		}
	}
	return ids
}

// TestAreaScopes: a user scoped to community B reads, tiles and writes
// only there; the subdistrict's users see everything.
func TestAreaScopes(t *testing.T) {
	e := newEnv(t)
	inB := addCommunityB(t, e)
	all := gateIDs(t, e, "viewer")
	onlyB := gateIDs(t, e, "viewer-b")
	if len(all) != 2 || len(onlyB) != 1 || onlyB[0] != inB {
		t.Fatalf("gates: all %v, scope B %v (want only %d)", all, onlyB, inB)
	}
	inA := all[0]
	if status, _, _ := e.as(t, "viewer-b", "GET", fmt.Sprintf("/api/collections/gates/items/%d", inA), ""); status != 404 {
		t.Fatalf("B reads A's gate: %d", status)
	}
	// Both gates are in one z14 tile: each scope gets only its own.
	if ids := tileIDs(t, e, "viewer", 114.1255, 22.55); len(ids) != 2 {
		t.Fatalf("unscoped tile gates %v", ids)
	}
	if ids := tileIDs(t, e, "viewer-b", 114.1255, 22.55); len(ids) != 1 || ids[0] != inB {
		t.Fatalf("scope B tile gates %v", ids)
	}
	if ids := tileIDs(t, e, "viewer", 114.1255, 22.55); len(ids) != 2 {
		t.Fatalf("unscoped tile after a scoped one: %v", ids)
	}
	// Writes: in B yes, in A or moving into A no.
	body := `{"type":"Feature","geometry":{"type":"Point","coordinates":[%g,22.55]},"properties":{"name":"x"}}`
	if status, _, b := e.as(t, "planner-b", "POST", "/api/collections/gates/items", fmt.Sprintf(body, 114.13)); status != 201 {
		t.Fatalf("create in B: %d %s", status, b)
	}
	for _, c := range []struct{ method, path, body string }{
		{"POST", "/api/collections/gates/items", fmt.Sprintf(body, 114.12)},
		{"PUT", fmt.Sprintf("/api/collections/gates/items/%d", inB), fmt.Sprintf(body, 114.12)},
		{"DELETE", fmt.Sprintf("/api/collections/gates/items/%d", inA), ""},
		{"PATCH", fmt.Sprintf("/api/collections/gates/items/%d", inA), `{"properties":{"name":"y"}}`},
	} {
		f0, c0 := e.counts(t)
		status, _, b := e.as(t, "planner-b", c.method, c.path, c.body)
		if status != 403 || !strings.Contains(string(b), "outside your area scope") {
			t.Errorf("%s %s out of scope: %d %s", c.method, c.path, status, b)
		}
		if f, ch := e.counts(t); f != f0 || ch != c0 {
			t.Errorf("%s out of scope changed the database", c.method)
		}
	}
}

// TestSessionsCSRFAndRateLimit signs in as a browser does.
func TestSessionsCSRFAndRateLimit(t *testing.T) {
	e := newEnv(t)
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	post := func(path, body string, hdr ...string) *http.Response {
		req, _ := http.NewRequest("POST", e.url+path, strings.NewReader(body))
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if r := post("/auth/login", `{"user":"planner","password":"wrong password!"}`); r.StatusCode != 401 {
		t.Fatalf("wrong password: %d", r.StatusCode)
	}
	req, _ := http.NewRequest("POST", e.url+"/auth/login", strings.NewReader(`{"user":"planner","password":"planner-password"}`))
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var me struct{ User, Role, CSRF string }
	_ = json.NewDecoder(resp.Body).Decode(&me)
	resp.Body.Close()
	ck := resp.Header.Get("Set-Cookie")
	if resp.StatusCode != 200 || me.Role != "planner" || me.CSRF == "" || !strings.Contains(ck, "HttpOnly") || !strings.Contains(ck, "SameSite=Strict") {
		t.Fatalf("login: %d %+v %s", resp.StatusCode, me, ck)
	}
	gate := `{"type":"Feature","geometry":{"type":"Point","coordinates":[114.121,22.551]},"properties":{}}`
	if r := post("/api/collections/gates/items", gate); r.StatusCode != 403 {
		t.Fatalf("write without CSRF token: %d", r.StatusCode)
	}
	if r := post("/api/collections/gates/items", gate, "X-CSRF-Token", me.CSRF); r.StatusCode != 201 {
		t.Fatalf("write with CSRF token: %d", r.StatusCode)
	}
	if r := post("/auth/logout", "", "X-CSRF-Token", me.CSRF); r.StatusCode != 204 {
		t.Fatalf("logout: %d", r.StatusCode)
	}
	if r, _ := c.Get(e.url + "/api/collections"); r.StatusCode != 401 {
		t.Fatalf("after logout: %d", r.StatusCode)
	}
	// Ten attempts a minute per client, then 429 with Retry-After.
	var last *http.Response
	for range 12 {
		last = post("/auth/login", `{"user":"planner","password":"guess guess"}`)
	}
	if last.StatusCode != 429 || last.Header.Get("Retry-After") == "" {
		t.Fatalf("12th attempt: %d, Retry-After %q", last.StatusCode, last.Header.Get("Retry-After"))
	}
}

// TestSecretsNeverInTheClear: passwords and tokens are stored only as
// hashes, and neither the database nor the log holds them.
func TestSecretsNeverInTheClear(t *testing.T) {
	var logBuf bytes.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logBuf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	t.Cleanup(func() { slog.SetDefault(old) })
	e := newEnv(t)
	status, _, b := e.as(t, "viewer", "POST", "/auth/tokens", `{"name":"script"}`)
	var tok struct{ Token string }
	_ = json.Unmarshal(b, &tok)
	if status != 201 || !strings.HasPrefix(tok.Token, "hxw_") {
		t.Fatalf("token: %d %s", status, b)
	}
	if s, _, _ := e.as(t, "", "GET", "/auth/me", "", "Authorization", "Bearer "+tok.Token); s != 200 {
		t.Fatalf("new token does not work: %d", s)
	}
	var info struct{ Info struct{ ID int64 } }
	_ = json.Unmarshal(b, &info)
	if s, _, _ := e.as(t, "viewer", "DELETE", fmt.Sprintf("/auth/tokens/%d", info.Info.ID), ""); s != 204 {
		t.Fatalf("revoke: %d", s)
	}
	if s, _, _ := e.as(t, "", "GET", "/auth/me", "", "Authorization", "Bearer "+tok.Token); s != 401 {
		t.Fatalf("revoked token still works: %d", s)
	}
	e.as(t, "", "POST", "/auth/login", `{"user":"viewer","password":"viewer-password"}`)
	var dump string
	err := e.store.Pool().QueryRow(context.Background(), `SELECT concat_ws(' ',
		(SELECT string_agg(u::text, ' ') FROM users u), (SELECT string_agg(s::text, ' ') FROM sessions s),
		(SELECT string_agg(a::text, ' ') FROM api_tokens a), (SELECT string_agg(l::text, ' ') FROM audit_log l))`).Scan(&dump)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{tok.Token, e.tokens["planner"], "viewer-password", "planner-password"} {
		if strings.Contains(dump, secret) || strings.Contains(logBuf.String(), secret) {
			t.Errorf("secret %q stored or logged in the clear", secret[:8])
		}
	}
	if !strings.Contains(dump, "$argon2id$") {
		t.Error("passwords are not argon2id hashes")
	}
}

// TestAuditLog: writes with before/after and refusals are in the audit
// log, which refuses to be changed.
func TestAuditLog(t *testing.T) {
	e := newEnv(t)
	status, _, b := e.as(t, "planner", "POST", "/api/collections/gates/items",
		`{"type":"Feature","geometry":{"type":"Point","coordinates":[114.121,22.551]},"properties":{"name":"旧"}}`)
	var f struct{ ID int64 }
	_ = json.Unmarshal(b, &f)
	e.as(t, "planner", "PATCH", fmt.Sprintf("/api/collections/gates/items/%d", f.ID), `{"properties":{"name":"新"}}`)
	e.as(t, "viewer", "DELETE", fmt.Sprintf("/api/collections/gates/items/%d", f.ID), "")
	if status != 201 {
		t.Fatal(status)
	}
	status, _, b = e.as(t, "admin", "GET", "/api/audit", "")
	var log struct {
		Entries []struct {
			Actor, Action, Outcome, Target, IP string
			Before, After                      json.RawMessage
		}
	}
	if status != 200 || json.Unmarshal(b, &log) != nil {
		t.Fatalf("audit: %d %s", status, b)
	}
	var update, refusal bool
	for _, en := range log.Entries {
		if en.Action == "feature.update" && en.Actor == "planner" && strings.Contains(string(en.Before), "旧") && strings.Contains(string(en.After), "新") {
			update = true
		}
		if en.Outcome == "denied" && en.Actor == "viewer" && strings.HasPrefix(en.Action, "DELETE") && en.IP != "" {
			refusal = true
		}
	}
	if !update || !refusal {
		t.Fatalf("audit lacks the update (%v) or the refusal (%v):\n%s", update, refusal, b)
	}
	if _, err := e.store.Pool().Exec(context.Background(), `DELETE FROM audit_log`); err == nil {
		t.Fatal("audit log rows can be deleted")
	}
	if _, err := e.store.Pool().Exec(context.Background(), `UPDATE audit_log SET actor = 'x'`); err == nil {
		t.Fatal("audit log rows can be changed")
	}
	status, h, b := e.as(t, "admin", "GET", "/api/audit?f=csv", "")
	if status != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/csv") || !bytes.HasPrefix(b, []byte("seq,at,actor")) {
		t.Fatalf("csv export: %d %s", status, b)
	}
	_ = layers.Insert
}

// TestIngestRateLimitPerAccount: a device that floods the ingest endpoints
// gets 429 with Retry-After; another account is not slowed by it.
func TestIngestRateLimitPerAccount(t *testing.T) {
	e := newEnvWith(t, func(c *web.Config) { c.IngestRate = 20 })
	var limited int
	var retry string
	for range 40 {
		status, h, _ := e.as(t, "device", "POST", "/ingest/readings", `{"readings":[]}`)
		if status == http.StatusTooManyRequests {
			limited++
			retry = h.Get("Retry-After")
		}
	}
	if limited == 0 || retry == "" {
		t.Fatalf("40 quick requests: %d limited, Retry-After %q", limited, retry)
	}
	if status, _, _ := e.as(t, "officer", "POST", "/ingest/positions", `{"positions":[]}`); status == http.StatusTooManyRequests {
		t.Fatal("another account was limited too")
	}
}
