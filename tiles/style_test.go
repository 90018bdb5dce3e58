package tiles

import (
	"testing"

	"github.com/paulmach/orb"

	"github.com/hexward/hexward/layers"
)

// TestStyleStartsOverlaysOff: a layer whose style is Off starts with every
// style layer of it hidden (the map's switcher shows it unticked); the
// others start visible.
func TestStyleStartsOverlaysOff(t *testing.T) {
	cat := layers.Governance()
	st := Style(cat, "http://x/", orb.Bound{Min: orb.Point{114, 22}, Max: orb.Point{114.1, 22.1}})
	seen := map[string]bool{}
	for _, v := range st["layers"].([]any) {
		sl, _ := v.(map[string]any)
		meta, _ := sl["metadata"].(map[string]any)
		name, _ := meta["hexward:layer"].(string)
		l, ok := cat.Layer(name)
		if !ok {
			continue
		}
		seen[name] = true
		want := "visible"
		if l.Style.Off {
			want = "none"
		}
		if got := sl["layout"].(map[string]any)["visibility"]; got != want {
			t.Errorf("style layer %v of %s: visibility %v, want %s", sl["id"], name, got, want)
		}
	}
	for _, name := range []string{"blind_spots", "grid_cells", "buildings"} {
		if !seen[name] {
			t.Errorf("no style layer for %s", name)
		}
	}
}
