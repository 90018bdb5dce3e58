package osm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"slices"
	"strings"

	"github.com/paulmach/orb"
	"github.com/paulmach/osm"
	"github.com/paulmach/osm/osmxml"

	"github.com/hexward/hexward/layers"
)

// Format is the encoding of an OSM extract.
type Format int

// The formats Read understands.
const (
	XML Format = iota + 1 // .osm: OSM XML
	PBF                   // .osm.pbf: OSM protocol buffers
)

func (f Format) String() string {
	switch f {
	case XML:
		return "OSM XML"
	case PBF:
		return "OSM PBF"
	}
	return fmt.Sprintf("Format(%d)", int(f))
}

// DetectFormat tells the format of an extract from its file name: .pbf
// (.osm.pbf) is PBF; .osm and .xml (.osm.xml) are XML. ok is false for
// any other name, compressed XML (.osm.bz2, .osm.gz) included: decompress
// it first.
func DetectFormat(name string) (format Format, ok bool) {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".pbf":
		return PBF, true
	case ".osm", ".xml":
		return XML, true
	}
	return 0, false
}

// Stats counts what Read did.
type Stats struct {
	Nodes, Ways, Relations int // elements read

	// Features counts the features emitted, by layer.
	Features map[string]int
	// Skipped counts, by "layer: reason", elements that matched a layer
	// but gave no feature, and rings left out of a polygon: "not a closed
	// way", "missing nodes" (a node outside the extract), "too few points",
	// "degenerate ring" (fewer than three distinct points or no area),
	// "unclosed ring" (member ways that do not join into a ring),
	// "missing members", "orphan inner ring" (inside no outer ring) and
	// "no polygon" (a relation left without an outer ring).
	Skipped map[string]int
	// Dropped counts, by "layer.property", tag values that were left out
	// of a feature because they did not parse, were outside the property's
	// range or enum, or had no mapping.
	Dropped map[string]int
}

func (s *Stats) skip(layer, reason string) { s.Skipped[layer+": "+reason]++ }

// Total returns the number of features emitted.
func (s *Stats) Total() int {
	n := 0
	for _, c := range s.Features {
		n += c
	}
	return n
}

// Read scans an OSM extract in the given format and emits the features of
// the Hexward governance layers it finds (see the package documentation
// and MAPPING.md for the tag mapping). It reads r twice from its current
// position: the first pass keeps every node's coordinates in memory (about
// 50 bytes a node, fine for a subdistrict or a city district) and the
// multipolygon and boundary relations; the second maps nodes and ways as
// they come and the relations at the end.
//
// Features have no ID; their "source_id" property names the OSM element
// ("osm:node/123", "osm:way/45", "osm:relation/6"). Their properties hold
// only names of the layer's schema, with the schema's Go types (string,
// int64, float64, bool, []float64{lon, lat}) and values within its bounds
// and enums, so that they pass the store's validation. Polygons are closed
// and oriented per RFC 7946: outer rings counter-clockwise, holes
// clockwise.
//
// An error from emit stops the read and is returned as is. Stats is
// filled in up to the point where Read stopped.
func Read(ctx context.Context, r io.ReadSeeker, format Format, emit func(layers.Feature) error) (Stats, error) {
	rd := &run{
		st: Stats{
			Features: map[string]int{},
			Skipped:  map[string]int{},
			Dropped:  map[string]int{},
		},
		cat:        layers.Governance(),
		emit:       emit,
		coords:     map[osm.NodeID]orb.Point{},
		entrances:  map[osm.NodeID]entrance{},
		memberWays: map[osm.WayID][]osm.NodeID{},
		outerOf:    map[osm.WayID][]string{},
	}
	if format != XML && format != PBF {
		return rd.st, fmt.Errorf("osm: unknown format %v", format)
	}
	start, err := r.Seek(0, io.SeekCurrent)
	if err != nil {
		return rd.st, fmt.Errorf("osm: %w", err)
	}

	// Pass 1: node coordinates, entrances, polygon relations.
	err = scan(ctx, r, format, true, func(o osm.Object) error {
		switch o := o.(type) {
		case *osm.Node:
			at := round(orb.Point{o.Lon, o.Lat})
			rd.coords[o.ID] = at
			if e := o.Tags.Find("entrance"); e != "" && e != "no" {
				rd.entrances[o.ID] = entrance{at, entranceRank(e)}
			}
		case *osm.Relation:
			planes := planeLayers(o.Tags)
			if !isAreaRelation(o.Tags) || len(planes) == 0 && !isShopTags(o.Tags) {
				return nil
			}
			rd.relations = append(rd.relations, o)
			for _, m := range o.Members {
				if m.Type != osm.TypeWay {
					continue
				}
				id := osm.WayID(m.Ref)
				rd.memberWays[id] = nil
				if role(m.Role) == "outer" {
					rd.outerOf[id] = append(rd.outerOf[id], planes...)
				}
			}
		}
		return nil
	})
	if err != nil {
		return rd.st, err
	}

	// Pass 2: map nodes and ways; keep the member ways of the relations.
	if _, err := r.Seek(start, io.SeekStart); err != nil {
		return rd.st, fmt.Errorf("osm: rewinding for the second pass: %w", err)
	}
	err = scan(ctx, r, format, false, func(o osm.Object) error {
		switch o := o.(type) {
		case *osm.Node:
			rd.st.Nodes++
			return rd.node(o)
		case *osm.Way:
			rd.st.Ways++
			if _, ok := rd.memberWays[o.ID]; ok {
				rd.memberWays[o.ID] = o.Nodes.NodeIDs()
			}
			return rd.way(o)
		case *osm.Relation:
			rd.st.Relations++
		}
		return nil
	})
	if err != nil {
		return rd.st, err
	}
	for _, rel := range rd.relations {
		if err := ctx.Err(); err != nil {
			return rd.st, err
		}
		if err := rd.relation(rel); err != nil {
			return rd.st, err
		}
	}
	return rd.st, nil
}

