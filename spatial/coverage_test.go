package spatial

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/paulmach/orb"
)

var testOrigin = NewFrame(orb.Point{114.125, 22.555})

func toLL(g orb.Geometry) orb.Geometry { return testOrigin.Unproject(g) }

// alleyModel is the L-shaped alley of lAlley with its centre line as a
// 3 m street, a gate at the bend and a fence along the east leg.
func alleyModel(t *testing.T, cams ...Camera) *Model {
	t.Helper()
	var d District
	for _, p := range lAlley() {
		d.Buildings = append(d.Buildings, toLL(p).(orb.Polygon))
	}
	d.Streets = []Street{{toLL(orb.LineString{{1.5, -10}, {1.5, 28.5}, {40, 28.5}}).(orb.LineString), 3}}
	d.Gates = []Gate{{1, toLL(orb.Point{1.5, 20}).(orb.Point)}, {2, toLL(orb.Point{20, 28.5}).(orb.Point)}}
	d.Fences = []orb.LineString{toLL(orb.LineString{{3, 28}, {40, 28}}).(orb.LineString)}
	d.Cameras = cams
	m, err := NewModel(d, Options{})
	if err != nil {
		t.Fatal(err)
	}
	m.Recompute()
	return m
}

// alleyCam is at (1.5, 0) looking north with a near-zero blind zone and a
// detect range past the whole alley.
func alleyCam() Camera {
	return Camera{ID: 1, Pos: toLL(orb.Point{1.5, 0}).(orb.Point), MountHeight: 4, Bearing: 0, HFOVDeg: 90,
		Tilt: 0, ResH: 3840, ResV: 2160, FocalLengthMM: 1, SensorHeightMM: 100}
}

func TestAlleyCoverage(t *testing.T) {
	m := alleyModel(t, alleyCam())
	vs := m.CameraViews()[0]
	det := vs[0]
	if det.Level != "detect" || det.Near > 0.1 || det.Range < 70 {
		t.Fatalf("detect view %+v", det)
	}
	want := 90 - 2.25 + 0.5*3*(30*1.5/27-1.5) - math.Pi*det.Near*det.Near/4
	if a := det.Area(); !near(a, want, 0.01) {
		t.Fatalf("view area %v, want %v", a, want)
	}
	if a := m.Frame.Area(det.Geometry); !near(a, want, 0.02) {
		t.Fatalf("lon/lat view area %v, want %v", a, want)
	}
	r, err := m.Report(nil)
	if err != nil {
		t.Fatal(err)
	}
	// street: 38.5 m north + 38.5 m east; area: the alley 3×37 + 40×3 and
	// the half disc of the street's open east end
	if !near(r.Total.StreetLengthM, 77, 1e-3) || !near(r.Total.StreetAreaM2, 231+math.Pi*1.125, 1) || r.Total.Gates != 2 || !near(r.Total.FenceLengthM, 37, 1e-3) {
		t.Fatalf("totals %+v", r.Total)
	}
	c := r.Levels[0].Covered
	// seen: the centre line from y = 0 to the bend, then to x = 1.5 + 28.5·1.5/27
	if wantL := 28.5 + 28.5*1.5/27; !near(c.StreetLengthM, wantL, 0.5) {
		t.Errorf("covered length %v, want %v", c.StreetLengthM, wantL)
	}
	if !near(c.StreetAreaM2, want, 2) {
		t.Errorf("covered area %v, want %v", c.StreetAreaM2, want)
	}
	if c.Gates != 1 || c.FenceLengthM > 0.5 {
		t.Errorf("covered %+v", c)
	}
	unseen, _ := m.UnseenGates("detect")
	if len(unseen) != 1 || unseen[0].ID != 2 {
		t.Errorf("unseen gates %v", unseen)
	}
	blind, err := m.BlindSpots(nil, "detect")
	if err != nil {
		t.Fatal(err)
	}
	if a := m.Frame.Area(blind); !near(a, r.Total.StreetAreaM2-c.StreetAreaM2, 1e-6*a+1e-6) {
		t.Errorf("blind area %v, want %v", a, r.Total.StreetAreaM2-c.StreetAreaM2)
	}
	if _, err := m.BlindSpots(nil, "nope"); err == nil {
		t.Error("unknown level accepted")
	}
	if _, err := m.Report(orb.LineString{{1, 2}, {3, 4}}); err == nil {
		t.Error("line area accepted")
	}
}

// TestTraceRoundTrip: random cell sets traced into polygons have the cells'
// area, and rasterise back to the same cells.
func TestTraceRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	g := grid{x0: -3, y0: 7, cell: 0.5, nx: 40, ny: 30}
	for range 50 {
		s := g.newSpanRows()
		n := 0
		p := r.Float64()
		for row := range g.ny {
			for col := range g.nx {
				if r.Float64() < p {
					s[row] = append(s[row], span{int32(col), int32(col + 1)})
					n++
				}
			}
		}
		s.normalize()
		mp := g.polygons(s)
		if a := areaXY(mp); !near(a, float64(n)*0.25, 1e-9) {
			t.Fatalf("area %v for %d cells", a, n)
		}
		back := g.newSpanRows()
		g.rasterRings(polyRings(mp), func(row int, x span) { back[row] = append(back[row], x) })
		back.normalize()
		for row := range s {
			if len(s[row]) != len(back[row]) {
				t.Fatalf("row %d: %v back as %v", row, s[row], back[row])
			}
			for k := range s[row] {
				if s[row][k] != back[row][k] {
					t.Fatalf("row %d: %v back as %v", row, s[row], back[row])
				}
			}
		}
	}
}

// TestRasterAccuracy: the raster measures a view's area and a line's length
// within a cell's worth of the exact values.
func TestRasterAccuracy(t *testing.T) {
	g := grid{x0: -100, y0: -100, cell: 0.5, nx: 400, ny: 400}
	obs := NewObstacles(randomTown(rand.New(rand.NewPCG(1, 1)), 8))
	for k := range 20 {
		eye := orb.Point{-30 + float64(k), -20}
		v := obs.Visibility(eye, float64(k)*0.3, 1.5, 60, nil).Polygon(2, 60)
		cells := 0
		g.rasterRings(polyRings(v), func(_ int, s span) { cells += int(s.b - s.a) })
		exact := areaXY(v)
		per := lengthXY(v)
		if a := float64(cells) * 0.25; math.Abs(a-exact) > 0.5*per*0.5 || math.Abs(a-exact) > 0.01*exact+5 {
			t.Errorf("raster area %v, exact %v (perimeter %v)", a, exact, per)
		}
	}
	var ws []cellW
	l := orb.LineString{{-50.3, -40.1}, {20.7, 33.3}, {60, 33.3}}
	for i := 0; i+1 < len(l); i++ {
		g.lineCells(&ws, l[i], l[i+1])
	}
	s := 0.0
	for _, w := range ws {
		s += w.w
	}
	if !near(s, lineLen(l), 1e-9) {
		t.Fatalf("line cells sum %v, length %v", s, lineLen(l))
	}
}
