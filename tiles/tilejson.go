package tiles

import (
	"github.com/paulmach/orb"

	"github.com/hexward/hexward/layers"
)

// TileJSON returns the TileJSON 3.0.0 document of a tile set made of the
// named layers (unknown names are left out: check them with
// Engine.LayerSet first), whose tiles are at tilesURL (a template with
// {z}/{x}/{y}). vector_layers lists each layer with its fields (name →
// "String", "Number" or "Boolean", as in tiles) and zoom range.
func TileJSON(cat *layers.Catalogue, layerNames []string, tilesURL string, bounds orb.Bound) map[string]any {
	var vls []any
	minZ, maxZ := MaxZoom, 0
	var names []string
	for _, n := range layerNames {
		l, ok := cat.Layer(n)
		if !ok {
			continue
		}
		names = append(names, l.Name)
		minZ, maxZ = min(minZ, l.MinZoom), max(maxZ, min(l.MaxZoom, MaxZoom))
		vls = append(vls, map[string]any{
			"id":          l.Name,
			"description": l.Title + " / " + l.TitleZH,
			"fields":      fields(l),
			"minzoom":     l.MinZoom,
			"maxzoom":     min(l.MaxZoom, MaxZoom),
		})
	}
	if len(vls) == 0 {
		minZ, maxZ = 0, MaxZoom
	}
	doc := map[string]any{
		"tilejson":      "3.0.0",
		"name":          "hexward",
		"description":   "Hexward layers: " + join(names),
		"version":       "1.0.0",
		"scheme":        "xyz",
		"format":        "pbf",
		"tiles":         []string{tilesURL},
		"minzoom":       minZ,
		"maxzoom":       maxZ,
		"vector_layers": vls,
	}
	if bounds != (orb.Bound{}) {
		doc["bounds"] = []float64{bounds.Min[0], bounds.Min[1], bounds.Max[0], bounds.Max[1]}
		c := bounds.Center()
		doc["center"] = []float64{c[0], c[1], float64(max(minZ, min(maxZ, 15)))}
	}
	return doc
}

// fields returns the properties a layer's tiles can carry.
func fields(l *layers.Layer) map[string]string {
	f := map[string]string{}
	for i := range l.Props {
		p := &l.Props[i]
		if !l.InTiles(p) {
			continue
		}
		switch p.Type {
		case layers.String, layers.DateTime:
			f[p.Name] = "String"
		case layers.Integer, layers.Number:
			f[p.Name] = "Number"
		case layers.Boolean:
			f[p.Name] = "Boolean"
		}
	}
	f["merged"] = "Boolean"
	f["count"] = "Number"
	return f
}

func join(names []string) string {
	s := ""
	for i, n := range names {
		if i > 0 {
			s += ","
		}
		s += n
	}
	return s
}
