package demo

import (
	"testing"

	"github.com/paulmach/orb"
)

// TestOfficersHavePatrolZones: every demo officer patrols a village zone
// or compound that exists, the same one every run, and not all the same.
func TestOfficersHavePatrolZones(t *testing.T) {
	fs := generate(t, 3, 0.3)
	zones := map[string]orb.Bound{}
	for _, f := range fs {
		if f.Layer == "village_zones" || f.Layer == "compounds" {
			zones[f.Props["code"].(string)] = f.Geometry.Bound()
		}
	}
	again := generate(t, 3, 0.3)
	seen := map[string]bool{}
	n := 0
	for i, f := range fs {
		if f.Layer != "officers" {
			continue
		}
		n++
		code, _ := f.Props["patrol_zone"].(string)
		if _, ok := zones[code]; !ok {
			t.Fatalf("officer %v: patrol_zone %q is no zone", f.Props["name"], code)
		}
		if again[i].Props["patrol_zone"] != code {
			t.Fatalf("officer %d: patrol zone %q then %q", i, code, again[i].Props["patrol_zone"])
		}
		seen[code] = true
	}
	if n == 0 || len(seen) < 2 {
		t.Fatalf("%d officers patrol %d zones", n, len(seen))
	}
}
