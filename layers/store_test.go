package layers_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/paulmach/orb"

	"github.com/hexward/hexward/layers"
	"github.com/hexward/hexward/layers/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func square(x, y, d float64) orb.Polygon {
	return orb.Polygon{{{x, y}, {x + d, y}, {x + d, y + d}, {x, y + d}, {x, y}}}
}

func newStore(t *testing.T) (*layers.Store, *[]layers.Change) {
	t.Helper()
	s := layers.NewStore(pgtest.New(t), layers.Governance())
	var got []layers.Change
	s.Subscribe(func(cs []layers.Change) { got = append(got, cs...) })
	return s, &got
}

func count(t *testing.T, s *layers.Store, table string) int {
	t.Helper()
	var n int
	if err := s.Pool().QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestWritePathRoundTrip(t *testing.T) {
	ctx := context.Background()
	s, changes := newStore(t)
	b, err := s.Create(ctx, layers.Feature{Layer: "buildings", Geometry: square(114.12, 22.55, 0.0001),
		Props: map[string]any{"name": "湖贝村12栋", "floors": 7.0, "entrance": []any{114.12005, 22.55}, "use": "residential"}})
	if err != nil {
		t.Fatal(err)
	}
	if b.ID == 0 || b.Props["floors"] != int64(7) {
		t.Fatalf("created %+v", b)
	}
	got, err := s.Get(ctx, "buildings", b.ID)
	if err != nil || got.Props["name"] != "湖贝村12栋" {
		t.Fatalf("get: %v %+v", err, got)
	}
	if _, err := s.Patch(ctx, "buildings", b.ID, nil, map[string]any{"floors": 8, "use": nil}); err != nil {
		t.Fatal(err)
	}
	got, _ = s.Get(ctx, "buildings", b.ID)
	if got.Props["floors"] != 8.0 || got.Props["use"] != nil || got.Props["name"] != "湖贝村12栋" {
		t.Fatalf("after patch %+v", got.Props)
	}
	moved := b
	moved.Geometry = square(114.13, 22.56, 0.0001)
	moved.Props = map[string]any{"name": "moved"}
	if _, err := s.Replace(ctx, moved); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "buildings", b.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "buildings", b.ID); !errors.Is(err, layers.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	ops := []layers.Op{}
	for _, c := range *changes {
		ops = append(ops, c.Op)
	}
	if len(ops) != 4 || ops[0] != layers.Insert || ops[3] != layers.Delete {
		t.Fatalf("changes %v", ops)
	}
	rep := (*changes)[2]
	if !rep.Before.Contains(orb.Point{114.12005, 22.55005}) || !rep.After.Contains(orb.Point{114.13005, 22.56005}) {
		t.Fatalf("replace bounds before %v after %v", rep.Before, rep.After)
	}
	if n := count(t, s, "changes"); n != 4 {
		t.Fatalf("change log has %d rows", n)
	}
}

func TestBadWritesChangeNothing(t *testing.T) {
	ctx := context.Background()
	s, changes := newStore(t)
	bowtie := orb.Polygon{{{114.12, 22.55}, {114.121, 22.551}, {114.121, 22.55}, {114.12, 22.551}, {114.12, 22.55}}}
	cases := []struct {
		name string
		f    layers.Feature
		want string
	}{
		{"unknown layer", layers.Feature{Layer: "nope", Geometry: orb.Point{1, 1}}, `unknown layer "nope"`},
		{"wrong kind", layers.Feature{Layer: "buildings", Geometry: orb.Point{114.1, 22.5}}, "Point given"},
		{"self-intersecting", layers.Feature{Layer: "buildings", Geometry: bowtie}, "invalid: Self-intersection"},
		{"out of range", layers.Feature{Layer: "cameras", Geometry: orb.Point{214.1, 22.5}}, "longitude 214.1 outside"},
		{"open ring", layers.Feature{Layer: "buildings", Geometry: orb.Polygon{{{1, 1}, {2, 1}, {2, 2}, {1, 2}}}}, "not closed"},
		{"wrong type", layers.Feature{Layer: "buildings", Geometry: square(114.1, 22.5, 0.001), Props: map[string]any{"floors": "seven"}}, "floors: want an integer"},
		{"fractional int", layers.Feature{Layer: "buildings", Geometry: square(114.1, 22.5, 0.001), Props: map[string]any{"floors": 6.5}}, "want an integer"},
		{"enum", layers.Feature{Layer: "fences", Geometry: orb.LineString{{114.1, 22.5}, {114.2, 22.5}}, Props: map[string]any{"kind": "moat"}}, `"moat" is not one of`},
		{"required", layers.Feature{Layer: "fences", Geometry: orb.LineString{{114.1, 22.5}, {114.2, 22.5}}}, "kind: required"},
		{"unknown prop", layers.Feature{Layer: "gates", Geometry: orb.Point{114.1, 22.5}, Props: map[string]any{"colour": "red"}}, "colour: not a property"},
		{"range", layers.Feature{Layer: "cameras", Geometry: orb.Point{114.1, 22.5}, Props: map[string]any{"bearing": 400.0}}, "above the maximum"},
		{"degenerate line", layers.Feature{Layer: "streets", Geometry: orb.LineString{{114.1, 22.5}, {114.1, 22.5}}}, "2 distinct points"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := s.Create(ctx, c.f)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want error containing %q", err, c.want)
			}
		})
	}
	if n := count(t, s, "features"); n != 0 {
		t.Fatalf("%d features stored", n)
	}
	if n := count(t, s, "changes"); n != 0 || len(*changes) != 0 {
		t.Fatalf("%d change rows, %d published", n, len(*changes))
	}
}

