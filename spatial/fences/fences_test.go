package fences

import (
	"context"
	"math"
	"testing"

	"github.com/paulmach/orb"

	"github.com/hexward/hexward/layers"
	"github.com/hexward/hexward/layers/demo"
	"github.com/hexward/hexward/layers/pgtest"
	"github.com/hexward/hexward/spatial"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// The hand-built zone: a 100 m square (local metres, origin at its
// south-west corner) walled all round except a 3 m gap on the south side
// at x 40–43, a 4 m gate opening on the east side at y = 30 (gate A) and
// one on the north side at x = 70 (gate B).
var fr = spatial.NewFrame(orb.Point{114.1, 22.5})

func ll(x, y float64) orb.Point { return fr.ToLonLat(orb.Point{x, y}) }

func line(pts ...[2]float64) orb.LineString {
	ls := make(orb.LineString, len(pts))
	for i, p := range pts {
		ls[i] = ll(p[0], p[1])
	}
	return ls
}

func square() orb.Polygon {
	return orb.Polygon{orb.Ring{ll(0, 0), ll(100, 0), ll(100, 100), ll(0, 100), ll(0, 0)}}
}

func wall(pts ...[2]float64) layers.Feature {
	return layers.Feature{Layer: "fences", Geometry: line(pts...), Props: map[string]any{"kind": "wall", "zone_code": "T-Z1"}}
}

func handWalls() []layers.Feature {
	return []layers.Feature{
		wall([2]float64{0, 0}, [2]float64{40, 0}),
		wall([2]float64{43, 0}, [2]float64{100, 0}),
		wall([2]float64{100, 0}, [2]float64{100, 28}),
		wall([2]float64{100, 32}, [2]float64{100, 100}),
		wall([2]float64{100, 100}, [2]float64{72, 100}),
		wall([2]float64{68, 100}, [2]float64{0, 100}),
		wall([2]float64{0, 100}, [2]float64{0, 0}),
	}
}

// street is a streets feature of kind along pts (local metres).
func street(kind string, pts ...[2]float64) layers.Feature {
	return layers.Feature{Layer: "streets", Geometry: line(pts...), Props: map[string]any{"kind": kind}}
}

func gate(id int64, name string, x, y float64) layers.Feature {
	return layers.Feature{ID: id, Layer: "gates", Geometry: ll(x, y), Props: map[string]any{"name": name, "kind": "main", "zone_code": "T-Z1"}}
}

func near(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if math.Abs(got-want) > tol {
		t.Errorf("%s = %.4f, want %.4f ± %g", what, got, want, tol)
	}
}

func TestHandBuiltZone(t *testing.T) {
	gates := []layers.Feature{gate(2, "B", 70, 100), gate(1, "A", 100, 30)}
	// a building set 0.5 m inside the west wall must not change anything;
	// one on the far side of the gap 5 m away must not close it
	bldgs := []layers.Feature{
		{Layer: "buildings", Geometry: orb.Polygon{orb.Ring{ll(0.5, 10), ll(10, 10), ll(10, 20), ll(0.5, 20), ll(0.5, 10)}}},
		{Layer: "buildings", Geometry: orb.Polygon{orb.Ring{ll(38, -15), ll(45, -15), ll(45, -5), ll(38, -5), ll(38, -15)}}},
	}
	r, err := Analyse(square(), handWalls(), bldgs, gates, Options{})
	if err != nil {
		t.Fatal(err)
	}
	const cm = 0.01
	near(t, "perimeter", r.PerimeterM, 400, cm)
	near(t, "area", r.AreaM2, 10000, 1)
	near(t, "enclosed", r.EnclosedM, 389, cm)
	near(t, "enclosed share", r.EnclosedShare, 389.0/400, 1e-4)
	near(t, "gated", r.GatedM, 8, cm)
	near(t, "controlled share", r.ControlledShare, 397.0/400, 1e-4)
	if len(r.Gaps) != 1 {
		t.Fatalf("gaps %+v, want one", r.Gaps)
	}
	near(t, "gap width", r.Gaps[0].WidthM, 3, cm)
	near(t, "gap position", r.Gaps[0].FromM, 40, cm)
	a, b := fr.ToXY(r.Gaps[0].Line[0]), fr.ToXY(r.Gaps[0].Line[len(r.Gaps[0].Line)-1])
	near(t, "gap start x", a[0], 40, cm)
	near(t, "gap end x", b[0], 43, cm)
	if len(r.Gates) != 2 || r.Gates[0].Name != "A" || r.Gates[1].Name != "B" {
		t.Fatalf("gates %+v, want A then B", r.Gates)
	}
	near(t, "gate A position", r.Gates[0].AtM, 130, cm)
	near(t, "gate B position", r.Gates[1].AtM, 230, cm)
	near(t, "A→B", r.Gates[0].ToNextM, 100, cm)
	near(t, "B→A", r.Gates[1].ToNextM, 300, cm)
	near(t, "max spacing", r.MaxGateSpacingM, 300, cm)
	if r.Gates[0].NextGate != 2 || r.Gates[1].NextGate != 1 {
		t.Errorf("next gates %d, %d", r.Gates[0].NextGate, r.Gates[1].NextGate)
	}
	if len(r.GateOpenings) != 2 {
		t.Errorf("gate openings %+v", r.GateOpenings)
	}

	// without gates both gate openings are gaps too
	r, err = Analyse(square(), handWalls(), nil, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Gaps) != 3 || r.MaxGateSpacingM != 0 {
		t.Fatalf("without gates: gaps %d, spacing %v", len(r.Gaps), r.MaxGateSpacingM)
	}
	// a 3 m gap is not reported when the minimum is 3.5 m
	r, _ = Analyse(square(), handWalls(), nil, gates, Options{MinGap: 3.5})
	if len(r.Gaps) != 0 {
		t.Fatalf("min gap 3.5: gaps %+v", r.Gaps)
	}
	// a wall 0.8 m outside the gap closes it at tolerance 1 but not 0.5
	extra := append(handWalls(), wall([2]float64{39, -0.8}, [2]float64{44, -0.8}))
	r, _ = Analyse(square(), extra, nil, gates, Options{})
	if len(r.Gaps) != 0 || math.Abs(r.EnclosedM-392) > cm {
		t.Fatalf("outer wall at tolerance 1: gaps %+v enclosed %v", r.Gaps, r.EnclosedM)
	}
	r, _ = Analyse(square(), extra, nil, gates, Options{Tolerance: 0.5})
	if len(r.Gaps) != 1 {
		t.Fatalf("outer wall at tolerance 0.5: gaps %+v", r.Gaps)
	}
}

func TestGapAcrossTheStart(t *testing.T) {
	// the opening spans the first vertex: 2 m either side of (0, 0)
	ws := []layers.Feature{
		wall([2]float64{2, 0}, [2]float64{100, 0}, [2]float64{100, 100}, [2]float64{0, 100}, [2]float64{0, 2}),
	}
	r, err := Analyse(square(), ws, nil, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Gaps) != 1 {
		t.Fatalf("gaps %+v", r.Gaps)
	}
	near(t, "corner gap", r.Gaps[0].WidthM, 4, 0.01)
	if n := len(r.Gaps[0].Line); n != 3 {
		t.Fatalf("corner gap line has %d points, want 3 (through the corner)", n)
	}
}

func TestBadInput(t *testing.T) {
	if _, err := Analyse(orb.Polygon{}, nil, nil, nil, Options{}); err == nil {
		t.Error("empty zone accepted")
	}
	if _, err := Analyse(square(), nil, nil, nil, Options{Tolerance: -1}); err == nil {
		t.Error("negative tolerance accepted")
	}
	if _, err := AnalyseAll([]layers.Feature{{Geometry: orb.Point{1, 2}}}, nil, nil, nil, Options{}); err == nil {
		t.Error("point zone accepted")
	}
	r, err := Analyse(square(), nil, nil, nil, Options{})
	if err != nil || r.EnclosedM != 0 || len(r.Gaps) != 1 || math.Abs(r.Gaps[0].WidthM-400) > 0.01 {
		t.Fatalf("unwalled zone: %+v, %v", r, err)
	}
}

func TestLeaks(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.New(t)
	st := layers.NewStore(pool, layers.Governance())
	fs := []layers.Feature{
		{Layer: "village_zones", Geometry: square(), Props: map[string]any{"code": "T-Z1"}},
		// the ring road 5 m outside
		street("street", [2]float64{-5, -5}, [2]float64{105, -5}, [2]float64{105, 105}, [2]float64{-5, 105}, [2]float64{-5, -5}),
		// the alley through the gap, the alleys through gates A and B, and
		// the lane inside joining them
		street("alley", [2]float64{41.5, -5}, [2]float64{41.5, 50}),
		street("alley", [2]float64{105, 30}, [2]float64{70, 30}, [2]float64{70, 50}),
		street("alley", [2]float64{70, 105}, [2]float64{70, 60}),
		street("lane", [2]float64{20, 50}, [2]float64{41.5, 50}, [2]float64{70, 50}, [2]float64{70, 60}),
		// a lane ending at the wall leaks nothing
		street("lane", [2]float64{0, 80}, [2]float64{30, 80}),
		gate(0, "A", 100, 30), gate(0, "B", 70, 100),
	}
	if _, err := st.Import(ctx, layers.FromSlice(fs), nil); err != nil {
		t.Fatal(err)
	}
	leaks, err := Leaks(ctx, pool, square(), LeakOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(leaks) != 1 {
		t.Fatalf("leaks %+v, want one at the gap", leaks)
	}
	p := fr.ToXY(leaks[0].Point)
	near(t, "leak x", p[0], 41.5, 0.01)
	near(t, "leak y", p[1], 0, 0.01)
	// inside: 50 (gap alley) + 30+20 (A) + 40 (B) + 60 (lane) = 200 m
	near(t, "inside reachable", leaks[0].InsideM, 200, 0.5)

	// a gate at the gap closes the leak
	if _, err := st.Create(ctx, gate(0, "C", 41.5, 0)); err != nil {
		t.Fatal(err)
	}
	var zoneID int64
	if err := pool.QueryRow(ctx, `SELECT id FROM features WHERE layer = 'village_zones'`).Scan(&zoneID); err != nil {
		t.Fatal(err)
	}
	leaks, err = LeaksForZone(ctx, pool, zoneID, LeakOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(leaks) != 0 {
		t.Fatalf("leaks with a gate at the gap: %+v", leaks)
	}
	if _, err := LeaksForZone(ctx, pool, zoneID+1000, LeakOptions{}); err == nil {
		t.Fatal("missing zone accepted")
	}
}

// TestWallsCloseLeaks: a street drawn through the wall is no way out; the
// same street through the gap in the wall is one.
func TestWallsCloseLeaks(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.New(t)
	st := layers.NewStore(pool, layers.Governance())
	fs := []layers.Feature{
		{Layer: "village_zones", Geometry: square(), Props: map[string]any{"code": "T-Z1"}},
		// the wall all round but for a 3 m gap in the south side (x 40-43),
		// drawn 0.4 m outside the perimeter as surveyed walls are
		wall([2]float64{43, -0.4}, [2]float64{100.4, -0.4}, [2]float64{100.4, 100.4}, [2]float64{-0.4, 100.4}, [2]float64{-0.4, -0.4}, [2]float64{40, -0.4}),
		// the ring road 5 m outside
		street("alley", [2]float64{-5, -5}, [2]float64{105, -5}, [2]float64{105, 105}, [2]float64{-5, 105}, [2]float64{-5, -5}),
		// alleys from the ring road through the wall, east and north
		street("alley", [2]float64{105, 30}, [2]float64{50, 30}),
		street("alley", [2]float64{70, 105}, [2]float64{70, 60}),
	}
	if _, err := st.Import(ctx, layers.FromSlice(fs), nil); err != nil {
		t.Fatal(err)
	}
	leaks, err := Leaks(ctx, pool, square(), LeakOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(leaks) != 0 {
		t.Fatalf("streets through the wall leak: %+v", leaks)
	}
	// the same kind of alley through the gap is a way out
	if _, err := st.Create(ctx, street("alley", [2]float64{41.5, -5}, [2]float64{41.5, 50})); err != nil {
		t.Fatal(err)
	}
	leaks, err = Leaks(ctx, pool, square(), LeakOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(leaks) != 1 {
		t.Fatalf("leaks %+v, want one at the gap", leaks)
	}
	p := fr.ToXY(leaks[0].Point)
	near(t, "leak x", p[0], 41.5, 0.01)
	near(t, "leak y", p[1], 0, 0.01)
	// a tolerance too small for how the wall was drawn lets the east and
	// north alleys out as well
	leaks, err = Leaks(ctx, pool, square(), LeakOptions{WallTolerance: 0.2})
	if err != nil {
		t.Fatal(err)
	}
	if len(leaks) != 3 {
		t.Fatalf("leaks with a 0.2 m wall tolerance: %+v, want 3", leaks)
	}
	if _, err := Leaks(ctx, pool, square(), LeakOptions{WallTolerance: -1}); err == nil {
		t.Fatal("negative wall tolerance accepted")
	}
}

// loadDemo generates the demo district at scale, imports it into a fresh
// database and returns the store and the generated features by layer.
func loadDemo(t *testing.T, scale float64) (*layers.Store, map[string][]layers.Feature) {
	t.Helper()
	pool := pgtest.New(t)
	st := layers.NewStore(pool, layers.Governance())
	var fs []layers.Feature
	if err := demo.Generate(1, scale, func(f layers.Feature) error { fs = append(fs, f); return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Import(context.Background(), layers.FromSlice(fs), nil); err != nil {
		t.Fatal(err)
	}
	by := map[string][]layers.Feature{}
	for _, l := range []string{"village_zones", "fences", "buildings", "gates"} {
		if err := st.ScanLayer(context.Background(), l, func(f layers.Feature) error {
			by[l] = append(by[l], f)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	return st, by
}

// TestDemoAgreesWithPostGIS analyses every zone of the demo district and
// checks perimeters, areas and fence lengths against PostGIS geography
// within 0.5 %, that without building façades the enclosed length is the
// length of the zone's fences, that every gate of a zone is found on its
// perimeter, and that every gap the demo left in a zone's fence is a leak.
func TestDemoAgreesWithPostGIS(t *testing.T) {
	ctx := context.Background()
	st, by := loadDemo(t, 0.05)
	pool := st.Pool()
	reports, err := AnalyseAll(by["village_zones"], by["fences"], by["buildings"], by["gates"], Options{})
	if err != nil {
		t.Fatal(err)
	}
	bare, err := AnalyseAll(by["village_zones"], by["fences"], nil, by["gates"], Options{NoBuildings: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(reports) == 0 {
		t.Fatal("demo has no zones")
	}
	gatesOf := map[string]int{}
	for _, g := range by["gates"] {
		gatesOf[g.Props["zone_code"].(string)]++
	}
	gaps := 0
	for i, r := range reports {
		var per, area, fenceLen float64
		if err := pool.QueryRow(ctx, `SELECT ST_Perimeter(geom::geography), ST_Area(geom::geography),
			(SELECT coalesce(sum(ST_Length(f.geom::geography)), 0) FROM features f WHERE f.layer = 'fences' AND f.props->>'zone_code' = z.props->>'code')
			FROM features z WHERE layer = 'village_zones' AND id = $1`, r.ZoneID).Scan(&per, &area, &fenceLen); err != nil {
			t.Fatal(err)
		}
		rel := func(what string, got, want float64) {
			if math.Abs(got-want) > 0.005*want {
				t.Errorf("zone %s %s: Go %.3f, PostGIS %.3f", r.ZoneCode, what, got, want)
			}
		}
		rel("perimeter", r.PerimeterM, per)
		rel("area", r.AreaM2, area)
		rel("enclosed without buildings = fence length", bare[i].EnclosedM, fenceLen)
		if r.EnclosedM < bare[i].EnclosedM-1e-6 {
			t.Errorf("zone %s: façades reduced the enclosure", r.ZoneCode)
		}
		if len(r.Gates) != gatesOf[r.ZoneCode] {
			t.Errorf("zone %s: %d gates on the perimeter, %d in the layer", r.ZoneCode, len(r.Gates), gatesOf[r.ZoneCode])
		}
		leaks, err := LeaksForZone(ctx, pool, r.ZoneID, LeakOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(leaks) != len(r.Gaps) {
			t.Errorf("zone %s: %d leaks %v, %d gaps %v", r.ZoneCode, len(leaks), leaks, len(r.Gaps), r.Gaps)
		}
		gaps += len(r.Gaps)
	}
	t.Logf("%d zones, %d gaps", len(reports), gaps)
	if fs := GapFeatures(reports); len(fs) != gaps {
		t.Fatalf("%d gap features for %d gaps", len(fs), gaps)
	}
}

func demoFeatures(b *testing.B, scale float64) map[string][]layers.Feature {
	by := map[string][]layers.Feature{}
	if err := demo.Generate(1, scale, func(f layers.Feature) error { by[f.Layer] = append(by[f.Layer], f); return nil }); err != nil {
		b.Fatal(err)
	}
	return by
}

// BenchmarkAnalyseAll analyses every zone of the demo district at scale 1.
func BenchmarkAnalyseAll(b *testing.B) {
	by := demoFeatures(b, 1)
	b.ReportMetric(float64(len(by["village_zones"])), "zones")
	for b.Loop() {
		if _, err := AnalyseAll(by["village_zones"], by["fences"], by["buildings"], by["gates"], Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
