package frontages

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/wkb"

	"github.com/hexward/hexward/layers"
	"github.com/hexward/hexward/layers/demo"
	"github.com/hexward/hexward/layers/pgtest"
	"github.com/hexward/hexward/spatial"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

var fr = spatial.NewFrame(orb.Point{114.1, 22.5})

func ll(x, y float64) orb.Point { return fr.ToLonLat(orb.Point{x, y}) }

func rectPoly(x0, y0, x1, y1 float64) orb.Polygon {
	return orb.Polygon{orb.Ring{ll(x0, y0), ll(x1, y0), ll(x1, y1), ll(x0, y1), ll(x0, y0)}}
}

func near(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if math.Abs(got-want) > tol {
		t.Errorf("%s = %.4f, want %.4f ± %g", what, got, want, tol)
	}
}

// The hand-built street: a 10 m wide street along y = 0 from x = 0 to 100
// (local metres), a row of buildings on its north side with its façade at
// y = 8 from x = 0 to 60, and three shops with doors on the façade at
// x = 10, 16 and 24.
func handStreet() (shops, streets, buildings []layers.Feature) {
	streets = []layers.Feature{{ID: 100, Layer: "streets", Geometry: orb.LineString{ll(0, 0), ll(50, 0), ll(100, 0)},
		Props: map[string]any{"name": "人民路", "kind": "street", "width": 10.0}}}
	buildings = []layers.Feature{{ID: 200, Layer: "buildings", Geometry: rectPoly(0, 8, 60, 20)}}
	for i, x := range []float64{10, 16, 24} {
		shops = append(shops, layers.Feature{ID: int64(i + 1), Layer: "shops", Geometry: ll(x, 8),
			Props: map[string]any{"name": string(rune('A' + i)), "street": "人民路"}})
	}
	return shops, streets, buildings
}

func TestHandBuiltStreet(t *testing.T) {
	shops, streets, buildings := handStreet()
	r, err := Derive(shops, streets, buildings, Options{MaxHalf: 5})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Frontages) != 3 || len(r.Unplaced) != 0 {
		t.Fatalf("frontages %+v, unplaced %v", r.Frontages, r.Unplaced)
	}
	const cm = 0.01
	want := [][2]float64{{5, 13}, {13, 20}, {20, 29}}
	for i, f := range r.Frontages {
		if f.ShopID != int64(i+1) || f.StreetID != 100 || f.Side != 1 || f.Street != "人民路" {
			t.Errorf("frontage %d: %+v", i, f)
		}
		near(t, "from", f.FromM, want[i][0], cm)
		near(t, "to", f.ToM, want[i][1], cm)
		near(t, "length", f.LengthM, want[i][1]-want[i][0], cm)
		near(t, "depth (façade at 8 m, kerb at 5 m)", f.DepthM, 3, cm)
		near(t, "area", f.AreaM2, 3*(want[i][1]-want[i][0]), 0.05)
		b := f.Polygon.Bound()
		lo, hi := fr.ToXY(b.Min), fr.ToXY(b.Max)
		near(t, "polygon x0", lo[0], want[i][0], cm)
		near(t, "polygon x1", hi[0], want[i][1], cm)
		near(t, "polygon kerb y", lo[1], 5, cm)
		near(t, "polygon façade y", hi[1], 8, cm)
	}
	// the façade runs 0–60: unattended 0–5 and 29–60
	if len(r.Gaps) != 2 {
		t.Fatalf("gaps %+v, want two", r.Gaps)
	}
	near(t, "gap 1 from", r.Gaps[0].FromM, 0, cm)
	near(t, "gap 1 to", r.Gaps[0].ToM, 5, cm)
	near(t, "gap 2 from", r.Gaps[1].FromM, 29, cm)
	near(t, "gap 2 to", r.Gaps[1].ToM, 60, cm)
	if p := fr.ToXY(r.Gaps[1].Line[0]); math.Abs(p[1]-8) > cm {
		t.Errorf("gap not on the façade: %v", p)
	}

	// without buildings the edge is the whole street and the reach is not
	// clipped to a façade
	r, err = Derive(shops, streets, nil, Options{MaxHalf: 5})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Gaps) != 2 || math.Abs(r.Gaps[1].ToM-100) > cm {
		t.Fatalf("gaps without buildings %+v", r.Gaps)
	}
	// at the default reach of 4.5 m the ends move in: gaps 0–5.5, 28.5–60
	r, _ = Derive(shops, streets, buildings, Options{})
	if len(r.Gaps) != 2 || math.Abs(r.Gaps[0].ToM-5.5) > cm || math.Abs(r.Gaps[1].FromM-28.5) > cm {
		t.Fatalf("gaps at 4.5 m reach %+v", r.Gaps)
	}
	// shops 10 m apart at a 4.5 m reach leave 1 m between them
	shops[1].Geometry = ll(20, 8)
	shops[2].Geometry = ll(26, 8)
	r, _ = Derive(shops, streets, buildings, Options{MinGap: 0.5})
	if len(r.Gaps) != 3 || math.Abs(r.Gaps[1].FromM-14.5) > cm || math.Abs(r.Gaps[1].LengthM-1) > cm {
		t.Fatalf("gaps between shops 10 m apart %+v", r.Gaps)
	}
	shops, _, _ = handStreet()
	// a lane: frontages reach the centre line
	streets[0].Props["kind"] = "lane"
	r, _ = Derive(shops, streets, buildings, Options{MaxHalf: 5})
	near(t, "lane depth", r.Frontages[0].DepthM, 8, cm)
	// a shop across the street, alone on its side and on no building
	shops = append(shops, layers.Feature{ID: 9, Geometry: ll(50, -7), Props: map[string]any{"street": "人民路"}})
	streets[0].Props["kind"] = "street"
	r, _ = Derive(shops, streets, buildings, Options{MaxHalf: 5})
	if len(r.Frontages) != 4 || r.Frontages[3].Side != -1 || math.Abs(r.Frontages[3].LengthM-10) > cm || math.Abs(r.Frontages[3].DepthM-2) > cm {
		t.Fatalf("shop across the street: %+v", r.Frontages)
	}
	// a shop far from every street is unplaced
	shops = append(shops, layers.Feature{ID: 10, Geometry: ll(50, 500)})
	r, _ = Derive(shops, streets, buildings, Options{})
	if len(r.Unplaced) != 1 || r.Unplaced[0] != 4 {
		t.Fatalf("unplaced %v", r.Unplaced)
	}
}