// scan calls fn for every object of the extract. In the first pass the
// PBF decoder skips ways, which that pass does not need.
func scan(ctx context.Context, r io.Reader, format Format, first bool, fn func(osm.Object) error) error {
	if format == PBF {
		return scanPBF(ctx, r, first, fn)
	}
	s := osmxml.New(ctx, r)
	defer s.Close()
	for s.Scan() {
		if err := fn(s.Object()); err != nil {
			return err
		}
	}
	if err := s.Err(); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil && errors.Is(err, ctxErr) {
			return ctxErr
		}
		return fmt.Errorf("osm: reading %v: %w", format, err)
	}
	return ctx.Err()
}

// run is the state of one Read.
type run struct {
	st   Stats
	cat  *layers.Catalogue
	emit func(layers.Feature) error

	coords     map[osm.NodeID]orb.Point
	entrances  map[osm.NodeID]entrance
	relations  []*osm.Relation
	memberWays map[osm.WayID][]osm.NodeID // nil until the way is read
	outerOf    map[osm.WayID][]string     // plane layers of the relations a way is an outer member of
}

// round rounds a point to 7 decimal places, the precision of OSM: the
// same coordinates then read the same from XML and PBF.
func round(p orb.Point) orb.Point {
	return orb.Point{math.Round(p[0]*1e7) / 1e7, math.Round(p[1]*1e7) / 1e7}
}

// role normalises a multipolygon member role to "outer" or "inner" (""
// for other roles).
func role(r string) string {
	switch r {
	case "outer", "", "exclave":
		return "outer"
	case "inner", "enclave":
		return "inner"
	}
	return "other"
}

// entrance is an entrance=* node; a lower rank is a better building entrance.
type entrance struct {
	at   orb.Point
	rank int
}

func entranceRank(v string) int {
	switch v {
	case "main":
		return 0
	case "emergency", "exit":
		return 2
	}
	return 1
}

// bestEntrance returns the best entrance among nodes.
func (rd *run) bestEntrance(nodes []osm.NodeID) (orb.Point, bool) {
	best, found := entrance{rank: 99}, false
	for _, id := range nodes {
		if e, ok := rd.entrances[id]; ok && e.rank < best.rank {
			best, found = e, true
		}
	}
	return best.at, found
}

// line returns the coordinates of a way's nodes.
func (rd *run) line(nodes []osm.NodeID) (orb.LineString, bool) {
	ls := make(orb.LineString, 0, len(nodes))
	for _, id := range nodes {
		p, ok := rd.coords[id]
		if !ok {
			return nil, false
		}
		ls = append(ls, p)
	}
	return ls, true
}

// send emits a finished feature and counts it.
func (rd *run) send(f *feature, g orb.Geometry) error {
	rd.st.Features[f.layer.Name]++
	return rd.emit(layers.Feature{Layer: f.layer.Name, Geometry: g, Props: f.props})
}

// node maps one node: shops, gates and cameras.
func (rd *run) node(n *osm.Node) error {
	if len(n.Tags) == 0 {
		return nil
	}
	at := round(orb.Point{n.Lon, n.Lat})
	src := fmt.Sprintf("osm:node/%d", n.ID)
	for _, f := range rd.pointFeatures(n.Tags, src) {
		if err := rd.send(f, at); err != nil {
			return err
		}
	}
	return nil
}

