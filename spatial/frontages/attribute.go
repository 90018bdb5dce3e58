package frontages

import (
	"fmt"
	"math"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/planar"
	"github.com/tidwall/rtree"

	"github.com/hexward/hexward/layers"
	"github.com/hexward/hexward/spatial"
)

// Attribution says which shop is responsible for each incident.
type Attribution struct {
	// Frontage is, per incident, the index in the frontages given of the
	// frontage it is attributed to, or -1.
	Frontage []int
	// ByShop counts the incidents per shop ID.
	ByShop map[int64]int
	// Unattributed counts the incidents in no frontage and farther than
	// maxDist from every frontage.
	Unattributed int
}

// Attribute attributes each incident (a point feature, e.g. an alert or a
// reported event) to the frontage that contains it, or else to the
// nearest frontage within maxDist metres (0: containment only). An
// incident on the border of two frontages goes to the first in the
// slice. Incidents that are not points are an error.
func Attribute(fronts []Frontage, incidents []layers.Feature, maxDist float64) (Attribution, error) {
	if maxDist < 0 || math.IsNaN(maxDist) || math.IsInf(maxDist, 0) {
		return Attribution{}, fmt.Errorf("frontages: max distance %v must be a finite number ≥ 0", maxDist)
	}
	at := Attribution{Frontage: make([]int, len(incidents)), ByShop: map[int64]int{}}
	pts := make([]orb.Point, len(incidents))
	for i, f := range incidents {
		p, ok := f.Geometry.(orb.Point)
		if !ok {
			return Attribution{}, fmt.Errorf("frontages: incident %d (id %d) is a %T, want a point", i, f.ID, f.Geometry)
		}
		pts[i] = p
	}
	if len(fronts) == 0 {
		for i := range at.Frontage {
			at.Frontage[i] = -1
		}
		at.Unattributed = len(incidents)
		return at, nil
	}
	var b orb.Bound
	for i, f := range fronts {
		if i == 0 {
			b = f.Polygon.Bound()
		} else {
			b = b.Union(f.Polygon.Bound())
		}
	}
	fr := spatial.FrameFor(b)
	polys := make([]orb.Polygon, len(fronts))
	var idx rtree.RTreeG[int]
	for i, f := range fronts {
		polys[i] = fr.Project(f.Polygon).(orb.Polygon)
		pb := polys[i].Bound()
		idx.Insert(pb.Min, pb.Max, i)
	}
	for i, p := range pts {
		q := fr.ToXY(p)
		best, bd := -1, math.Inf(1)
		idx.Search([2]float64{q[0] - maxDist, q[1] - maxDist}, [2]float64{q[0] + maxDist, q[1] + maxDist}, func(_, _ [2]float64, k int) bool {
			d := 0.0
			if !planar.PolygonContains(polys[k], q) {
				if maxDist == 0 {
					return true
				}
				d = math.Inf(1)
				r := polys[k][0]
				for j := 1; j < len(r); j++ {
					d = math.Min(d, segDist(r[j-1], r[j], q))
				}
			}
			if d <= maxDist && (d < bd || (d == bd && k < best)) {
				best, bd = k, d
			}
			return true
		})
		at.Frontage[i] = best
		if best < 0 {
			at.Unattributed++
			continue
		}
		at.ByShop[fronts[best].ShopID]++
	}
	return at, nil
}
