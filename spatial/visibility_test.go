package spatial

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/paulmach/orb"
)

// clipConvex clips the ring subj to the convex counter-clockwise polygon
// clip (Sutherland–Hodgman); the area of the result is the area of the
// intersection even for a concave subject.
func clipConvex(subj []orb.Point, clip []orb.Point) []orb.Point {
	out := subj
	n := len(clip)
	for i := range n {
		a, b := clip[i], clip[(i+1)%n]
		inside := func(p orb.Point) bool { return (b[0]-a[0])*(p[1]-a[1])-(b[1]-a[1])*(p[0]-a[0]) >= 0 }
		isect := func(p, q orb.Point) orb.Point {
			d1 := (b[0]-a[0])*(p[1]-a[1]) - (b[1]-a[1])*(p[0]-a[0])
			d2 := (b[0]-a[0])*(q[1]-a[1]) - (b[1]-a[1])*(q[0]-a[0])
			t := d1 / (d1 - d2)
			return orb.Point{p[0] + t*(q[0]-p[0]), p[1] + t*(q[1]-p[1])}
		}
		in := out
		out = nil
		for k := range in {
			p, q := in[k], in[(k+1)%len(in)]
			if inside(q) {
				if !inside(p) {
					out = append(out, isect(p, q))
				}
				out = append(out, q)
			} else if inside(p) {
				out = append(out, isect(p, q))
			}
		}
		if len(out) == 0 {
			return nil
		}
	}
	return out
}

// overlap is the area of the view inside the convex footprint.
func overlap(view orb.MultiPolygon, fp []orb.Point) float64 {
	if ringArea(fp) < 0 {
		fp = append([]orb.Point(nil), fp...)
		reverse(fp)
	}
	s := 0.0
	for _, p := range view {
		for i, r := range p {
			a := math.Abs(ringArea(clipConvex(openRing(r), fp)))
			if i == 0 {
				s += a
			} else {
				s -= a
			}
		}
	}
	return s
}

func openRing(r orb.Ring) []orb.Point {
	if n := len(r); n > 1 && r[0] == r[n-1] {
		return r[:n-1]
	}
	return r
}

// randomTown puts one random rotated rectangle in each 10 m cell of an
// n×n grid (some cells empty), so footprints never overlap.
func randomTown(r *rand.Rand, n int) []orb.Polygon {
	var out []orb.Polygon
	for i := range n {
		for j := range n {
			if r.Float64() < 0.25 {
				continue
			}
			cx, cy := float64(i)*10+5, float64(j)*10+5
			w, h := 0.5+r.Float64()*2.8, 0.5+r.Float64()*2.8 // half sides: the half diagonal < 5 m
			a := r.Float64() * math.Pi
			if r.Float64() < 0.5 {
				a = 0 // axis-aligned: collinear edges across cells
			}
			c, s := math.Cos(a), math.Sin(a)
			var ring orb.Ring
			for _, d := range [][2]float64{{-w, -h}, {w, -h}, {w, h}, {-w, h}, {-w, -h}} {
				ring = append(ring, orb.Point{cx + d[0]*c - d[1]*s, cy + d[0]*s + d[1]*c})
			}
			out = append(out, orb.Polygon{ring})
		}
	}
	return out
}

// visibleBrute says whether q is visible from e: no edge crosses e–q.
func visibleBrute(e, q orb.Point, polys []orb.Polygon) bool {
	for _, p := range polys {
		r := openRing(p[0])
		for k := range r {
			if segCross(e, q, r[k], r[(k+1)%len(r)]) {
				return false
			}
		}
	}
	return true
}

func segCross(a, b, c, d orb.Point) bool {
	o := func(p, q, r orb.Point) float64 { return (q[0]-p[0])*(r[1]-p[1]) - (q[1]-p[1])*(r[0]-p[0]) }
	return o(a, b, c)*o(a, b, d) < 0 && o(c, d, a)*o(c, d, b) < 0
}

func distToBoundary(mp orb.MultiPolygon, p orb.Point) float64 {
	d := math.Inf(1)
	for _, poly := range mp {
		for _, r := range poly {
			for k := 0; k+1 < len(r); k++ {
				d = math.Min(d, distSeg(p, r[k], r[k+1]))
			}
		}
	}
	return d
}

