package layers

import (
	"time"

	"github.com/paulmach/orb"
)

// Op is what a change did to a feature.
type Op string

// The operations recorded in the change log.
const (
	Insert Op = "insert"
	Update Op = "update"
	Delete Op = "delete"
)

// Change is one row of the change log: a feature written or deleted, with
// the bounds (EPSG:4326) it covered before and after, so that subscribers
// such as the tile cache know exactly which area to refresh. A bound is
// empty (IsZero) when there was no geometry on that side.
type Change struct {
	Seq       int64 // change-log id, increasing with commit order
	Layer     string
	FeatureID int64
	Op        Op
	Before    orb.Bound
	After     orb.Bound
	At        time.Time
}

// Bounds returns the union of the change's before and after bounds.
func (c Change) Bounds() orb.Bound {
	switch {
	case isEmpty(c.Before):
		return c.After
	case isEmpty(c.After):
		return c.Before
	}
	return c.Before.Union(c.After)
}

func isEmpty(b orb.Bound) bool { return b == orb.Bound{} }