// way maps one way: streets and fences as lines; buildings, compounds and
// boundaries as polygons when closed; shops at the centroid of a closed way.
func (rd *run) way(w *osm.Way) error {
	t := w.Tags
	if len(t) == 0 {
		return nil
	}
	src := fmt.Sprintf("osm:way/%d", w.ID)
	ids := w.Nodes.NodeIDs()

	if lines := rd.lineFeatures(t, src); len(lines) > 0 {
		ls, ok := rd.line(ids)
		ls = dedupe(ls)
		for _, f := range lines {
			switch {
			case !ok:
				rd.st.skip(f.layer.Name, "missing nodes")
			case len(ls) < 2:
				rd.st.skip(f.layer.Name, "too few points")
			default:
				if err := rd.send(f, ls); err != nil {
					return err
				}
			}
		}
	}

	closed := len(ids) >= 4 && ids[0] == ids[len(ids)-1]
	planes := slices.DeleteFunc(rd.planeFeatures(t, src), func(f *feature) bool {
		if f.layer.Name != "subdistricts" && f.layer.Name != "communities" {
			return false
		}
		// OSM tags the member ways of boundary relations with boundary
		// and admin_level too: the relation draws the area. Open
		// boundary ways are such members, perhaps of a relation cut off
		// by the extract.
		return !closed || slices.Contains(rd.outerOf[w.ID], f.layer.Name)
	})
	shop := isShopTags(t)
	if len(planes) == 0 && !shop {
		return nil
	}
	names := featureLayers(planes)
	if shop {
		names = append(names, "shops")
	}
	if !closed {
		for _, name := range names {
			rd.st.skip(name, "not a closed way")
		}
		return nil
	}
	poly := rd.polygon(names, [][]osm.NodeID{ids}, nil)
	if poly == nil {
		return nil
	}
	for _, f := range planes {
		if f.layer.Name == "buildings" {
			if at, ok := rd.bestEntrance(ids); ok {
				f.setPoint("entrance", at)
			}
		}
		if err := rd.send(f, poly); err != nil {
			return err
		}
	}
	if shop {
		return rd.shopAt(t, src, poly)
	}
	return nil
}

// relation maps a multipolygon or boundary relation to polygons.
func (rd *run) relation(rel *osm.Relation) error {
	src := fmt.Sprintf("osm:relation/%d", rel.ID)
	planes := rd.planeFeatures(rel.Tags, src)
	shop := isShopTags(rel.Tags)
	names := featureLayers(planes)
	if shop {
		names = append(names, "shops")
	}
	var outer, inner [][]osm.NodeID
	var outerNodes []osm.NodeID
	missing := false
	for _, m := range rel.Members {
		if m.Type != osm.TypeWay {
			continue
		}
		nodes := rd.memberWays[osm.WayID(m.Ref)]
		if nodes == nil {
			missing = true
			continue
		}
		switch role(m.Role) {
		case "inner":
			inner = append(inner, nodes)
		case "outer":
			outer = append(outer, nodes)
			outerNodes = append(outerNodes, nodes...)
		}
	}
	if missing {
		for _, name := range names {
			rd.st.skip(name, "missing members")
		}
	}
	outerRings, open1 := joinRings(outer)
	innerRings, open2 := joinRings(inner)
	for range open1 + open2 {
		for _, name := range names {
			rd.st.skip(name, "unclosed ring")
		}
	}
	poly := rd.polygon(names, outerRings, innerRings)
	if poly == nil {
		for _, name := range names {
			rd.st.skip(name, "no polygon")
		}
		return nil
	}
	for _, f := range planes {
		if f.layer.Name == "buildings" {
			if at, ok := rd.bestEntrance(outerNodes); ok {
				f.setPoint("entrance", at)
			}
		}
		if err := rd.send(f, poly); err != nil {
			return err
		}
	}
	if shop {
		return rd.shopAt(rel.Tags, src, poly)
	}
	return nil
}

// polygon builds a polygon from node rings, counting what it leaves out
// against every layer in names. It returns nil when no outer ring is left.
func (rd *run) polygon(names []string, outerIDs, innerIDs [][]osm.NodeID) orb.Geometry {
	skip := func(reason string) {
		for _, name := range names {
			rd.st.skip(name, reason)
		}
	}
	rings := func(ids [][]osm.NodeID) []orb.Ring {
		var out []orb.Ring
		for _, r := range ids {
			ls, ok := rd.line(r)
			if !ok {
				skip("missing nodes")
				continue
			}
			ring, ok := cleanRing(ls)
			if !ok {
				skip("degenerate ring")
				continue
			}
			out = append(out, ring)
		}
		return out
	}
	g, orphans := assemble(rings(outerIDs), rings(innerIDs))
	for range orphans {
		skip("orphan inner ring")
	}
	return g
}

func featureLayers(fs []*feature) []string {
	names := make([]string, 0, len(fs)+1)
	for _, f := range fs {
		names = append(names, f.layer.Name)
	}
	return slices.Compact(names)
}