func TestAttribute(t *testing.T) {
	shops, streets, buildings := handStreet()
	r, err := Derive(shops, streets, buildings, Options{MaxHalf: 5})
	if err != nil {
		t.Fatal(err)
	}
	inc := func(x, y float64) layers.Feature { return layers.Feature{Layer: "alerts", Geometry: ll(x, y)} }
	incidents := []layers.Feature{inc(6, 6), inc(12, 7), inc(14, 6), inc(25, 5.5), inc(40, 6), inc(28, 4)}
	a, err := Attribute(r.Frontages, incidents, 0)
	if err != nil {
		t.Fatal(err)
	}
	if a.ByShop[1] != 2 || a.ByShop[2] != 1 || a.ByShop[3] != 1 || a.Unattributed != 2 {
		t.Fatalf("attribution %+v", a)
	}
	// within 1.5 m, the incident 1 m off the kerb of shop C is C's
	a, _ = Attribute(r.Frontages, incidents, 1.5)
	if a.ByShop[3] != 2 || a.Unattributed != 1 || a.Frontage[5] != 2 {
		t.Fatalf("attribution within 1.5 m %+v", a)
	}
	if _, err := Attribute(r.Frontages, []layers.Feature{{Geometry: orb.LineString{}}}, 0); err == nil {
		t.Fatal("line incident accepted")
	}
}

func TestBadInput(t *testing.T) {
	shops, streets, _ := handStreet()
	if _, err := Derive(shops, nil, nil, Options{}); err == nil {
		t.Error("no streets accepted")
	}
	if _, err := Derive(shops, streets, nil, Options{MaxHalf: -1}); err == nil {
		t.Error("negative reach accepted")
	}
	bad := []layers.Feature{{Geometry: orb.LineString{ll(0, 0), ll(1, 1)}}}
	if _, err := Derive(bad, streets, nil, Options{}); err == nil || !strings.Contains(err.Error(), "want a point") {
		t.Errorf("line shop: %v", err)
	}
}

func byLayer(fs []layers.Feature) map[string][]layers.Feature {
	by := map[string][]layers.Feature{}
	for _, f := range fs {
		by[f.Layer] = append(by[f.Layer], f)
	}
	return by
}

