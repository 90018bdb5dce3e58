package tiles

import (
	"strings"

	"github.com/paulmach/orb"

	"github.com/hexward/hexward/layers"
)

// SourceName is the name of the one vector source of the style.
const SourceName = "hexward"

// Fontstack is the font of map labels; the font handler serves its glyphs.
const Fontstack = "Noto Sans Regular"

// BackgroundColor is the colour of the map under every layer.
const BackgroundColor = "#f2efe9"

// Style returns the MapLibre style (version 8) of every layer of cat, drawn
// from one vector source whose tiles are the composite of all layers at
// baseURL+"/tiles/<names>/{z}/{x}/{y}.mvt", with glyphs from
// baseURL+"/fonts/{fontstack}/{range}.pbf". It refers to nothing outside
// baseURL.
//
// Per layer, by kind: a plane gets a fill (id = layer name) and an outline
// (id + "-outline", not drawn around merged features); a line a line; a
// point a circle (merged clusters larger with their count). Colours come
// from Style.Color, or a "match" on Style.ColorBy. A layer with a Label
// property also gets a symbol layer (id + "-label"), drawn above all
// geometry, from zoom 16 for the detail layers that start at z14 or later.
// Every style layer carries metadata "hexward:layer" (the layer name),
// "hexward:title", "hexward:title_zh" and "hexward:kind", so a map UI can
// build a layer switcher from the style alone.
func Style(cat *layers.Catalogue, baseURL string, bounds orb.Bound) map[string]any {
	baseURL = strings.TrimRight(baseURL, "/")
	names := cat.Names()
	minZ := MaxZoom
	for _, l := range cat.Layers() {
		minZ = min(minZ, l.MinZoom)
	}
	source := map[string]any{
		"type":        "vector",
		"tiles":       []string{baseURL + "/tiles/" + strings.Join(names, ",") + "/{z}/{x}/{y}.mvt"},
		"minzoom":     minZ,
		"maxzoom":     MaxZoom,
		"attribution": "Hexward",
	}
	style := map[string]any{
		"version": 8,
		"name":    "Hexward",
		"metadata": map[string]any{
			"hexward:layers": names,
		},
		"sources": map[string]any{SourceName: source},
		"glyphs":  baseURL + "/fonts/{fontstack}/{range}.pbf",
		"zoom":    15,
	}
	if bounds != (orb.Bound{}) {
		source["bounds"] = []float64{bounds.Min[0], bounds.Min[1], bounds.Max[0], bounds.Max[1]}
		c := bounds.Center()
		style["center"] = []float64{c[0], c[1]}
	}

	out := []any{map[string]any{
		"id":    "background",
		"type":  "background",
		"paint": map[string]any{"background-color": BackgroundColor},
	}}
	var labels []any
	for _, l := range cat.Layers() {
		out = append(out, geometryLayers(l)...)
		if lb := labelLayer(l); lb != nil {
			labels = append(labels, lb)
		}
	}
	style["layers"] = append(out, labels...)
	return style
}

func styleLayer(l *layers.Layer, id, typ, role string) map[string]any {
	return map[string]any{
		"id":           id,
		"type":         typ,
		"source":       SourceName,
		"source-layer": l.Name,
		"minzoom":      l.MinZoom,
		"maxzoom":      min(l.MaxZoom+1, 24),
		"metadata": map[string]any{
			"hexward:layer":    l.Name,
			"hexward:title":    l.Title,
			"hexward:title_zh": l.TitleZH,
			"hexward:kind":     string(l.Kind),
			"hexward:role":     role,
		},
		"layout": map[string]any{"visibility": visibility(l)},
	}
}

func visibility(l *layers.Layer) string {
	if l.Style.Off {
		return "none"
	}
	return "visible"
}

