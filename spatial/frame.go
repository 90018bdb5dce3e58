package spatial

import (
	"math"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/planar"
)

// WGS 84 ellipsoid.
const (
	wgs84A  = 6378137.0
	wgs84E2 = 6.69437999014e-3
)

// Frame is a local metric frame around Origin (lon, lat): x metres east,
// y metres north. It is an equirectangular (local tangent-plane) projection
// scaled by the WGS 84 radii of curvature at the origin: the meridional
// radius M for y and the prime-vertical radius N·cos(lat₀) for x. Over a
// district of a few km its lengths and areas agree with PostGIS geography
// (spheroid) to about 1e-4 relative; see README.md.
type Frame struct {
	Origin orb.Point
	kx, ky float64 // metres per degree
}

// NewFrame returns the frame around origin (lon, lat).
func NewFrame(origin orb.Point) Frame {
	phi := origin[1] * math.Pi / 180
	s := math.Sin(phi)
	w := 1 - wgs84E2*s*s
	n := wgs84A / math.Sqrt(w)
	m := wgs84A * (1 - wgs84E2) / (w * math.Sqrt(w))
	return Frame{Origin: origin, kx: n * math.Cos(phi) * math.Pi / 180, ky: m * math.Pi / 180}
}

// FrameFor returns the frame around the centre of b.
func FrameFor(b orb.Bound) Frame { return NewFrame(b.Center()) }

// ToXY projects a lon/lat point to metres.
func (f Frame) ToXY(p orb.Point) orb.Point {
	return orb.Point{(p[0] - f.Origin[0]) * f.kx, (p[1] - f.Origin[1]) * f.ky}
}

// ToLonLat is the inverse of ToXY.
func (f Frame) ToLonLat(p orb.Point) orb.Point {
	return orb.Point{f.Origin[0] + p[0]/f.kx, f.Origin[1] + p[1]/f.ky}
}

// Project returns g (lon/lat) in metres; Unproject the reverse. Both copy.
func (f Frame) Project(g orb.Geometry) orb.Geometry   { return mapGeom(g, f.ToXY) }
func (f Frame) Unproject(g orb.Geometry) orb.Geometry { return mapGeom(g, f.ToLonLat) }

// Length is the length in metres of a lon/lat (Multi)LineString, or the
// perimeter of a (Multi)Polygon.
func (f Frame) Length(g orb.Geometry) float64 { return lengthXY(f.Project(g)) }

// Area is the area in m² of a lon/lat (Multi)Polygon (holes subtracted);
// zero for other geometries.
func (f Frame) Area(g orb.Geometry) float64 { return areaXY(f.Project(g)) }

func mapRing(r orb.Ring, fn func(orb.Point) orb.Point) orb.Ring {
	o := make(orb.Ring, len(r))
	for i, p := range r {
		o[i] = fn(p)
	}
	return o
}

func mapPoly(p orb.Polygon, fn func(orb.Point) orb.Point) orb.Polygon {
	o := make(orb.Polygon, len(p))
	for i, r := range p {
		o[i] = mapRing(r, fn)
	}
	return o
}

func mapGeom(g orb.Geometry, fn func(orb.Point) orb.Point) orb.Geometry {
	switch g := g.(type) {
	case orb.Point:
		return fn(g)
	case orb.MultiPoint:
		o := make(orb.MultiPoint, len(g))
		for i, p := range g {
			o[i] = fn(p)
		}
		return o
	case orb.LineString:
		return orb.LineString(mapRing(orb.Ring(g), fn))
	case orb.MultiLineString:
		o := make(orb.MultiLineString, len(g))
		for i, l := range g {
			o[i] = orb.LineString(mapRing(orb.Ring(l), fn))
		}
		return o
	case orb.Ring:
		return mapRing(g, fn)
	case orb.Polygon:
		return mapPoly(g, fn)
	case orb.MultiPolygon:
		o := make(orb.MultiPolygon, len(g))
		for i, p := range g {
			o[i] = mapPoly(p, fn)
		}
		return o
	case orb.Bound:
		return orb.Bound{Min: fn(g.Min), Max: fn(g.Max)}
	case orb.Collection:
		o := make(orb.Collection, len(g))
		for i, x := range g {
			o[i] = mapGeom(x, fn)
		}
		return o
	}
	return g
}

func lineLen(l []orb.Point) float64 {
	s := 0.0
	for i := 1; i < len(l); i++ {
		s += math.Hypot(l[i][0]-l[i-1][0], l[i][1]-l[i-1][1])
	}
	return s
}

// lengthXY and areaXY measure in the frame's metres (orb/planar: lines'
// lengths; polygons' areas, holes taken out).
func lengthXY(g orb.Geometry) float64 { return planar.Length(g) }

func areaXY(g orb.Geometry) float64 { return planar.Area(g) }

// ringArea is the signed shoelace area (positive counter-clockwise).
func ringArea(r []orb.Point) float64 {
	s := 0.0
	n := len(r)
	for i := range n {
		j := (i + 1) % n
		s += r[i][0]*r[j][1] - r[j][0]*r[i][1]
	}
	return s / 2
}

func polyArea(p orb.Polygon) float64 {
	if len(p) == 0 {
		return 0
	}
	a := math.Abs(ringArea(p[0]))
	for _, h := range p[1:] {
		a -= math.Abs(ringArea(h))
	}
	return a
}
