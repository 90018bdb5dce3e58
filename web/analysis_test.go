package web_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// TestAnalysisAPI runs the analyses over the sample layers and asks the
// API: the run, the figures (JSON and CSV), a hypothetical camera, a
// placard set by hand; bad input is refused and changes nothing; the
// result layers are collections and tiles like any other.
func TestAnalysisAPI(t *testing.T) {
	e := newEnv(t)
	if code, _, body := e.as(t, "viewer", "GET", "/api/analysis/figures", ""); code != http.StatusConflict {
		t.Fatalf("figures before a run: %d %s", code, body)
	}
	code, _, body := e.as(t, "planner", "POST", "/api/analysis/run", "")
	if code != 200 || !strings.Contains(string(body), `"camera_views"`) {
		t.Fatalf("run: %d %s", code, body)
	}
	if code, _, body := e.as(t, "planner-b", "POST", "/api/analysis/run", ""); code != http.StatusForbidden {
		t.Fatalf("a scoped planner reran the whole district: %d %s", code, body)
	}
	code, _, body = e.as(t, "viewer", "GET", "/api/analysis/figures?layer=compounds", "")
	var figs struct {
		Level string
		Areas []struct {
			Layer, Code string
			ID          int64
			Coverage    struct{ Levels []struct{ Level string } }
			Placard     *struct{ Rating string }
		}
	}
	if err := json.Unmarshal(body, &figs); err != nil || code != 200 || len(figs.Areas) != 1 || figs.Areas[0].Code != "A-1" ||
		len(figs.Areas[0].Coverage.Levels) != 4 || figs.Areas[0].Placard == nil {
		t.Fatalf("figures: %d %s", code, body)
	}
	compound := figs.Areas[0].ID
	code, hdr, body := e.as(t, "viewer", "GET", "/api/analysis/figures?format=csv", "")
	if code != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/csv") || !strings.HasPrefix(string(body), "layer,id,code,name,") ||
		strings.Count(string(body), "\n") != 5 { // header + subdistrict, community, compound, village zone
		t.Fatalf("csv: %d %s", code, body)
	}
	if code, _, body := e.as(t, "viewer-b", "GET", "/api/analysis/figures", ""); code != 200 || strings.Contains(string(body), `"A-1"`) {
		t.Fatalf("a viewer of area B sees area A's figures: %d %s", code, body)
	}
	if code, _, _ := e.as(t, "viewer", "GET", "/api/analysis/figures?layer=buildings", ""); code != 400 {
		t.Fatalf("figures of buildings: %d", code)
	}

	// A hypothetical camera.
	cam := `{"lon":114.1205,"lat":22.5501,"bearing":90,"hfov":90,"tilt":20,"mount_height":4,"resolution_h":1920}`
	code, _, body = e.as(t, "planner", "POST", "/api/analysis/whatif", cam)
	var w struct {
		Views []struct {
			Level    string
			Geometry json.RawMessage
		}
		Gain []struct{ Level string }
	}
	if err := json.Unmarshal(body, &w); err != nil || code != 200 || len(w.Views) != 4 || len(w.Gain) != 4 || w.Views[0].Level != "detect" {
		t.Fatalf("what-if: %d %s", code, body)
	}
	_, changesBefore := e.counts(t)
	for _, bad := range []string{
		`{"lat":22.55,"bearing":90}`, `{"lon":114.12,"lat":22.55}`, `{"lon":114.12,"lat":95,"bearing":90}`,
		`{"lon":114.12,"lat":22.55,"bearing":400}`, `{"lon":114.12,"lat":22.55,"bearing":90,"tilt":95}`,
		`{"lon":114.12,"lat":22.55,"bearing":90,"zoom":3}`, `{"lon":"east"}`, `{`, `{"lon":10,"lat":10,"bearing":0}`,
	} {
		if code, _, body := e.as(t, "planner", "POST", "/api/analysis/whatif", bad); code != 400 || !strings.Contains(string(body), "detail") {
			t.Errorf("what-if %s: %d %s", bad, code, body)
		}
	}
	if code, _, _ := e.as(t, "planner-b", "POST", "/api/analysis/whatif", cam); code != http.StatusForbidden {
		t.Fatalf("a planner of area B placed a camera in A: %d", code)
	}
	if _, changes := e.counts(t); changes != changesBefore {
		t.Fatalf("what-ifs changed the change log: %d → %d", changesBefore, changes)
	}

	// A placard set by hand, then given back.
	id := func(n int64) string { return fmt.Sprint(n) }
	code, _, body = e.as(t, "planner", "PUT", "/api/analysis/placards/"+id(compound), `{"rating":"red","reason":"消防通道堵塞"}`)
	if code != 200 || !strings.Contains(string(body), `"override_by":"planner"`) || !strings.Contains(string(body), `"rating":"red"`) {
		t.Fatalf("placard: %d %s", code, body)
	}
	for _, bad := range []string{`{"rating":"purple","reason":"x"}`, `{"rating":"red"}`, `{"rating":"","reason":"x"}`, `[]`} {
		if code, _, body := e.as(t, "planner", "PUT", "/api/analysis/placards/"+id(compound), bad); code != 400 {
			t.Errorf("placard %s: %d %s", bad, code, body)
		}
	}
	if code, _, _ := e.as(t, "planner", "PUT", "/api/analysis/placards/999999", `{"rating":"red","reason":"x"}`); code != 404 {
		t.Errorf("placard of no compound: %d", code)
	}
	code, _, body = e.as(t, "planner", "PUT", "/api/analysis/placards/"+id(compound), `{"rating":null,"reason":"复查合格"}`)
	if code != 200 || !strings.Contains(string(body), `"overridden":false`) {
		t.Fatalf("placard cleared: %d %s", code, body)
	}

	// The result layers are collections and tiles.
	_, _, body = e.as(t, "viewer", "GET", "/api/collections", "")
	for _, l := range []string{"blind_spots", "fence_gaps", "leaks", "frontage_gaps", "grid_cells", "placards", "camera_views"} {
		if !strings.Contains(string(body), `"id":"`+l+`"`) {
			t.Errorf("collection %s missing", l)
		}
	}
	if code, _, body := e.as(t, "viewer", "GET", "/api/collections/placards/items", ""); code != 200 || !strings.Contains(string(body), `"A-1"`) {
		t.Fatalf("placards items: %d %s", code, body)
	}
	if code, _, _ := e.as(t, "viewer", "GET", "/tiles/placards,grid_cells/16/53539/28531.mvt", ""); code != 200 && code != 204 {
		t.Fatalf("result layer tile: %d", code)
	}
	if code, _, body := e.as(t, "viewer", "GET", "/api/analysis/frontages/incidents", ""); code != 200 || !strings.Contains(string(body), `"shops"`) {
		t.Fatalf("incidents per shop: %d %s", code, body)
	}
}
