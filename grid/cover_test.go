package grid

import (
	"math"
	"slices"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/planar"
	"github.com/uber/h3-go/v4"
)

// square returns a square of side metres with its south-west corner at
// lon, lat.
func square(lon, lat, side float64) orb.Polygon {
	dlat := side / 110_750
	dlon := side / (111_320 * math.Cos(lat*math.Pi/180))
	return orb.Polygon{{{lon, lat}, {lon + dlon, lat}, {lon + dlon, lat + dlat}, {lon, lat + dlat}, {lon, lat}}}
}

func TestCoverCoversEveryPoint(t *testing.T) {
	p := square(114.12, 22.55, 600)
	cells, err := Cover(p, DefaultResolution)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.IsSorted(cells) {
		t.Fatal("cover not sorted")
	}
	// 360,000 m² over cells of about 15,000 m²: the centres inside give about
	// 24, the boundary adds a ring
	if len(cells) < 24 || len(cells) > 60 {
		t.Fatalf("%d cells", len(cells))
	}
	b := p.Bound()
	for y := b.Min.Lat(); y <= b.Max.Lat(); y += (b.Max.Lat() - b.Min.Lat()) / 97 {
		for x := b.Min.Lon(); x <= b.Max.Lon(); x += (b.Max.Lon() - b.Min.Lon()) / 89 {
			c := h3.LatLngToCell(h3.NewLatLng(y, x), DefaultResolution)
			if _, ok := slices.BinarySearch(cells, c); !ok && planar.PolygonContains(p, orb.Point{x, y}) {
				t.Fatalf("point %v in cell %v, not in the cover", orb.Point{x, y}, c)
			}
		}
	}
	// every cell of the cover touches the polygon's bound
	for _, c := range cells {
		if !CellPolygon(c).Bound().Intersects(b) {
			t.Fatalf("cell %v far from the polygon", c)
		}
	}
}

func TestCoverSmallAndBad(t *testing.T) {
	cells, err := Cover(square(114.12, 22.55, 5), DefaultResolution)
	if err != nil || len(cells) < 1 || len(cells) > 2 {
		t.Fatalf("5 m square: %v, %v", cells, err)
	}
	if _, err := Cover(square(114.12, 22.55, 5), 16); err == nil {
		t.Error("resolution 16 accepted")
	}
	if _, err := Cover(orb.Point{1, 2}, 10); err == nil {
		t.Error("point accepted")
	}
	if _, err := Cover(orb.Polygon{}, 10); err == nil {
		t.Error("empty polygon accepted")
	}
}
