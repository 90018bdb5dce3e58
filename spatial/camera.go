// Package spatial models surveillance cameras as a designer does: field of
// view from the lens, pixel-density ranges for the levels of IEC 62676-4,
// the blind zone under the camera, views occluded by building footprints
// (an O(n log n) angular sweep), coverage of streets, gates and fences with
// blind spots, what-if evaluation of a hypothetical camera and greedy
// placement of new cameras. Pure Go on github.com/paulmach/orb; geometry is
// computed in a local metric Frame and returned in lon/lat. See README.md
// for the model, the formulas and their accuracy.
package spatial

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/paulmach/orb"
)

const deg = math.Pi / 180

// Level is a pixel-density level: the image has at least PxPerM pixels per
// metre of target width within the level's range.
type Level struct {
	Name   string  `json:"name"`
	PxPerM float64 `json:"px_per_m"`
}

// Levels is a set of levels, in increasing pixel density.
type Levels []Level

// IEC2014 is the set of IEC 62676-4:2014 used by the camera_views layer.
var IEC2014 = Levels{{"detect", 25}, {"observe", 62.5}, {"recognise", 125}, {"identify", 250}}

// IEC2025 is the set of the 2025 edition of IEC 62676-4 (see README.md).
var IEC2025 = Levels{{"overview", 20}, {"outline", 40}, {"discern", 80}, {"perceive", 125},
	{"characterise", 250}, {"validate", 500}, {"scrutinise", 1500}}

// LevelSet returns a level set by name: "iec62676-4:2014" (also "" and
// "2014"), "iec62676-4:2025" ("2025"), or a custom set written
// "name=px,name=px,…" (e.g. "detect=25,identify=250").
func LevelSet(name string) (Levels, error) {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "", "2014", "iec62676-4:2014":
		return append(Levels(nil), IEC2014...), nil
	case "2025", "iec62676-4:2025":
		return append(Levels(nil), IEC2025...), nil
	}
	if !strings.Contains(name, "=") {
		return nil, fmt.Errorf("spatial: unknown level set %q (want iec62676-4:2014, iec62676-4:2025 or name=px,…)", name)
	}
	var ls Levels
	for _, part := range strings.Split(name, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return nil, fmt.Errorf("spatial: level %q: want name=px", part)
		}
		px, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil {
			return nil, fmt.Errorf("spatial: level %q: pixel density: %v", part, err)
		}
		ls = append(ls, Level{strings.TrimSpace(k), px})
	}
	sort.SliceStable(ls, func(i, j int) bool { return ls[i].PxPerM < ls[j].PxPerM })
	return ls, ls.Validate()
}

// Validate checks that the set is not empty, names are unique and not
// empty, and densities are positive and finite.
func (ls Levels) Validate() error {
	if len(ls) == 0 {
		return errors.New("spatial: empty level set")
	}
	seen := map[string]bool{}
	for _, l := range ls {
		if l.Name == "" {
			return errors.New("spatial: level without a name")
		}
		if seen[l.Name] {
			return fmt.Errorf("spatial: level %q twice", l.Name)
		}
		seen[l.Name] = true
		if !(l.PxPerM > 0) || math.IsInf(l.PxPerM, 0) {
			return fmt.Errorf("spatial: level %q: pixel density %v must be positive", l.Name, l.PxPerM)
		}
	}
	return nil
}

// Index returns the index of the level named name, or -1.
func (ls Levels) Index(name string) int {
	for i, l := range ls {
		if l.Name == name {
			return i
		}
	}
	return -1
}

// Camera is a camera as the cameras layer describes it. Angles are in
// degrees, lengths in metres. The horizontal field of view is HFOV, or,
// when HFOV is 0, 2·atan(SensorWidthMM / (2·FocalLengthMM)).
type Camera struct {
	ID            int64     // feature id (0 for a hypothetical camera)
	Pos           orb.Point // lon/lat
	MountHeight   float64   // above the ground
	Bearing       float64   // of the optical axis, from north, clockwise
	HFOVDeg       float64   // horizontal field of view
	Tilt          float64   // of the optical axis below the horizon
	ResH, ResV    int       // pixels
	FocalLengthMM float64   // with SensorWidthMM, instead of HFOVDeg
	SensorWidthMM float64
	// SensorHeightMM gives the vertical field of view; without it the
	// aspect ratio ResV/ResH does.
	SensorHeightMM float64
}