// TestViewNeverCrossesABuilding: random towns, random cameras (in the open
// and on walls); no view overlaps a footprint, and the view is exactly
// what a brute-force line of sight sees.
func TestViewNeverCrossesABuilding(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	mismatch, samples := 0, 0
	for town := range 30 {
		polys := randomTown(r, 12)
		obs := NewObstacles(polys)
		for range 20 {
			var p orb.Point
			dir := [2]float64{}
			if town%2 == 0 {
				for {
					p = orb.Point{r.Float64() * 120, r.Float64() * 120}
					if len(obs.Blocked(p, 0)) == 0 {
						break
					}
				}
			} else { // on a wall, looking out
				fp := openRing(polys[r.IntN(len(polys))][0])
				k := r.IntN(len(fp))
				a, b := fp[k], fp[(k+1)%len(fp)]
				u := r.Float64()
				p = orb.Point{a[0] + u*(b[0]-a[0]), a[1] + u*(b[1]-a[1])}
				l := math.Hypot(b[0]-a[0], b[1]-a[1])
				dir = [2]float64{(b[1] - a[1]) / l, -(b[0] - a[0]) / l}
				if ringArea(fp) < 0 {
					dir = [2]float64{-dir[0], -dir[1]}
				}
			}
			if dir == ([2]float64{}) {
				a := r.Float64() * 2 * math.Pi
				dir = [2]float64{math.Cos(a), math.Sin(a)}
			}
			eye, ignore := obs.Eye(p, dir)
			width := (10 + r.Float64()*350) * deg
			start := math.Atan2(dir[1], dir[0]) - width/2
			if len(ignore) > 0 {
				t.Fatalf("camera on a wall not moved off it: %v", p)
			}
			nr, fr := 0.0, 20+r.Float64()*40
			if r.Float64() < 0.5 {
				nr = r.Float64() * 5
			}
			sw := obs.Visibility(eye, start, width, fr, nil)
			view := sw.Polygon(nr, fr)
			for _, fp := range polys {
				if a := overlap(view, openRing(fp[0])); a > 1e-6 {
					t.Logf("sweep %+v", sw)
					t.Fatalf("town %d: view from %v overlaps building %v by %g m²", town, eye, fp, a)
				}
			}
			for range 200 {
				a := start + r.Float64()*width
				d := nr + r.Float64()*(fr-nr)
				q := orb.Point{eye[0] + d*math.Cos(a), eye[1] + d*math.Sin(a)}
				if distToBoundary(view, q) < maxChord+1e-6 {
					continue
				}
				samples++
				if inPolys(view, q) != visibleBrute(eye, q, polys) {
					mismatch++
				}
			}
		}
	}
	if mismatch > 0 {
		t.Fatalf("%d of %d sample points disagree with brute-force line of sight", mismatch, samples)
	}
	t.Logf("%d sample points agree", samples)
}

// lAlley is a 3 m alley, closed at y = −10, running north along 0 ≤ x ≤ 3, then
// east along 27 ≤ y ≤ 30.
func lAlley() []orb.Polygon {
	rect := func(x0, y0, x1, y1 float64) orb.Polygon {
		return orb.Polygon{{{x0, y0}, {x1, y0}, {x1, y1}, {x0, y1}, {x0, y0}}}
	}
	return []orb.Polygon{rect(-10, -10, 0, 40), rect(3, -10, 40, 27), rect(0, 30, 40, 40), rect(-10, -20, 40, -10)}
}

// TestLShapedAlley: a camera in the middle of the alley at y = 0 looking
// north with a 90° lens sees the alley up to the bend (its sector cuts two
// 1.5 m triangles at its foot) and, past the inner corner (3, 27), a
// sliver of the east leg up to x = 1.5 + 30·1.5/27: 90 − 2.25 + 0.25 m².
func TestLShapedAlley(t *testing.T) {
	obs := NewObstacles(lAlley())
	eye := orb.Point{1.5, 0}
	sw := obs.Visibility(eye, 45*deg, 90*deg, 100, nil)
	v := sw.Polygon(0, 100)
	want := 90 - 2.25 + 0.5*3*(30*1.5/27-1.5)
	if a := areaXY(v); !near(a, want, 1e-6) {
		t.Fatalf("area %v, want %v (%v)", a, want, v)
	}
	// a ring: the view between 5 and 20 m is the alley's band 5…20 m out,
	// less the sector's cut: exact area by clipping
	v = sw.Polygon(5, 20)
	if len(v) != 1 || len(v[0]) != 1 {
		t.Fatalf("ring view %v", v)
	}
	for _, q := range []orb.Point{{1.5, 4.9}, {1.5, 20.1}, {3.1, 10}} {
		if inPolys(v, q) {
			t.Errorf("%v inside", q)
		}
	}
	for _, q := range []orb.Point{{1.5, 5.1}, {1.5, 19.9}, {0.1, 10}, {2.9, 10}} {
		if !inPolys(v, q) {
			t.Errorf("%v outside", q)
		}
	}
	// looking the other way, it sees the alley down to its end at y = −10
	v = obs.Visibility(eye, 225*deg, 90*deg, 100, nil).Polygon(0, 100)
	if a := areaXY(v); !near(a, 30-2.25, 1e-6) {
		t.Fatalf("south area %v", a)
	}
	// a full circle with a blind zone: a polygon with its hole
	v = obs.Visibility(orb.Point{20, 28.5}, 0, 2*math.Pi, 10, nil).Polygon(0.5, 10)
	// the 3 m strip within 10 m of the eye, less the 0.5 m hole
	strip := 2 * (1.5*math.Sqrt(100-2.25) + 100*math.Asin(0.15))
	if len(v) != 1 || len(v[0]) != 2 || !near(areaXY(v), strip-math.Pi*0.25, 0.05) {
		t.Fatalf("full circle %v area %v", len(v), areaXY(v))
	}
}

func TestSectorOfFullSweep(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	polys := randomTown(r, 10)
	obs := NewObstacles(polys)
	for range 50 {
		var p orb.Point
		for {
			p = orb.Point{r.Float64() * 100, r.Float64() * 100}
			if len(obs.Blocked(p, 0.01)) == 0 {
				break
			}
		}
		full := obs.Visibility(p, r.Float64()*7, 2*math.Pi, 40, nil)
		st, w := r.Float64()*7-1, (5+r.Float64()*300)*deg
		a := areaXY(full.Sector(st, w).Polygon(1, 40))
		b := areaXY(obs.Visibility(p, st, w, 40, nil).Polygon(1, 40))
		if !near(a, b, 1e-6*(1+b)) {
			t.Fatalf("sector of full sweep %v, direct %v", a, b)
		}
	}
}
