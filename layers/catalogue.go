package layers

import (
	"fmt"
	"sort"
)

// Kind is the geometry kind of a layer: the article's point, line and plane.
type Kind string

// The three geometry kinds. A point layer accepts Point and MultiPoint, a
// line layer LineString and MultiLineString, a plane layer Polygon and
// MultiPolygon.
const (
	Point Kind = "point"
	Line  Kind = "line"
	Plane Kind = "plane"
)

// PropType is the type of one feature property.
type PropType string

// Property types. A PointProp is a [lon, lat] pair in EPSG:4326 (a
// building's entrance, for example); DateTime is RFC 3339 with zone.
const (
	String    PropType = "string"
	Integer   PropType = "integer"
	Number    PropType = "number"
	Boolean   PropType = "boolean"
	DateTime  PropType = "datetime"
	PointProp PropType = "point"
)

// Property is one entry of a layer's property schema.
type Property struct {
	Name     string
	Type     PropType
	Title    string   // English
	TitleZH  string   // Chinese
	Required bool     // must be present and not null
	Enum     []string // allowed values for a String, when set
	Min, Max *float64 // bounds for Integer and Number, when set
	MaxLen   int      // longest String in runes; 0 means the default (1000)
}

// Style is how the map draws a layer; tiles/style.go turns it into
// MapLibre layers.
type Style struct {
	Color       string  // main colour, CSS hex
	Outline     string  // outline colour of planes, CSS hex
	FillOpacity float64 // planes
	Width       float64 // lines, in pixels at the layer's minimum zoom
	Radius      float64 // points, in pixels
	Dash        bool    // dashed line
	// ColorBy names a String property whose Enum values get the colours in
	// Colors (same order); features with other values use Color.
	ColorBy string
	Colors  []string
	// Off: the map starts with the layer switched off (an overlay shown
	// when asked for, such as the analyses' blind spots or grid).
	Off bool
}

// Layer describes one named set of features of a single geometry kind.
type Layer struct {
	Name    string // table-safe identifier, also the collection id
	Title   string
	TitleZH string
	Kind    Kind
	Props   []Property
	MinZoom int
	MaxZoom int
	Label   string // property used for map labels, if any
	Style   Style
}

// Prop returns the schema of the named property.
func (l *Layer) Prop(name string) (*Property, bool) {
	for i := range l.Props {
		if l.Props[i].Name == name {
			return &l.Props[i], true
		}
	}
	return nil, false
}

// InTiles says whether vector tiles carry property p: what the map draws
// and labels (the label, name_en, categories, numbers and flags), not the
// free text of each feature (addresses, phones, people), which the map
// fetches by id from the API when a feature is clicked. Keeping tiles to
// what is drawn keeps a dense district's tiles small.
func (l *Layer) InTiles(p *Property) bool {
	switch {
	case p.Type == PointProp:
		return false
	case p.Name == l.Label, p.Name == "name_en", p.Name == l.Style.ColorBy:
		return true
	case p.Type == String:
		return len(p.Enum) > 0
	}
	return true
}

// Catalogue is the set of layers the service knows, in display order.
type Catalogue struct {
	layers []*Layer
	byName map[string]*Layer
}

// NewCatalogue builds a catalogue and checks that names are unique and
// every layer is well formed.
func NewCatalogue(ls ...*Layer) (*Catalogue, error) {
	c := &Catalogue{byName: map[string]*Layer{}}
	for _, l := range ls {
		if l.Name == "" || !identRe.MatchString(l.Name) {
			return nil, fmt.Errorf("layer name %q is not an identifier", l.Name)
		}
		if _, dup := c.byName[l.Name]; dup {
			return nil, fmt.Errorf("layer %q defined twice", l.Name)
		}
		switch l.Kind {
		case Point, Line, Plane:
		default:
			return nil, fmt.Errorf("layer %q: unknown kind %q", l.Name, l.Kind)
		}
		if l.MinZoom < 0 || l.MaxZoom > 24 || l.MinZoom > l.MaxZoom {
			return nil, fmt.Errorf("layer %q: bad zoom range %d-%d", l.Name, l.MinZoom, l.MaxZoom)
		}
		seen := map[string]bool{}
		for _, p := range l.Props {
			if !identRe.MatchString(p.Name) || seen[p.Name] {
				return nil, fmt.Errorf("layer %q: bad or repeated property %q", l.Name, p.Name)
			}
			seen[p.Name] = true
		}
		c.layers = append(c.layers, l)
		c.byName[l.Name] = l
	}
	return c, nil
}

// Layer returns the named layer.
func (c *Catalogue) Layer(name string) (*Layer, bool) {
	l, ok := c.byName[name]
	return l, ok
}

// Layers returns every layer in display order (planes under lines under
// points).
func (c *Catalogue) Layers() []*Layer { return c.layers }

// Names returns the layer names in display order.
func (c *Catalogue) Names() []string {
	out := make([]string, len(c.layers))
	for i, l := range c.layers {
		out[i] = l.Name
	}
	return out
}

// SortedNames returns the layer names sorted alphabetically.
func (c *Catalogue) SortedNames() []string {
	out := c.Names()
	sort.Strings(out)
	return out
}