// Validate reports the first bad field, by its property name.
func (c Camera) Validate() error {
	bad := func(f string, v any, want string) error {
		return fmt.Errorf("spatial: camera %d: %s = %v: %s", c.ID, f, v, want)
	}
	fin := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
	switch {
	case !fin(c.Pos[0]) || !fin(c.Pos[1]) || math.Abs(c.Pos[0]) > 180 || math.Abs(c.Pos[1]) > 90:
		return bad("position", c.Pos, "want lon/lat")
	case !fin(c.MountHeight) || c.MountHeight <= 0 || c.MountHeight > 100:
		return bad("mount_height", c.MountHeight, "want (0, 100] m")
	case !fin(c.Bearing) || c.Bearing < 0 || c.Bearing > 360:
		return bad("bearing", c.Bearing, "want [0, 360]°")
	case !fin(c.Tilt) || c.Tilt < 0 || c.Tilt > 90:
		return bad("tilt", c.Tilt, "want [0, 90]°")
	case c.ResH < 1 || c.ResV < 1:
		return bad("resolution", [2]int{c.ResH, c.ResV}, "want at least 1×1 px")
	}
	if c.HFOVDeg != 0 {
		if !fin(c.HFOVDeg) || c.HFOVDeg < 1 || c.HFOVDeg > 360 {
			return bad("hfov", c.HFOVDeg, "want [1, 360]°")
		}
	} else {
		if !fin(c.FocalLengthMM) || c.FocalLengthMM <= 0 {
			return bad("focal_length_mm", c.FocalLengthMM, "want > 0 (or give hfov)")
		}
		if !fin(c.SensorWidthMM) || c.SensorWidthMM <= 0 {
			return bad("sensor_width_mm", c.SensorWidthMM, "want > 0 (or give hfov)")
		}
	}
	if !fin(c.SensorHeightMM) || c.SensorHeightMM < 0 {
		return bad("sensor_height_mm", c.SensorHeightMM, "want ≥ 0")
	}
	return nil
}

// HFOV is the horizontal field of view in degrees.
func (c Camera) HFOV() float64 {
	if c.HFOVDeg != 0 {
		return c.HFOVDeg
	}
	return 2 * math.Atan(c.SensorWidthMM/(2*c.FocalLengthMM)) / deg
}

// VFOV is the vertical field of view in degrees: from the sensor height
// and focal length when both are given, else from the aspect ratio,
// tan(VFOV/2) = tan(HFOV/2)·ResV/ResH (a rectilinear lens; for HFOV ≥ 180°
// VFOV = HFOV·ResV/ResH).
func (c Camera) VFOV() float64 {
	if c.SensorHeightMM > 0 && c.FocalLengthMM > 0 {
		return 2 * math.Atan(c.SensorHeightMM/(2*c.FocalLengthMM)) / deg
	}
	h := c.HFOV()
	ar := float64(c.ResV) / float64(c.ResH)
	if h >= 179 {
		return min(h*ar, 179)
	}
	return 2 * math.Atan(math.Tan(h/2*deg)*ar) / deg
}

// SlantRange is the distance D along the line of sight at which the image
// has pxPerM pixels per metre: D = ResH / (2·pxPerM·tan(HFOV/2)). For a
// field of view of 180° or more it is 0 (the formula does not apply).
func (c Camera) SlantRange(pxPerM float64) float64 {
	h := c.HFOV()
	if h >= 180 || pxPerM <= 0 {
		return 0
	}
	return float64(c.ResH) / (2 * pxPerM * math.Tan(h/2*deg))
}

// GroundRange is the horizontal distance on the ground within which the
// level holds: sqrt(D² − h²) for the slant range D and mount height h, or 0
// when D ≤ h (the level is reached nowhere on the ground).
func (c Camera) GroundRange(l Level) float64 {
	d := c.SlantRange(l.PxPerM)
	if d <= c.MountHeight {
		return 0
	}
	return math.Sqrt(d*d - c.MountHeight*c.MountHeight)
}

// BlindZone gives the ground footprint of the image along the axis: near
// is the edge of the blind zone under the camera, h / tan(tilt + VFOV/2)
// (0 when tilt + VFOV/2 ≥ 90°); far is h / tan(tilt − VFOV/2) when the tilt
// bounds the image (tilt > VFOV/2), else +Inf.
func (c Camera) BlindZone() (near, far float64) {
	v := c.VFOV() / 2
	h := c.MountHeight
	if a := c.Tilt + v; a < 90 {
		near = h / math.Tan(a*deg)
	}
	far = math.Inf(1)
	if a := c.Tilt - v; a > 0 {
		far = h / math.Tan(a*deg)
	}
	return near, far
}

// Ring returns the ground ring [inner, outer] in which the camera sees at
// level l: inner = the blind zone's near edge, outer = min(level range,
// far edge). ok is false when the ring is empty.
func (c Camera) Ring(l Level) (inner, outer float64, ok bool) {
	near, far := c.BlindZone()
	outer = min(c.GroundRange(l), far)
	return near, outer, outer > near
}
