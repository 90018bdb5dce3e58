package layers

import (
	"time"

	"github.com/paulmach/orb"
)

// Feature is one feature of a layer: a geometry in EPSG:4326 and its
// properties. ID is zero for a feature not yet stored; once stored it never
// changes.
type Feature struct {
	ID       int64
	Layer    string
	Geometry orb.Geometry
	Props    map[string]any
	Updated  time.Time // set by the store
}