// colorExpr is the layer's colour: a "match" on ColorBy when set.
func colorExpr(l *layers.Layer) any {
	s := l.Style
	color := s.Color
	if color == "" {
		color = "#888888"
	}
	if s.ColorBy == "" || len(s.Colors) == 0 {
		return color
	}
	p, ok := l.Prop(s.ColorBy)
	if !ok || len(p.Enum) == 0 {
		return color
	}
	expr := []any{"match", []any{"get", s.ColorBy}}
	for i, v := range p.Enum {
		if i >= len(s.Colors) {
			break
		}
		expr = append(expr, v, s.Colors[i])
	}
	return append(expr, color)
}

// widthExpr grows a line width given at the layer's minimum zoom with zoom.
func widthExpr(l *layers.Layer, w float64) any {
	if w <= 0 {
		w = 1
	}
	top := max(l.MinZoom+1, 20)
	return []any{"interpolate", []any{"linear"}, []any{"zoom"}, l.MinZoom, w, top, w * 3}
}

var notMerged = []any{"!", []any{"has", "merged"}}

func geometryLayers(l *layers.Layer) []any {
	s := l.Style
	switch l.Kind {
	case layers.Plane:
		fill := styleLayer(l, l.Name, "fill", "fill")
		fill["paint"] = map[string]any{
			"fill-color":   colorExpr(l),
			"fill-opacity": s.FillOpacity,
		}
		outline := styleLayer(l, l.Name+"-outline", "line", "outline")
		oc := s.Outline
		if oc == "" {
			oc = s.Color
		}
		paint := map[string]any{"line-color": oc, "line-width": widthExpr(l, s.Width)}
		if s.Dash {
			paint["line-dasharray"] = []float64{3, 2}
		}
		outline["paint"] = paint
		outline["filter"] = notMerged
		return []any{fill, outline}
	case layers.Line:
		line := styleLayer(l, l.Name, "line", "line")
		line["layout"].(map[string]any)["line-cap"] = "round"
		line["layout"].(map[string]any)["line-join"] = "round"
		paint := map[string]any{"line-color": colorExpr(l), "line-width": widthExpr(l, s.Width)}
		if s.Dash {
			paint["line-dasharray"] = []float64{2, 1.5}
		}
		line["paint"] = paint
		return []any{line}
	default:
		r := s.Radius
		if r <= 0 {
			r = 4
		}
		circle := styleLayer(l, l.Name, "circle", "circle")
		circle["paint"] = map[string]any{
			"circle-color": colorExpr(l),
			"circle-radius": []any{"case", []any{"has", "count"},
				[]any{"interpolate", []any{"linear"}, []any{"get", "count"}, 2, r * 1.5, 100, r * 3},
				r},
			"circle-stroke-color": "#ffffff",
			"circle-stroke-width": 1,
		}
		return []any{circle}
	}
}

func labelLayer(l *layers.Layer) map[string]any {
	if l.Label == "" {
		return nil
	}
	lb := styleLayer(l, l.Name+"-label", "symbol", "label")
	if l.MinZoom >= 14 {
		lb["minzoom"] = min(max(l.MinZoom, 16), l.MaxZoom)
	}
	text := []any{"coalesce", []any{"get", l.Label}}
	if _, ok := l.Prop("name_en"); ok && l.Label != "name_en" {
		text = append(text, []any{"get", "name_en"})
	}
	if l.Kind == layers.Point {
		text = append(text, []any{"to-string", []any{"get", "count"}})
	}
	text = append(text, "")
	layout := lb["layout"].(map[string]any)
	layout["text-field"] = text
	layout["text-font"] = []string{Fontstack}
	layout["text-size"] = 12
	paint := map[string]any{
		"text-color":      "#333333",
		"text-halo-color": "#ffffff",
		"text-halo-width": 1.2,
	}
	switch l.Kind {
	case layers.Line:
		layout["symbol-placement"] = "line"
	case layers.Point:
		layout["text-anchor"] = "top"
		layout["text-offset"] = []float64{0, 0.8}
		layout["text-optional"] = true
	default:
		layout["symbol-placement"] = "point"
	}
	lb["paint"] = paint
	return lb
}
