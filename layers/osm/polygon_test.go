package osm

import (
	"reflect"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/osm"
)

func TestJoinRings(t *testing.T) {
	type ids = []osm.NodeID
	tests := []struct {
		name  string
		ways  [][]osm.NodeID
		rings [][]osm.NodeID
		open  int
	}{
		{"closed way", [][]osm.NodeID{{1, 2, 3, 1}}, [][]osm.NodeID{{1, 2, 3, 1}}, 0},
		{"two ways head to tail", [][]osm.NodeID{{1, 2, 3}, {3, 4, 1}}, [][]osm.NodeID{{1, 2, 3, 4, 1}}, 0},
		{"second way reversed", [][]osm.NodeID{{1, 2, 3}, {1, 4, 3}}, [][]osm.NodeID{{1, 2, 3, 4, 1}}, 0},
		{"three ways out of order", [][]osm.NodeID{{5, 6, 1}, {1, 2, 3}, {3, 4, 5}}, [][]osm.NodeID{{5, 6, 1, 2, 3, 4, 5}}, 0},
		{"two rings", [][]osm.NodeID{{1, 2, 3}, {10, 11, 12, 10}, {3, 1}}, [][]osm.NodeID{{1, 2, 3, 1}, {10, 11, 12, 10}}, 0},
		{"gap", [][]osm.NodeID{{1, 2, 3}, {4, 5, 1}}, nil, 2},
		{"one-node way", [][]osm.NodeID{{1}, {1, 2, 3, 1}}, [][]osm.NodeID{{1, 2, 3, 1}}, 1},
		{"none", nil, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// keep a copy to check the input is not changed
			var before [][]osm.NodeID
			for _, w := range tt.ways {
				before = append(before, append(ids(nil), w...))
			}
			rings, open := joinRings(tt.ways)
			if !reflect.DeepEqual(rings, tt.rings) || open != tt.open {
				t.Errorf("joinRings(%v) = %v, %d open; want %v, %d", tt.ways, rings, open, tt.rings, tt.open)
			}
			if !reflect.DeepEqual(before, tt.ways) {
				t.Errorf("input changed: %v, was %v", tt.ways, before)
			}
		})
	}
}

func TestCleanRing(t *testing.T) {
	tests := []struct {
		name string
		in   orb.LineString
		want orb.Ring
		ok   bool
	}{
		{"square", orb.LineString{{0, 0}, {1, 0}, {1, 1}, {0, 0}}, orb.Ring{{0, 0}, {1, 0}, {1, 1}, {0, 0}}, true},
		{"repeated points", orb.LineString{{0, 0}, {0, 0}, {1, 0}, {1, 1}, {1, 1}, {0, 0}}, orb.Ring{{0, 0}, {1, 0}, {1, 1}, {0, 0}}, true},
		{"two distinct points", orb.LineString{{0, 0}, {1, 0}, {1, 0}, {0, 0}}, nil, false},
		{"collinear", orb.LineString{{0, 0}, {1, 0}, {2, 0}, {0, 0}}, nil, false},
		{"open", orb.LineString{{0, 0}, {1, 0}, {1, 1}, {0, 1}}, nil, false},
	}
	for _, tt := range tests {
		got, ok := cleanRing(tt.in)
		if !reflect.DeepEqual(got, tt.want) || ok != tt.ok {
			t.Errorf("%s: cleanRing = %v, %v; want %v, %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}

func TestAssemble(t *testing.T) {
	ccw := func(x, y, s float64) orb.Ring {
		return orb.Ring{{x, y}, {x + s, y}, {x + s, y + s}, {x, y + s}, {x, y}}
	}
	cw := func(x, y, s float64) orb.Ring {
		r := ccw(x, y, s)
		r.Reverse()
		return r
	}
	tests := []struct {
		name    string
		outers  []orb.Ring
		inners  []orb.Ring
		want    orb.Geometry
		orphans int
	}{
		{"one outer, reoriented", []orb.Ring{cw(0, 0, 4)}, nil, orb.Polygon{ccw(0, 0, 4)}, 0},
		{"hole reoriented", []orb.Ring{ccw(0, 0, 4)}, []orb.Ring{ccw(1, 1, 1)}, orb.Polygon{ccw(0, 0, 4), cw(1, 1, 1)}, 0},
		{"hole touching the outer edge", []orb.Ring{ccw(0, 0, 4)}, []orb.Ring{cw(0, 0, 1)}, orb.Polygon{ccw(0, 0, 4), cw(0, 0, 1)}, 0},
		{"hole goes to the smallest outer", []orb.Ring{ccw(0, 0, 10), ccw(20, 0, 2), ccw(1, 1, 5)}, []orb.Ring{cw(2, 2, 1)},
			orb.MultiPolygon{{ccw(0, 0, 10)}, {ccw(20, 0, 2)}, {ccw(1, 1, 5), cw(2, 2, 1)}}, 0},
		{"orphan hole", []orb.Ring{ccw(0, 0, 1)}, []orb.Ring{cw(5, 5, 1)}, orb.Polygon{ccw(0, 0, 1)}, 1},
		{"hole crossing the outer", []orb.Ring{ccw(0, 0, 2)}, []orb.Ring{cw(1, 1, 2)}, orb.Polygon{ccw(0, 0, 2)}, 1},
		{"no outer", nil, []orb.Ring{cw(5, 5, 1)}, nil, 1},
	}
	for _, tt := range tests {
		got, orphans := assemble(tt.outers, tt.inners)
		if !reflect.DeepEqual(got, tt.want) || orphans != tt.orphans {
			t.Errorf("%s: assemble = %v, %d orphans; want %v, %d", tt.name, got, orphans, tt.want, tt.orphans)
		}
	}
}
