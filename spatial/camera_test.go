package spatial

import (
	"math"
	"strings"
	"testing"

	"github.com/paulmach/orb"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

var cam1080 = Camera{Pos: orb.Point{114.125, 22.555}, MountHeight: 4, Bearing: 30, HFOVDeg: 90, Tilt: 20, ResH: 1920, ResV: 1080}

func TestLevelRangesFollowTheFormula(t *testing.T) {
	for _, c := range []Camera{cam1080, {Pos: cam1080.Pos, MountHeight: 7, HFOVDeg: 40, Tilt: 10, ResH: 3840, ResV: 2160}} {
		for _, l := range IEC2014 {
			d := float64(c.ResH) / (2 * l.PxPerM * math.Tan(c.HFOVDeg/2*math.Pi/180))
			if !near(c.SlantRange(l.PxPerM), d, 1e-9) {
				t.Errorf("%s: slant %v, want %v", l.Name, c.SlantRange(l.PxPerM), d)
			}
			want := 0.0
			if d > c.MountHeight {
				want = math.Sqrt(d*d - c.MountHeight*c.MountHeight)
			}
			if !near(c.GroundRange(l), want, 1e-9) {
				t.Errorf("%s: ground %v, want %v", l.Name, c.GroundRange(l), want)
			}
		}
	}
	// 1920 px over 90°: detect at 38.4 m slant; identify at 3.84 m < 4 m mount: nowhere
	if !near(cam1080.SlantRange(25), 38.4, 1e-9) || cam1080.GroundRange(IEC2014[3]) != 0 {
		t.Fatal("known values")
	}
}

func TestBlindZoneAsComputed(t *testing.T) {
	c := cam1080
	v := c.VFOV()
	if !near(v, 2*math.Atan(math.Tan(45*math.Pi/180)*1080/1920)*180/math.Pi, 1e-9) || !near(v, 58.7155, 1e-3) {
		t.Fatalf("vfov %v", v)
	}
	n, f := c.BlindZone()
	if !near(n, 4/math.Tan((20+v/2)*math.Pi/180), 1e-9) || !math.IsInf(f, 1) {
		t.Fatalf("near %v far %v", n, f)
	}
	c.Tilt = 45 // bounded footprint
	n, f = c.BlindZone()
	if !near(n, 4/math.Tan((45+v/2)*math.Pi/180), 1e-9) || !near(f, 4/math.Tan((45-v/2)*math.Pi/180), 1e-9) {
		t.Fatalf("near %v far %v", n, f)
	}
	in, out, ok := c.Ring(IEC2014[0])
	if !ok || in != n || out != math.Min(f, c.GroundRange(IEC2014[0])) {
		t.Fatalf("ring %v %v %v", in, out, ok)
	}
	c.Tilt = 90 // looking straight down: no blind zone
	if n, _ := c.BlindZone(); n != 0 {
		t.Fatalf("near %v", n)
	}
}

func TestLensGivesFieldOfView(t *testing.T) {
	c := cam1080
	c.HFOVDeg, c.FocalLengthMM, c.SensorWidthMM = 0, 4, 6.4
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if !near(c.HFOV(), 2*math.Atan(0.8)*180/math.Pi, 1e-9) {
		t.Fatalf("hfov %v", c.HFOV())
	}
	c.SensorHeightMM = 3.6
	if !near(c.VFOV(), 2*math.Atan(3.6/8)*180/math.Pi, 1e-9) {
		t.Fatalf("vfov %v", c.VFOV())
	}
	c.FocalLengthMM = 0
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "focal_length_mm") {
		t.Fatalf("no focal length: %v", err)
	}
}

func TestLevelSets(t *testing.T) {
	l, err := LevelSet("")
	if err != nil || len(l) != 4 || l[2] != (Level{"recognise", 125}) {
		t.Fatal(l, err)
	}
	l, err = LevelSet("iec62676-4:2025")
	if err != nil || l[0].PxPerM != 20 {
		t.Fatal(l, err)
	}
	l, err = LevelSet("identify=250, detect=25")
	if err != nil || len(l) != 2 || l[0].Name != "detect" {
		t.Fatal(l, err)
	}
	for _, bad := range []string{"nonsense", "a=1,a=2", "a=-1", "a=x", "=5"} {
		if _, err := LevelSet(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestCameraFromFeature(t *testing.T) {
	f := Feature{ID: 7, Layer: "cameras", Geometry: orb.Point{114.1, 22.5}, Props: map[string]any{
		"mount_height": 4.1, "bearing": 183.9, "hfov": 90.0, "tilt": 28.0, "resolution_h": int64(1920), "resolution_v": int64(1080)}}
	c, err := CameraFromFeature(f)
	if err != nil || c.ID != 7 || c.HFOV() != 90 || c.ResV != 1080 {
		t.Fatal(c, err)
	}
	for k, v := range map[string]any{"tilt": nil, "bearing": "north", "mount_height": -1.0, "hfov": 0.5, "resolution_h": 1.5} {
		g := Feature{ID: 7, Geometry: f.Geometry, Props: map[string]any{}}
		for a, b := range f.Props {
			g.Props[a] = b
		}
		if v == nil {
			delete(g.Props, k)
		} else {
			g.Props[k] = v
		}
		if _, err := CameraFromFeature(g); err == nil || !strings.Contains(err.Error(), strings.SplitN(k, "_h", 2)[0]) {
			t.Errorf("%s=%v: %v", k, v, err)
		}
	}
}
