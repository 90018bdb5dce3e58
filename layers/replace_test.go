package layers_test

import (
	"context"
	"maps"
	"slices"
	"testing"

	"github.com/paulmach/orb"

	"github.com/hexward/hexward/layers"
)

// replaceLayers are the two derived layers the tests below recompute.
var replaceLayers = []string{"camera_views", "blind_spots"}

func view(x float64, level string) layers.Feature {
	return layers.Feature{Layer: "camera_views", Geometry: square(x, 22.55, 0.0001), Props: map[string]any{"level": level}}
}

func blind(x float64) layers.Feature {
	return layers.Feature{Layer: "blind_spots", Geometry: square(x, 22.56, 0.0002), Props: map[string]any{"level": "detect", "area_m2": 12.5}}
}

// stored returns the ids of the features of the layer, in id order.
func stored(t *testing.T, s *layers.Store, layer string) []int64 {
	t.Helper()
	var ids []int64
	if err := s.ScanLayer(context.Background(), layer, func(f layers.Feature) error { ids = append(ids, f.ID); return nil }); err != nil {
		t.Fatal(err)
	}
	slices.Sort(ids)
	return ids
}

// replace runs ReplaceLayers over replaceLayers with fs and returns its
// stats and the changes it notified, after checking that they are exactly
// the change-log rows it wrote.
func replace(t *testing.T, s *layers.Store, notified *[]layers.Change, fs ...layers.Feature) (layers.ImportStats, []layers.Change) {
	t.Helper()
	ctx := context.Background()
	last, err := s.LastSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	*notified = nil
	st, err := s.ReplaceLayers(ctx, replaceLayers, layers.FromSlice(fs), nil)
	if err != nil {
		t.Fatalf("replace: %v", err)
	}
	logged, err := s.ChangesSince(ctx, last, 1_000)
	if err != nil {
		t.Fatal(err)
	}
	got := slices.Clone(*notified)
	slices.SortFunc(got, func(a, b layers.Change) int { return int(a.Seq - b.Seq) })
	if len(got) != len(logged) {
		t.Fatalf("notified %d changes, logged %d", len(got), len(logged))
	}
	for i := range got {
		g, l := got[i], logged[i]
		if g.Seq != l.Seq || g.Layer != l.Layer || g.FeatureID != l.FeatureID || g.Op != l.Op || g.Bounds() != l.Bounds() {
			t.Fatalf("notified %+v, logged %+v", g, l)
		}
	}
	if st.Inserted+st.Kept != st.Features {
		t.Fatalf("stats %+v: inserted and kept do not add up to the features", st)
	}
	return st, got
}

// ops counts the changes per layer and op, e.g. "camera_views delete".
func ops(cs []layers.Change) map[string]int {
	m := map[string]int{}
	for _, c := range cs {
		m[c.Layer+" "+string(c.Op)]++
	}
	return m
}

