package analysis_test

import (
	"context"
	"errors"
	"math"
	"testing"

	"github.com/paulmach/orb"

	"github.com/hexward/hexward/analysis"
	"github.com/hexward/hexward/layers"
	"github.com/hexward/hexward/layers/demo"
	"github.com/hexward/hexward/layers/pgtest"
	"github.com/hexward/hexward/spatial"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// demoStore is a store holding the demo district at a small scale.
func demoStore(t testing.TB, scale float64) *layers.Store {
	t.Helper()
	store := layers.NewStore(pgtest.New(t), layers.Governance())
	var fs []layers.Feature
	if err := demo.Generate(1, scale, func(f layers.Feature) error { fs = append(fs, f); return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Import(context.Background(), layers.FromSlice(fs), nil); err != nil {
		t.Fatal(err)
	}
	return store
}

func count(t *testing.T, s *layers.Store, layer string) int {
	t.Helper()
	n, err := s.Count(context.Background(), layer)
	if err != nil {
		t.Fatal(err)
	}
	return int(n)
}

// TestRunPublishesEveryResultLayer runs the analyses on the demo district:
// every result layer is written, a second run replaces rather than adds,
// the figures of every area are there, and the questions asked of the
// last run (what-if, suggestion, placard by hand) answer.
func TestRunPublishesEveryResultLayer(t *testing.T) {
	ctx := context.Background()
	store := demoStore(t, 0.05)
	e, err := analysis.New(store, analysis.Options{Leaks: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.AllFigures(""); !errors.Is(err, analysis.ErrNotRun) {
		t.Fatalf("figures before a run: %v", err)
	}
	st, err := e.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("run: %+v", st)
	for _, l := range analysis.ResultLayers {
		if l == "leaks" || l == "blind_spots" {
			continue // checked below: the demo may or may not have them
		}
		if n := count(t, store, l); n == 0 || n != st.Features[l] {
			t.Errorf("layer %s: %d features stored, run says %d", l, n, st.Features[l])
		}
	}
	if st.Features["blind_spots"] == 0 {
		t.Error("no blind spots in a district with alleys no camera sees")
	}
	if st.Features["fence_gaps"] > 0 && st.Features["leaks"] == 0 {
		t.Error("fence gaps but no leaks: the demo's alleys run through its gaps")
	}
	before := map[string]int{}
	for _, l := range analysis.ResultLayers {
		before[l] = count(t, store, l)
	}
	if _, err := e.Run(ctx); err != nil {
		t.Fatal(err)
	}
	for _, l := range analysis.ResultLayers {
		if n := count(t, store, l); n != before[l] {
			t.Errorf("layer %s: %d after a second run, %d after the first", l, n, before[l])
		}
	}

	all, err := e.AllFigures("")
	if err != nil {
		t.Fatal(err)
	}
	byLayer := map[string]int{}
	for _, f := range all {
		byLayer[f.Layer]++
		if len(f.Coverage.Levels) != 4 {
			t.Fatalf("%s %d: %d levels", f.Layer, f.ID, len(f.Coverage.Levels))
		}
		// Shares never exceed 1, and higher densities never cover more.
		for i, l := range f.Coverage.Levels {
			if l.Shares.StreetArea < 0 || l.Shares.StreetArea > 1 {
				t.Fatalf("%s %d: share %v", f.Layer, f.ID, l.Shares.StreetArea)
			}
			if i > 0 && l.Covered.StreetAreaM2 > f.Coverage.Levels[i-1].Covered.StreetAreaM2+1e-6 {
				t.Fatalf("%s %d: %s covers more than %s", f.Layer, f.ID, l.Level, f.Coverage.Levels[i-1].Level)
			}
		}
	}
	for _, l := range analysis.AreaLayers {
		if byLayer[l] != count(t, store, l) {
			t.Errorf("%s: figures for %d of %d", l, byLayer[l], count(t, store, l))
		}
	}
	compounds, _ := e.AllFigures("compounds")
	var placarded int
	for _, c := range compounds {
		if c.Placard != nil {
			placarded++
		}
		if c.Counts == nil {
			t.Errorf("compound %d without counts", c.ID)
		}
	}
	if placarded != len(compounds) {
		t.Errorf("%d of %d compounds have a placard", placarded, len(compounds))
	}
	zones, _ := e.AllFigures("village_zones")
	for _, z := range zones {
		if z.Enclose == nil || z.Enclose.PerimeterM <= 0 || z.Enclose.EnclosedShare > 1 {
			t.Fatalf("zone %d enclosure %+v", z.ID, z.Enclose)
		}
	}

	// A hypothetical camera in the middle of a street sees something and
	// never lowers coverage.
	var street layers.Feature
	_ = store.ScanLayer(ctx, "streets", func(f layers.Feature) error {
		if street.ID == 0 {
			street = f
		}
		return nil
	})
	line := street.Geometry.(orb.LineString)
	mid := orb.Point{(line[0][0] + line[1][0]) / 2, (line[0][1] + line[1][1]) / 2}
	w, err := e.Evaluate(spatial.Camera{Pos: mid, Bearing: 90})
	if err != nil {
		t.Fatal(err)
	}
	if len(w.Views) != 4 || w.Views[0].Geometry == nil || w.Gain[0].StreetAreaM2 < 0 {
		t.Fatalf("what-if %+v", w)
	}
	if _, err := e.Evaluate(spatial.Camera{Pos: orb.Point{0, 0}, Bearing: 90}); err == nil {
		t.Fatal("a camera outside the district was evaluated")
	}
	if _, err := e.Evaluate(spatial.Camera{Pos: mid, Bearing: 90, Tilt: 95}); err == nil {
		t.Fatal("a tilt of 95° was accepted")
	}

	// Three suggested cameras in the first compound, gains never increasing.
	ss, err := e.Suggest(ctx, 3, "observe", "compounds", compounds[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(ss); i++ {
		if ss[i].Score > ss[i-1].Score+1e-9 {
			t.Fatalf("gains increase: %v then %v", ss[i-1].Score, ss[i].Score)
		}
	}
	if _, err := e.Suggest(ctx, 0, "", "", 0); err == nil {
		t.Fatal("k = 0 accepted")
	}

	// A placard set by hand records who and why, and is shown at once.
	as := layers.WithActor(ctx, layers.Actor{User: "planner-1", Role: "planner"})
	c := compounds[0]
	f, err := e.SetPlacard(as, c.ID, "red", "fire exits blocked (inspection 2026-11-20)")
	if err != nil {
		t.Fatal(err)
	}
	if f.Props["rating"] != "red" || f.Props["overridden"] != true || f.Props["override_by"] != "planner-1" {
		t.Fatalf("placard %+v", f.Props)
	}
	if n := count(t, store, "placards"); n != before["placards"] {
		t.Fatalf("%d placards after the override, %d before", n, before["placards"])
	}
	got, _ := e.Figures("compounds", c.ID)
	if got.Placard == nil || got.Placard.Rating != "red" || !got.Placard.Overridden {
		t.Fatalf("figures after the override: %+v", got.Placard)
	}
	if _, err := e.SetPlacard(as, c.ID, "purple", "x"); err == nil {
		t.Fatal("rating purple accepted")
	}
	if _, err := e.SetPlacard(as, c.ID, "green", " "); err == nil {
		t.Fatal("an override without a reason accepted")
	}
	// A rerun keeps the override.
	if _, err := e.Run(ctx); err != nil {
		t.Fatal(err)
	}
	got, _ = e.Figures("compounds", c.ID)
	if got.Placard.Rating != "red" {
		t.Fatalf("the override did not survive a rerun: %+v", got.Placard)
	}
	if f, err := e.SetPlacard(as, c.ID, "", "reinspected"); err != nil || f.Props["overridden"] != false {
		t.Fatalf("clearing: %v %+v", err, f.Props)
	}
}

// TestSubdistrictAddsUp: the subdistrict's coverage totals are at least
// each community's, and its street length is the sum of theirs within a
// tolerance (communities tile the subdistrict).
func TestSubdistrictAddsUp(t *testing.T) {
	store := demoStore(t, 0.05)
	e, _ := analysis.New(store, analysis.Options{})
	if _, err := e.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	subs, _ := e.AllFigures("subdistricts")
	comms, _ := e.AllFigures("communities")
	var sum float64
	for _, c := range comms {
		sum += c.Coverage.Total.StreetLengthM
		if c.Coverage.Total.StreetLengthM > subs[0].Coverage.Total.StreetLengthM {
			t.Fatalf("community %d has more street than the subdistrict", c.ID)
		}
	}
	if got := subs[0].Coverage.Total.StreetLengthM; math.Abs(sum-got) > 0.02*got {
		t.Errorf("communities' street length %v, subdistrict's %v", sum, got)
	}
}

// TestLeaksFollowEdits: a rerun reuses the leaks of zones whose streets,
// gates and walls did not change, and finds the leak an edit closes: a
// gate, or a wall.
func TestLeaksFollowEdits(t *testing.T) {
	ctx := context.Background()
	store := demoStore(t, 0.05)
	e, _ := analysis.New(store, analysis.Options{Leaks: true})
	first, err := e.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if first.Features["leaks"] == 0 {
		t.Fatal("no leaks in the demo")
	}
	again, err := e.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if again.Features["leaks"] != first.Features["leaks"] {
		t.Fatalf("leaks %d then %d without an edit", first.Features["leaks"], again.Features["leaks"])
	}
	// A gate at a leak closes it.
	var leak layers.Feature
	_ = store.ScanLayer(ctx, "leaks", func(f layers.Feature) error {
		if leak.ID == 0 {
			leak = f
		}
		return nil
	})
	if _, err := store.Create(ctx, layers.Feature{Layer: "gates", Geometry: leak.Geometry, Props: map[string]any{"name": "新闸口"}}); err != nil {
		t.Fatal(err)
	}
	after, err := e.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if after.Features["leaks"] != first.Features["leaks"]-1 {
		t.Fatalf("a gate on a leak: %d leaks, were %d", after.Features["leaks"], first.Features["leaks"])
	}
	if after.TookMS["fences"] >= first.TookMS["fences"] {
		t.Logf("note: the rerun's fence step took %v ms, the first %v ms", after.TookMS["fences"], first.TookMS["fences"])
	}
	// A wall built across another leak closes it too: the street drawn
	// through it is no way out.
	leak = layers.Feature{}
	_ = store.ScanLayer(ctx, "leaks", func(f layers.Feature) error {
		if leak.ID == 0 {
			leak = f
		}
		return nil
	})
	p := leak.Geometry.(orb.Point)
	const d = 2e-5 // about 2 m: an X of two short walls, one of them across the street
	x := orb.MultiLineString{{{p[0] - d, p[1] - d}, {p[0] + d, p[1] + d}}, {{p[0] - d, p[1] + d}, {p[0] + d, p[1] - d}}}
	if _, err := store.Create(ctx, layers.Feature{Layer: "fences", Geometry: x, Props: map[string]any{"kind": "wall"}}); err != nil {
		t.Fatal(err)
	}
	walled, err := e.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if walled.Features["leaks"] != after.Features["leaks"]-1 {
		t.Fatalf("a wall across a leak: %d leaks, were %d", walled.Features["leaks"], after.Features["leaks"])
	}
}
