package baseline

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/hexward/hexward/layers"
	"github.com/hexward/hexward/tiles"
)

// The queries run against PostGIS in the store's tests; here their text
// and the checks made before any query.

func TestQuery(t *testing.T) {
	cat := layers.Governance()
	for _, tc := range []struct {
		layer string
		want  []string
		not   []string
	}{
		{"buildings", []string{
			`FROM "features_buildings"`,
			`ST_AsMVT(q, 'buildings', 4096, 'geom', 'id')`,
			`ST_AsMVTGeom(ST_Transform(geom, 3857), ST_TileEnvelope($1, $2, $3), 4096, 256, true)`,
			`WHERE geom && ST_Transform(ST_TileEnvelope($1, $2, $3, margin => 256.0 / 4096), 4326)`,
			`props->>'name' AS "name"`,
			`(props->>'floors')::numeric::bigint AS "floors"`,
			`(props->>'height')::float8 AS "height"`,
		}, []string{"entrance"}},
		{"gates", []string{`FROM "features_gates"`, `(props->>'booth')::boolean AS "booth"`}, nil},
	} {
		l, _ := cat.Layer(tc.layer)
		q := Query(l)
		for _, w := range tc.want {
			if !strings.Contains(q, w) {
				t.Errorf("%s: query lacks %s:\n%s", tc.layer, w, q)
			}
		}
		for _, n := range tc.not {
			if strings.Contains(q, n) {
				t.Errorf("%s: query has %s", tc.layer, n)
			}
		}
	}
}

func TestChecksBeforeQuerying(t *testing.T) {
	ctx := context.Background()
	if _, err := BaselineTile(ctx, nil, "features; drop table features", 14, 0, 0); !errors.Is(err, tiles.ErrUnknownLayer) {
		t.Errorf("unknown layer: %v", err)
	}
	if _, err := BaselineTile(ctx, nil, "buildings", 23, 0, 0); !errors.Is(err, tiles.ErrBadTile) {
		t.Errorf("bad tile: %v", err)
	}
	if _, err := BaselineComposite(ctx, nil, []string{"buildings", "nope"}, 3, 9, 0); !errors.Is(err, tiles.ErrBadTile) {
		t.Errorf("bad composite tile: %v", err)
	}
}
