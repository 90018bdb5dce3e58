package spatial

import (
	"fmt"
	"math"

	"github.com/paulmach/orb"
)

// Street is a street or alley centre line (lon/lat) and its width in metres.
type Street struct {
	Line  orb.LineString
	Width float64
}

// Gate is a gate (lon/lat) by feature id.
type Gate struct {
	ID  int64
	Pos orb.Point
}

// District is what the model reads, in lon/lat: buildings (opaque), the
// public space to watch (streets with their widths, gates, fences) and the
// existing cameras.
type District struct {
	Buildings []orb.Polygon
	Streets   []Street
	Gates     []Gate
	Fences    []orb.LineString
	Cameras   []Camera
}

// Default street widths (m) by the streets layer's kind, for streets
// without a width.
var defaultWidth = map[string]float64{"main": 20, "secondary": 12, "street": 8, "lane": 3, "alley": 2, "footway": 2}

// Feature is the part of a layers.Feature the model reads (package spatial
// does not import layers, which depends on it through grid).
type Feature struct {
	Layer    string
	ID       int64
	Geometry orb.Geometry
	Props    map[string]any
}

// Add takes a feature of the buildings, streets, gates, fences or cameras
// layer into the district (a MultiPolygon building counts as its parts, a
// MultiLineString as its lines) and ignores other layers.
func (d *District) Add(f Feature) error {
	switch f.Layer {
	case "buildings":
		switch g := f.Geometry.(type) {
		case orb.Polygon:
			d.Buildings = append(d.Buildings, g)
		case orb.MultiPolygon:
			d.Buildings = append(d.Buildings, g...)
		default:
			return fmt.Errorf("spatial: building %d: geometry %T, want a polygon", f.ID, f.Geometry)
		}
	case "streets":
		w, _ := num(f.Props["width"])
		if !(w > 0) {
			k, _ := f.Props["kind"].(string)
			if w = defaultWidth[k]; w == 0 {
				w = 3
			}
		}
		switch g := f.Geometry.(type) {
		case orb.LineString:
			d.Streets = append(d.Streets, Street{g, w})
		case orb.MultiLineString:
			for _, l := range g {
				d.Streets = append(d.Streets, Street{l, w})
			}
		default:
			return fmt.Errorf("spatial: street %d: geometry %T, want a line", f.ID, f.Geometry)
		}
	case "fences":
		switch g := f.Geometry.(type) {
		case orb.LineString:
			d.Fences = append(d.Fences, g)
		case orb.MultiLineString:
			d.Fences = append(d.Fences, g...)
		default:
			return fmt.Errorf("spatial: fence %d: geometry %T, want a line", f.ID, f.Geometry)
		}
	case "gates":
		p, ok := f.Geometry.(orb.Point)
		if !ok {
			return fmt.Errorf("spatial: gate %d: geometry %T, want a point", f.ID, f.Geometry)
		}
		d.Gates = append(d.Gates, Gate{f.ID, p})
	case "cameras":
		c, err := CameraFromFeature(f)
		if err != nil {
			return err
		}
		d.Cameras = append(d.Cameras, c)
	}
	return nil
}

func num(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case int32:
		return float64(x), true
	}
	return 0, false
}

// CameraFromFeature reads a feature of the cameras layer: a point and the
// properties mount_height, bearing, tilt, resolution_h, resolution_v, and
// hfov or focal_length_mm with sensor_width_mm (sensor_height_mm
// optional). A missing or bad property is an error naming it.
func CameraFromFeature(f Feature) (Camera, error) {
	p, ok := f.Geometry.(orb.Point)
	if !ok {
		return Camera{}, fmt.Errorf("spatial: camera %d: geometry %T, want a point", f.ID, f.Geometry)
	}
	c := Camera{ID: f.ID, Pos: p}
	get := func(name string, dst *float64, required bool) error {
		v, present := f.Props[name]
		if !present || v == nil {
			if required {
				return fmt.Errorf("spatial: camera %d: missing %s", f.ID, name)
			}
			return nil
		}
		x, ok := num(v)
		if !ok || math.IsNaN(x) {
			return fmt.Errorf("spatial: camera %d: %s = %v is not a number", f.ID, name, v)
		}
		*dst = x
		return nil
	}
	var rh, rv float64
	for _, x := range []struct {
		name string
		dst  *float64
		req  bool
	}{
		{"mount_height", &c.MountHeight, true}, {"bearing", &c.Bearing, true}, {"tilt", &c.Tilt, true},
		{"resolution_h", &rh, true}, {"resolution_v", &rv, true}, {"hfov", &c.HFOVDeg, false},
		{"focal_length_mm", &c.FocalLengthMM, false}, {"sensor_width_mm", &c.SensorWidthMM, false},
		{"sensor_height_mm", &c.SensorHeightMM, false},
	} {
		if err := get(x.name, x.dst, x.req); err != nil {
			return Camera{}, err
		}
	}
	if rh != math.Trunc(rh) || rv != math.Trunc(rv) || rh > 1e6 || rv > 1e6 {
		return Camera{}, fmt.Errorf("spatial: camera %d: resolution %v×%v is not whole pixels", f.ID, rh, rv)
	}
	c.ResH, c.ResV = int(rh), int(rv)
	if c.HFOVDeg == 0 && c.FocalLengthMM == 0 {
		return Camera{}, fmt.Errorf("spatial: camera %d: missing hfov (or focal_length_mm and sensor_width_mm)", f.ID)
	}
	return c, c.Validate()
}
