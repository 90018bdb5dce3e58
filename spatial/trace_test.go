package spatial

import "testing"

// TestSimpleCyclesSplitsAPinch: an outline that passes one corner twice
// (two squares meeting at a corner, traced as one cycle) becomes two
// cycles, each passing every vertex once.
func TestSimpleCyclesSplitsAPinch(t *testing.T) {
	// (0,0)→(1,0)→(1,1)→(2,1)→(2,2)→(1,2)→(1,1)→(0,1): pinched at (1,1).
	c := []ipt{{0, 0}, {1, 0}, {1, 1}, {2, 1}, {2, 2}, {1, 2}, {1, 1}, {0, 1}}
	got := simpleCycles(c)
	if len(got) != 2 {
		t.Fatalf("%d cycles: %v", len(got), got)
	}
	n := 0
	for _, cyc := range got {
		seen := map[ipt]bool{}
		for _, p := range cyc {
			if seen[p] {
				t.Fatalf("cycle %v passes %v twice", cyc, p)
			}
			seen[p] = true
		}
		n += len(cyc)
	}
	if n != len(c) { // the pinch vertex, twice in c, is once in each part
		t.Fatalf("%d vertices in the parts, want %d", n, len(c))
	}
	if one := simpleCycles(c[:4]); len(one) != 1 {
		t.Fatalf("a simple cycle was split: %v", one)
	}
}