// TestDemoFrontages derives the frontages of the demo district's shops
// and compares them with the generator's own (same rule: half way to the
// neighbours, at most 4.5 m, within the building front, to the kerb on
// city streets and the centre line on village lanes).
func TestDemoFrontages(t *testing.T) {
	var fs []layers.Feature
	if err := demo.Generate(1, 0.05, func(f layers.Feature) error { fs = append(fs, f); return nil }); err != nil {
		t.Fatal(err)
	}
	by := byLayer(fs)
	r, err := Derive(by["shops"], by["streets"], by["buildings"], Options{})
	if err != nil {
		t.Fatal(err)
	}
	// shop n ↔ frontage "demo:frontage:n"
	want := map[string]layers.Feature{}
	for _, f := range by["frontages"] {
		want[strings.TrimPrefix(f.Props["source_id"].(string), "demo:frontage:")] = f
	}
	if len(r.Frontages) < len(by["shops"])*98/100 {
		t.Fatalf("%d frontages for %d shops (unplaced %v)", len(r.Frontages), len(by["shops"]), r.Unplaced)
	}
	bad := 0
	for _, f := range r.Frontages {
		n := strings.TrimPrefix(by["shops"][f.Shop].Props["source_id"].(string), "demo:shop:")
		w, ok := want[n]
		if !ok {
			t.Fatalf("no demo frontage for shop %s", n)
		}
		if math.Abs(f.LengthM-w.Props["length_m"].(float64)) > 0.05 || math.Abs(f.DepthM-w.Props["depth_m"].(float64)) > 0.05 {
			bad++
			if bad < 5 {
				t.Logf("shop %s: derived %.2f × %.2f, demo %.2f × %.2f", n, f.LengthM, f.DepthM, w.Props["length_m"], w.Props["depth_m"])
			}
		}
	}
	if bad > len(r.Frontages)/100 {
		t.Errorf("%d of %d frontages differ from the demo's", bad, len(r.Frontages))
	}
	t.Logf("%d shops, %d frontages, %d differ, %d gaps", len(by["shops"]), len(r.Frontages), bad, len(r.Gaps))
}

// TestDemoAgreesWithPostGIS derives the frontages from the stored demo
// layers and checks their areas and façade lengths against PostGIS
// geography within 0.5 %, and the gap lengths too.
func TestDemoAgreesWithPostGIS(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.New(t)
	st := layers.NewStore(pool, layers.Governance())
	var fs []layers.Feature
	if err := demo.Generate(1, 0.05, func(f layers.Feature) error { fs = append(fs, f); return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Import(ctx, layers.FromSlice(fs), nil); err != nil {
		t.Fatal(err)
	}
	by := map[string][]layers.Feature{}
	for _, l := range []string{"shops", "streets", "buildings"} {
		if err := st.ScanLayer(ctx, l, func(f layers.Feature) error { by[l] = append(by[l], f); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	r, err := Derive(by["shops"], by["streets"], by["buildings"], Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Frontages) == 0 || len(r.Gaps) == 0 {
		t.Fatalf("%d frontages, %d gaps", len(r.Frontages), len(r.Gaps))
	}
	var polys, faces, gaps [][]byte
	for _, f := range r.Frontages {
		b, _ := wkb.Marshal(f.Polygon)
		polys = append(polys, b)
		e, _ := wkb.Marshal(f.Facade)
		faces = append(faces, e)
	}
	for _, g := range r.Gaps {
		b, _ := wkb.Marshal(g.Line)
		gaps = append(gaps, b)
	}
	check := func(what, sql string, geoms [][]byte, got func(i int) float64) {
		rows, err := pool.Query(ctx, sql, geoms)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		i := 0
		for rows.Next() {
			var v float64
			if err := rows.Scan(&v); err != nil {
				t.Fatal(err)
			}
			if g := got(i); math.Abs(g-v) > 0.005*v {
				t.Errorf("%s %d: Go %.4f, PostGIS %.4f", what, i, g, v)
			}
			i++
		}
		if i != len(geoms) {
			t.Fatalf("%s: %d rows for %d geometries", what, i, len(geoms))
		}
	}
	check("frontage area", `SELECT ST_Area(ST_GeomFromWKB(g, 4326)::geography) FROM unnest($1::bytea[]) WITH ORDINALITY AS u(g, n) ORDER BY n`,
		polys, func(i int) float64 { return r.Frontages[i].AreaM2 })
	// on straight streets the façade edge is as long as the frontage
	check("frontage length", `SELECT ST_Length(ST_GeomFromWKB(g, 4326)::geography) FROM unnest($1::bytea[]) WITH ORDINALITY AS u(g, n) ORDER BY n`,
		faces, func(i int) float64 { return r.Frontages[i].LengthM })
	check("gap length", `SELECT ST_Length(ST_GeomFromWKB(g, 4326)::geography) FROM unnest($1::bytea[]) WITH ORDINALITY AS u(g, n) ORDER BY n`,
		gaps, func(i int) float64 { return r.Gaps[i].LengthM })
}

// BenchmarkDerive derives the frontages of the demo district at scale 1.
func BenchmarkDerive(b *testing.B) {
	var fs []layers.Feature
	if err := demo.Generate(1, 1, func(f layers.Feature) error { fs = append(fs, f); return nil }); err != nil {
		b.Fatal(err)
	}
	by := byLayer(fs)
	b.ReportMetric(float64(len(by["shops"])), "shops")
	for b.Loop() {
		if _, err := Derive(by["shops"], by["streets"], by["buildings"], Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
