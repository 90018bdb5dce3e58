package web_test

import (
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/hexward/hexward/layers"
)

// TestOGRInfoReadsEveryLayer has GDAL's ogrinfo, an OGC API – Features
// client that is not ours, list every layer and read each one's features
// with the geometry type of the layer's kind.
func TestOGRInfoReadsEveryLayer(t *testing.T) {
	ogrinfo, err := exec.LookPath("ogrinfo")
	if err != nil {
		t.Fatal("ogrinfo not found: install gdal-bin (make deps does)")
	}
	e := newEnv(t)
	ds := "OAPIF:" + e.url + "/api"
	// GDAL sends the viewer's API token with every request.
	auth := []string{"--config", "GDAL_HTTP_HEADERS", "Authorization: Bearer " + e.tokens["viewer"]}
	ogr := func(args ...string) *exec.Cmd { return exec.Command(ogrinfo, append(auth, args...)...) }
	out, err := ogr("-ro", "-q", ds).CombinedOutput()
	if err != nil {
		t.Fatalf("ogrinfo: %v\n%s", err, out)
	}
	want := map[layers.Kind]*regexp.Regexp{
		layers.Point: regexp.MustCompile(`Geometry: (3D )?(Multi )?Point`),
		layers.Line:  regexp.MustCompile(`Geometry: (3D )?(Multi )?Line String`),
		layers.Plane: regexp.MustCompile(`Geometry: (3D )?(Multi )?Polygon`),
	}
	for _, l := range layers.Governance().Layers() {
		if !strings.Contains(string(out), ": "+l.Name) {
			t.Errorf("ogrinfo does not list layer %s:\n%s", l.Name, out)
			continue
		}
		info, err := ogr("-ro", "-al", ds, l.Name).CombinedOutput()
		if err != nil {
			t.Fatalf("ogrinfo %s: %v\n%s", l.Name, err, info)
		}
		s := string(info)
		if !want[l.Kind].MatchString(s) {
			t.Errorf("layer %s: geometry type not %s:\n%s", l.Name, l.Kind, s)
		}
		if !strings.Contains(s, "Feature Count: 1") || !strings.Contains(s, "OGRFeature("+l.Name+")") {
			t.Errorf("layer %s: ogrinfo read no feature:\n%s", l.Name, s)
		}
	}
}