// TestReplaceLayersWritesTheDifference: recomputing derived layers keeps
// the features that did not change (same ids, no change-log rows, nothing
// notified) and deletes and inserts only what did.
func TestReplaceLayersWritesTheDifference(t *testing.T) {
	ctx := context.Background()
	s, notified := newStore(t)
	gate := layers.Feature{Layer: "gates", Geometry: orb.Point{114.12, 22.55}, Props: map[string]any{"name": "东门"}}
	if _, err := s.Import(ctx, layers.FromSlice([]layers.Feature{gate}), nil); err != nil {
		t.Fatal(err)
	}
	first := []layers.Feature{view(114.12, "detect"), view(114.13, "observe"), view(114.14, "detect"), blind(114.12), blind(114.13)}
	st, cs := replace(t, s, notified, first...)
	if st.Inserted != 5 || st.Kept != 0 || st.Deleted != 0 || len(cs) != 5 {
		t.Fatalf("first replace: %+v, %d changes", st, len(cs))
	}
	views, blinds := stored(t, s, "camera_views"), stored(t, s, "blind_spots")
	rows := count(t, s, "changes")

	// The same content, in another order: nothing written.
	again := slices.Clone(first)
	slices.Reverse(again)
	st, cs = replace(t, s, notified, again...)
	if st.Kept != 5 || st.Inserted != 0 || st.Deleted != 0 || len(cs) != 0 || len(*notified) != 0 {
		t.Fatalf("identical rerun: %+v, changes %v", st, ops(cs))
	}
	if n := count(t, s, "changes"); n != rows {
		t.Fatalf("identical rerun wrote %d change rows", n-rows)
	}
	if !slices.Equal(stored(t, s, "camera_views"), views) || !slices.Equal(stored(t, s, "blind_spots"), blinds) {
		t.Fatal("identical rerun changed the features' ids")
	}

	// One view moved: its old self deleted, the new one inserted.
	moved := slices.Clone(first)
	moved[1] = view(114.15, "observe")
	st, cs = replace(t, s, notified, moved...)
	if st.Kept != 4 || st.Inserted != 1 || st.Deleted != 1 || len(cs) != 2 || cs[0].Op != layers.Delete || cs[1].Op != layers.Insert {
		t.Fatalf("one moved: %+v, changes %v", st, ops(cs))
	}
	if cs[0].FeatureID != views[1] || !cs[0].Before.Contains(orb.Point{114.13005, 22.55005}) || !cs[1].After.Contains(orb.Point{114.15005, 22.55005}) {
		t.Fatalf("one moved: changes %+v", cs)
	}
	now := stored(t, s, "camera_views")
	if len(now) != 3 || !slices.Contains(now, views[0]) || !slices.Contains(now, views[2]) || slices.Contains(now, views[1]) {
		t.Fatalf("camera views %v after the move, were %v", now, views)
	}

	// Same geometry, other props: a different feature.
	relevel := slices.Clone(moved)
	relevel[0] = view(114.12, "identify")
	if st, cs = replace(t, s, notified, relevel...); st.Deleted != 1 || st.Inserted != 1 || len(cs) != 2 {
		t.Fatalf("props changed: %+v, changes %v", st, ops(cs))
	}

	// A mix across both layers: a view gone, a blind spot changed, one new.
	b := blind(114.13)
	b.Props["area_m2"] = 13.0
	mix := []layers.Feature{relevel[0], relevel[1], blind(114.12), b, blind(114.14)}
	st, cs = replace(t, s, notified, mix...)
	want := map[string]int{"camera_views delete": 1, "blind_spots delete": 1, "blind_spots insert": 2}
	if st.Kept != 3 || st.Deleted != 2 || st.Inserted != 2 || !maps.Equal(ops(cs), want) {
		t.Fatalf("mix: %+v, changes %v, want %v", st, ops(cs), want)
	}
	if count(t, s, "features_camera_views") != 2 || count(t, s, "features_blind_spots") != 3 || count(t, s, "features_gates") != 1 {
		t.Fatal("mix: wrong feature counts")
	}
	// A layer emptied.
	if st, cs = replace(t, s, notified, mix[2:]...); st.Deleted != 2 || st.Kept != 3 || !maps.Equal(ops(cs), map[string]int{"camera_views delete": 2}) {
		t.Fatalf("views emptied: %+v, changes %v", st, ops(cs))
	}
}

// TestReplaceLayersDuplicates: identical features are matched pairwise,
// so a duplicate more or less is one insert or one delete.
func TestReplaceLayersDuplicates(t *testing.T) {
	s, notified := newStore(t)
	a, b := view(114.12, "detect"), view(114.13, "detect")
	replace(t, s, notified, a, a, b)
	st, cs := replace(t, s, notified, a, a, b)
	if st.Kept != 3 || len(cs) != 0 {
		t.Fatalf("same duplicates: %+v, changes %v", st, ops(cs))
	}
	st, cs = replace(t, s, notified, a, b, b)
	if st.Kept != 2 || st.Deleted != 1 || st.Inserted != 1 || len(cs) != 2 {
		t.Fatalf("a duplicate traded: %+v, changes %v", st, ops(cs))
	}
	if !cs[0].Before.Contains(orb.Point{114.12005, 22.55005}) || !cs[1].After.Contains(orb.Point{114.13005, 22.55005}) {
		t.Fatalf("a duplicate traded: deleted %v, inserted %v", cs[0].Before, cs[1].After)
	}
	st, cs = replace(t, s, notified, a, b, b, b, b)
	if st.Kept != 3 || st.Inserted != 2 || st.Deleted != 0 || len(cs) != 2 {
		t.Fatalf("two more duplicates: %+v, changes %v", st, ops(cs))
	}
	st, cs = replace(t, s, notified, b)
	if st.Kept != 1 || st.Deleted != 4 || st.Inserted != 0 || len(cs) != 4 || count(t, s, "features_camera_views") != 1 {
		t.Fatalf("duplicates dropped: %+v, changes %v", st, ops(cs))
	}
}
