package spatial_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/planar"

	. "github.com/hexward/hexward/spatial"
)

func approx(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

// TestAddingACameraNeverLowersCoverage, and Evaluate's gain is what Add
// then adds.
func TestAddingACameraNeverLowersCoverage(t *testing.T) {
	d, areas := demoDistrict(t, 0.05)
	m, err := NewModel(d, Options{})
	if err != nil {
		t.Fatal(err)
	}
	m.Recompute()
	r := rand.New(rand.NewPCG(5, 6))
	before, _ := m.Report(areas[0])
	for k := range 25 {
		c := d.Cameras[r.IntN(len(d.Cameras))]
		c.ID, c.Bearing = 0, r.Float64()*360
		if k%3 == 0 {
			c.HFOVDeg = 30 + r.Float64()*300
		}
		ev, err := m.Evaluate(c)
		if err != nil {
			t.Fatal(err)
		}
		whole0, _ := m.Report(nil)
		if _, err := m.Add(c); err != nil {
			t.Fatal(err)
		}
		after, _ := m.Report(areas[0])
		whole1, _ := m.Report(nil)
		for li := range after.Levels {
			a, b := after.Levels[li].Covered, before.Levels[li].Covered
			if a.StreetAreaM2 < b.StreetAreaM2 || a.StreetLengthM < b.StreetLengthM-1e-6 || a.Gates < b.Gates || a.FenceLengthM < b.FenceLengthM-1e-6 {
				t.Fatalf("level %s: coverage fell from %+v to %+v", after.Levels[li].Level, b, a)
			}
			g, w0, w1 := ev.Gain[li], whole0.Levels[li].Covered, whole1.Levels[li].Covered
			if !approx(w1.StreetAreaM2-w0.StreetAreaM2, g.StreetAreaM2, 1e-6) || !approx(w1.StreetLengthM-w0.StreetLengthM, g.StreetLengthM, 1e-3) || w1.Gates-w0.Gates != g.Gates {
				t.Fatalf("level %s: gain %+v, added %+v → %+v", g.Level, g, w0, w1)
			}
		}
		before = after
	}
	if _, err := m.Evaluate(Camera{}); err == nil {
		t.Fatal("bad camera evaluated")
	}
}

func TestGreedyGainsNeverIncrease(t *testing.T) {
	d, areas := demoDistrict(t, 0.05)
	m, err := NewModel(d, Options{})
	if err != nil {
		t.Fatal(err)
	}
	m.Recompute()
	before, _ := m.Report(nil)
	s, err := m.Suggest(SuggestOptions{K: 12, Area: areas[0], Level: "observe"})
	if err != nil {
		t.Fatal(err)
	}
	if len(s) != 12 {
		t.Fatalf("%d suggestions", len(s))
	}
	li := m.Levels.Index("observe")
	for i, x := range s {
		if i > 0 && x.Score > s[i-1].Score+1e-9 {
			t.Fatalf("score %d rose: %v after %v", i, x.Score, s[i-1].Score)
		}
		g := x.Gain[li]
		if sc := g.StreetAreaM2 + 25*float64(g.Gates); !approx(sc, x.Score, 1e-6) {
			t.Fatalf("suggestion %d: score %v, gain %+v", i, x.Score, g)
		}
		if !planar.PolygonContains(areas[0], x.Camera.Pos) {
			t.Fatalf("suggestion %d outside the area", i)
		}
	}
	after, _ := m.Report(nil)
	if after.Levels[li].Covered != before.Levels[li].Covered {
		t.Fatal("Suggest changed the model")
	}
	for _, bad := range []SuggestOptions{{K: 0}, {K: 3, Level: "x"}, {K: 3, BearingStep: -1}, {K: 3, Area: orb.Point{}}} {
		if _, err := m.Suggest(bad); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}
