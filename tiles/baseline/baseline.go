// Package baseline renders vector tiles the way a plain PostGIS tile server
// (pg_tileserv, Martin) does: one ST_AsMVT query per layer per request,
// over the raw EPSG:4326 geometry. It exists to be measured against the
// tiles engine (hexward bench tiles), not to be served.
//
// The table a query reads is features_<layer> for a layer of the
// catalogue, never a name from the request; properties are read from the
// jsonb props column, one output column per scalar property of the schema.
//
// For a fair comparison run it on connections with jit = off and
// max_parallel_workers_per_gather = 0, as the design says for tile queries.
package baseline

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hexward/hexward/layers"
	"github.com/hexward/hexward/tiles"
)

// Extent and Buffer of the baseline tiles, as pg_tileserv's defaults.
const (
	Extent = 4096
	Buffer = 256
)

// Baseline renders tiles of the layers of a catalogue with ST_AsMVT.
type Baseline struct {
	Pool *pgxpool.Pool
	Cat  *layers.Catalogue

	once    sync.Once
	queries map[string]string
}

// Query returns the SQL of one layer's tile: parameters $1, $2, $3 are z,
// x and y.
func Query(l *layers.Layer) string {
	var cols strings.Builder
	for _, p := range l.Props {
		key := "'" + p.Name + "'" // identifiers are [a-z][a-z0-9_]*: no quoting needed inside a literal
		col := pgx.Identifier{p.Name}.Sanitize()
		switch p.Type {
		case layers.String, layers.DateTime:
			fmt.Fprintf(&cols, ", props->>%s AS %s", key, col)
		case layers.Integer:
			fmt.Fprintf(&cols, ", (props->>%s)::numeric::bigint AS %s", key, col)
		case layers.Number:
			fmt.Fprintf(&cols, ", (props->>%s)::float8 AS %s", key, col)
		case layers.Boolean:
			fmt.Fprintf(&cols, ", (props->>%s)::boolean AS %s", key, col)
		}
	}
	table := pgx.Identifier{"features_" + l.Name}.Sanitize()
	return fmt.Sprintf(`SELECT ST_AsMVT(q, %s, %d, 'geom', 'id') FROM (
  SELECT id,
         ST_AsMVTGeom(ST_Transform(geom, 3857), ST_TileEnvelope($1, $2, $3), %d, %d, true) AS geom%s
  FROM %s
  WHERE geom && ST_Transform(ST_TileEnvelope($1, $2, $3, margin => %d.0 / %d), 4326)
) q WHERE q.geom IS NOT NULL`,
		"'"+l.Name+"'", Extent, Extent, Buffer, cols.String(), table, Buffer, Extent)
}

func (b *Baseline) query(layer string) (string, error) {
	b.once.Do(func() {
		b.queries = map[string]string{}
		for _, l := range b.Cat.Layers() {
			b.queries[l.Name] = Query(l)
		}
	})
	q, ok := b.queries[layer]
	if !ok {
		return "", fmt.Errorf("%w %q", tiles.ErrUnknownLayer, layer)
	}
	return q, nil
}

// Tile returns one layer's tile, as one query.
func (b *Baseline) Tile(ctx context.Context, layer string, z, x, y uint32) ([]byte, error) {
	if z > tiles.MaxZoom || uint64(x) >= 1<<z || uint64(y) >= 1<<z {
		return nil, fmt.Errorf("%w: %d/%d/%d", tiles.ErrBadTile, z, x, y)
	}
	q, err := b.query(layer)
	if err != nil {
		return nil, err
	}
	var data []byte
	if err := b.Pool.QueryRow(ctx, q, int32(z), int32(x), int32(y)).Scan(&data); err != nil {
		return nil, fmt.Errorf("baseline tile %s %d/%d/%d: %w", layer, z, x, y, err)
	}
	return data, nil
}

// Composite returns a tile of several layers as Martin serves one: a
// query per layer, the layers' tiles concatenated (a valid tile, since a
// tile is a repeated field of layers).
func (b *Baseline) Composite(ctx context.Context, layerNames []string, z, x, y uint32) ([]byte, error) {
	var out []byte
	for _, name := range layerNames {
		data, err := b.Tile(ctx, name, z, x, y)
		if err != nil {
			return nil, err
		}
		out = append(out, data...)
	}
	return out, nil
}

// byPool holds the Baseline of the governance catalogue per pool.
var byPool sync.Map // *pgxpool.Pool → *Baseline

func defaultBaseline(pool *pgxpool.Pool) *Baseline {
	if b, ok := byPool.Load(pool); ok {
		return b.(*Baseline)
	}
	b, _ := byPool.LoadOrStore(pool, &Baseline{Pool: pool, Cat: layers.Governance()})
	return b.(*Baseline)
}

// BaselineTile renders one layer of the governance catalogue
// (layers.Governance) with the plain per-request ST_AsMVT query. For
// another catalogue use a Baseline.
func BaselineTile(ctx context.Context, pool *pgxpool.Pool, layer string, z, x, y uint32) ([]byte, error) {
	return defaultBaseline(pool).Tile(ctx, layer, z, x, y)
}

// BaselineComposite renders a composite tile of governance layers, one
// query per layer.
func BaselineComposite(ctx context.Context, pool *pgxpool.Pool, layerNames []string, z, x, y uint32) ([]byte, error) {
	return defaultBaseline(pool).Composite(ctx, layerNames, z, x, y)
}