func TestImportAllOrNothing(t *testing.T) {
	ctx := context.Background()
	s, changes := newStore(t)
	gen := func(n, bad int) func() (layers.Feature, bool, error) {
		i := 0
		return func() (layers.Feature, bool, error) {
			if i == n {
				return layers.Feature{}, false, nil
			}
			g := square(114.1+float64(i%100)*0.0002, 22.5+float64(i/100)*0.0002, 0.0001)
			if i == bad {
				g = orb.Polygon{{{114.12, 22.55}, {114.121, 22.551}, {114.121, 22.55}, {114.12, 22.551}, {114.12, 22.55}}}
			}
			i++
			return layers.Feature{Layer: "buildings", Geometry: g, Props: map[string]any{"floors": 6}}, true, nil
		}
	}
	_, err := s.Import(ctx, gen(12000, 11000), nil)
	var ve *layers.ValidationError
	if !errors.As(err, &ve) || ve.Index != 11000 {
		t.Fatalf("want validation error at feature 11000, got %v", err)
	}
	if n := count(t, s, "features"); n != 0 {
		t.Fatalf("bad import left %d features", n)
	}
	st, err := s.Import(ctx, gen(12000, -1), nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.Features != 12000 || count(t, s, "features") != 12000 || len(*changes) != 12000 {
		t.Fatalf("imported %+v, published %d", st, len(*changes))
	}
	items, err := s.Items(ctx, layers.Query{Layer: "buildings", Limit: 10, After: (*changes)[5].FeatureID,
		BBox: &orb.Bound{Min: orb.Point{114.1, 22.5}, Max: orb.Point{114.1005, 22.5005}}})
	if err != nil {
		t.Fatal(err)
	}
	// 3×3 squares touch the box; the cursor skips the first row (ids 0–5).
	if len(items) != 6 || items[0].ID <= (*changes)[5].FeatureID {
		t.Fatalf("items %d", len(items))
	}
}

func TestItemsFilter(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	for i, use := range []string{"residential", "commercial", "residential"} {
		if _, err := s.Create(ctx, layers.Feature{Layer: "buildings", Geometry: square(114.1+float64(i)*0.001, 22.5, 0.0001),
			Props: map[string]any{"use": use, "floors": i + 5}}); err != nil {
			t.Fatal(err)
		}
	}
	l, _ := layers.Governance().Layer("buildings")
	use, _ := layers.ParseFilter(l, "use", "residential")
	floors, _ := layers.ParseFilter(l, "floors", "7")
	for _, c := range []struct {
		f    map[string]any
		want int
	}{{map[string]any{"use": use}, 2}, {map[string]any{"use": use, "floors": floors}, 1}, {nil, 3}} {
		items, err := s.Items(ctx, layers.Query{Layer: "buildings", Filters: c.f, Limit: 100})
		if err != nil || len(items) != c.want {
			t.Fatalf("filter %v: %d items, %v", c.f, len(items), err)
		}
	}
	if _, err := layers.ParseFilter(l, "floors", "many"); err == nil {
		t.Fatal("want error for non-integer filter")
	}
	if _, err := layers.ParseFilter(l, "colour", "red"); err == nil {
		t.Fatal("want error for unknown property")
	}
}

// TestReplaceLayers swaps a derived layer whole: its old features are
// deleted (and logged as deletes), other layers are untouched, and a bad
// new feature leaves the old set in place.
func TestReplaceLayers(t *testing.T) {
	ctx := context.Background()
	s, changes := newStore(t)
	view := func(x float64) layers.Feature {
		return layers.Feature{Layer: "camera_views", Geometry: square(x, 22.55, 0.0001), Props: map[string]any{"level": "detect"}}
	}
	if _, err := s.Import(ctx, layers.FromSlice([]layers.Feature{view(114.12), view(114.13),
		{Layer: "gates", Geometry: orb.Point{114.12, 22.55}, Props: map[string]any{"name": "东门"}}}), nil); err != nil {
		t.Fatal(err)
	}
	*changes = nil
	st, err := s.ReplaceLayers(ctx, []string{"camera_views"}, layers.FromSlice([]layers.Feature{view(114.14)}), nil)
	if err != nil || st.Features != 1 {
		t.Fatalf("replace: %v %+v", err, st)
	}
	if n := count(t, s, "features_camera_views"); n != 1 {
		t.Fatalf("%d camera views after the swap, want 1", n)
	}
	if n := count(t, s, "features_gates"); n != 1 {
		t.Fatalf("the gate went: %d", n)
	}
	var ops []layers.Op
	for _, c := range *changes {
		ops = append(ops, c.Op)
	}
	if strings.Join([]string{string(ops[0]), string(ops[1]), string(ops[2])}, ",") != "delete,delete,insert" || len(ops) != 3 {
		t.Fatalf("changes %v", ops)
	}
	bad := view(114.15)
	bad.Props["level"] = "glimpse"
	if _, err := s.ReplaceLayers(ctx, []string{"camera_views"}, layers.FromSlice([]layers.Feature{view(114.16), bad}), nil); err == nil {
		t.Fatal("a bad feature was accepted")
	}
	if n := count(t, s, "features_camera_views"); n != 1 {
		t.Fatalf("a failed swap left %d camera views, want the old 1", n)
	}
	if _, err := s.ReplaceLayers(ctx, []string{"nope"}, layers.FromSlice(nil), nil); err == nil {
		t.Fatal("an unknown layer was accepted")
	}
	scoped := layers.WithActor(ctx, layers.Actor{User: "c", Scope: "LH-01"})
	if _, err := s.ReplaceLayers(scoped, []string{"camera_views"}, layers.FromSlice(nil), nil); !errors.Is(err, layers.ErrOutOfScope) {
		t.Fatalf("a scoped actor replaced a layer: %v", err)
	}
}
