package grid

import (
	"math"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geo"
	"github.com/paulmach/orb/planar"
)

func TestCellOfHoldsAnchor(t *testing.T) {
	sq := orb.Polygon{{{114.12, 22.55}, {114.1202, 22.55}, {114.1202, 22.5502}, {114.12, 22.5502}, {114.12, 22.55}}}
	// An L-shaped building whose centroid falls outside it.
	l := orb.Polygon{{{0, 0}, {0.002, 0}, {0.002, 0.0002}, {0.0002, 0.0002}, {0.0002, 0.002}, {0, 0.002}, {0, 0}}}
	for name, g := range map[string]orb.Geometry{
		"point":   orb.Point{114.12, 22.55},
		"line":    orb.LineString{{114.12, 22.55}, {114.121, 22.551}, {114.122, 22.552}},
		"square":  sq,
		"L-shape": l,
	} {
		t.Run(name, func(t *testing.T) {
			c, err := CellOf(g, DefaultResolution)
			if err != nil {
				t.Fatal(err)
			}
			if c.Resolution() != DefaultResolution {
				t.Fatalf("resolution %d", c.Resolution())
			}
			a, _ := Anchor(g)
			if p, ok := g.(orb.Polygon); ok && !planar.PolygonContains(p, a) {
				t.Fatalf("anchor %v outside polygon", a)
			}
			cell := CellPolygon(c)
			if !planar.PolygonContains(cell, a) {
				t.Fatalf("cell %v does not hold anchor %v", c, a)
			}
		})
	}
}

func TestCellAreaNearNationalUnit(t *testing.T) {
	c, err := CellOf(orb.Point{114.12, 22.55}, DefaultResolution)
	if err != nil {
		t.Fatal(err)
	}
	p := CellPolygon(c)
	a := geo.Area(p)
	if math.Abs(a-15000)/15000 > 0.2 {
		t.Fatalf("res-10 cell area %.0f m², want about 15,000", a)
	}
}

func TestEmptyGeometryHasNoCell(t *testing.T) {
	if _, err := CellOf(orb.Polygon{}, DefaultResolution); err == nil {
		t.Fatal("want error for empty polygon")
	}
}

func BenchmarkCellOf(b *testing.B) {
	sq := orb.Polygon{{{114.12, 22.55}, {114.1202, 22.55}, {114.1202, 22.5502}, {114.12, 22.5502}, {114.12, 22.55}}}
	for b.Loop() {
		if _, err := CellOf(sq, DefaultResolution); err != nil {
			b.Fatal(err)
		}
	}
}
