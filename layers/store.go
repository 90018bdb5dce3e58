package layers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/wkb"

	"github.com/hexward/hexward/grid"
)

// ErrNotFound is returned for a feature id that the layer does not hold.
var ErrNotFound = errors.New("feature not found")

// Store is the PostGIS store of features and the one write path: every
// create, replace, update, delete and import goes through Validate and one
// transaction that writes the features and appends to the change log; after
// commit the changes are handed to the subscribers.
type Store struct {
	pool      *pgxpool.Pool
	cat       *Catalogue
	h3res     int
	audit     AuditFunc    // records writes in their transaction; nil: no audit
	mu        sync.RWMutex // guards subs, relay
	subs      []func([]Change)
	relay     func([]Change) // sends this node's commits to the other nodes; nil: one node
	importBat int            // features staged per COPY batch
}

// NewStore returns a store over pool for the layers of cat.
func NewStore(pool *pgxpool.Pool, cat *Catalogue) *Store {
	return &Store{pool: pool, cat: cat, h3res: grid.DefaultResolution, importBat: 5000}
}

// Catalogue returns the store's layer catalogue.
func (s *Store) Catalogue() *Catalogue { return s.cat }

// Pool returns the store's connection pool.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Subscribe registers fn to receive every committed batch of changes, in
// commit order per writer: this node's, and other nodes' that the relay
// brings in through Receive. fn must not block for long.
func (s *Store) Subscribe(fn func([]Change)) {
	s.mu.Lock()
	s.subs = append(s.subs, fn)
	s.mu.Unlock()
}

// SetRelay registers fn to receive this node's committed batches only (not
// those that came in through Receive), to pass them on to the other nodes
// sharing the database (package bus). fn must not block for long.
func (s *Store) SetRelay(fn func([]Change)) {
	s.mu.Lock()
	s.relay = fn
	s.mu.Unlock()
}

// Receive hands a batch committed by another node to the subscribers, as
// if it had been written here. The relay does not see it again.
func (s *Store) Receive(cs []Change) { s.deliver(cs) }

func (s *Store) publish(cs []Change) {
	if len(cs) == 0 {
		return
	}
	// This node's subscribers first: whatever one of them records of a
	// change (the live benchmark its commit time) is in place before
	// another node can hear of it.
	s.deliver(cs)
	s.mu.RLock()
	relay := s.relay
	s.mu.RUnlock()
	if relay != nil {
		relay(cs)
	}
}

func (s *Store) deliver(cs []Change) {
	if len(cs) == 0 {
		return
	}
	s.mu.RLock()
	subs := s.subs
	s.mu.RUnlock()
	for _, fn := range subs {
		fn(cs)
	}
}

// prepared is a validated feature ready for SQL.
type prepared struct {
	wkb    []byte
	props  []byte
	anchor []byte // WKB point
	h3     int64
	bound  orb.Bound
}

func (s *Store) prepare(f *Feature, index int) (prepared, error) {
	if err := s.cat.Validate(f, index); err != nil {
		return prepared{}, err
	}
	g, err := wkb.Marshal(f.Geometry)
	if err != nil {
		return prepared{}, &ValidationError{Layer: f.Layer, Index: index, ID: f.ID, Field: "geometry", Problem: err.Error()}
	}
	props, err := json.Marshal(f.Props)
	if err != nil {
		return prepared{}, err
	}
	a, ok := grid.Anchor(f.Geometry)
	if !ok {
		return prepared{}, &ValidationError{Layer: f.Layer, Index: index, ID: f.ID, Field: "geometry", Problem: "empty"}
	}
	anchor, _ := wkb.Marshal(a)
	cell, err := grid.CellOf(a, s.h3res)
	if err != nil {
		return prepared{}, &ValidationError{Layer: f.Layer, Index: index, ID: f.ID, Field: "geometry", Problem: err.Error()}
	}
	return prepared{wkb: g, props: props, anchor: anchor, h3: int64(cell), bound: f.Geometry.Bound()}, nil
}

// checkValid asks PostGIS whether the geometry is valid (rings that do not
// self-intersect, holes inside shells …) and names the problem if not.
func checkValid(ctx context.Context, q querier, f *Feature, index int, g []byte) error {
	var reason *string
	err := q.QueryRow(ctx, `SELECT CASE WHEN ST_IsValid(g) THEN NULL ELSE ST_IsValidReason(g) END
		FROM ST_GeomFromWKB($1, 4326) AS g`, g).Scan(&reason)
	if err != nil {
		return fmt.Errorf("checking geometry: %w", err)
	}
	if reason != nil {
		return &ValidationError{Layer: f.Layer, Index: index, ID: f.ID, Field: "geometry", Problem: "invalid: " + *reason}
	}
	return nil
}

type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

const changeCols = `seq, at, ST_XMin(before_box), ST_YMin(before_box), ST_XMax(before_box), ST_YMax(before_box),
	ST_XMin(after_box), ST_YMin(after_box), ST_XMax(after_box), ST_YMax(after_box)`

// scanChange scans the changeCols of a change-log row into c, after the
// columns that lead selects before them.
func scanChange(row pgx.Row, c *Change, lead ...any) error {
	var b, a [4]*float64
	dest := append(lead, &c.Seq, &c.At, &b[0], &b[1], &b[2], &b[3], &a[0], &a[1], &a[2], &a[3])
	if err := row.Scan(dest...); err != nil {
		return err
	}
	c.Before, c.After = toBound(b), toBound(a)
	return nil
}

func toBound(v [4]*float64) orb.Bound {
	if v[0] == nil {
		return orb.Bound{}
	}
	return orb.Bound{Min: orb.Point{*v[0], *v[1]}, Max: orb.Point{*v[2], *v[3]}}
}

// Create stores a new feature and returns it with its id.
func (s *Store) Create(ctx context.Context, f Feature) (Feature, error) {
	f.ID = 0
	return s.write(ctx, f, Insert)
}

// Replace replaces the geometry and all properties of an existing feature.
func (s *Store) Replace(ctx context.Context, f Feature) (Feature, error) {
	return s.write(ctx, f, Update)
}

// Patch changes some properties (a nil value removes one) and, when geom is
// not nil, the geometry of an existing feature.
func (s *Store) Patch(ctx context.Context, layer string, id int64, geom orb.Geometry, props map[string]any) (Feature, error) {
	cur, err := s.Get(ctx, layer, id)
	if err != nil {
		return Feature{}, err
	}
	if geom != nil {
		cur.Geometry = geom
	}
	for k, v := range props {
		if v == nil {
			delete(cur.Props, k)
		} else {
			cur.Props[k] = v
		}
	}
	return s.write(ctx, cur, Update)
}

func (s *Store) write(ctx context.Context, f Feature, op Op) (Feature, error) {
	p, err := s.prepare(&f, -1)
	if err != nil {
		return Feature{}, err
	}
	var ch Change
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := checkValid(ctx, tx, &f, -1, p.wkb); err != nil {
			return err
		}
		var before json.RawMessage
		if op == Update {
			var err error
			if before, err = s.beforeWrite(ctx, tx, f.Layer, f.ID); err != nil {
				return err
			}
		}
		var row pgx.Row
		if op == Insert {
			row = tx.QueryRow(ctx, `WITH ins AS (
				INSERT INTO features (layer, geom, props, anchor, h3)
				VALUES ($1, ST_GeomFromWKB($2, 4326), $3, ST_GeomFromWKB($4, 4326), $5)
				RETURNING id, layer, geom)
				INSERT INTO changes (layer, feature_id, op, after_box)
				SELECT layer, id, 'insert', box2d(geom) FROM ins
				RETURNING feature_id, `+changeCols, f.Layer, p.wkb, p.props, p.anchor, p.h3)
		} else {
			row = tx.QueryRow(ctx, `WITH old AS (
				SELECT id, box2d(geom) AS b FROM features WHERE layer = $1 AND id = $2 FOR UPDATE),
				upd AS (
				UPDATE features f SET geom = ST_GeomFromWKB($3, 4326), props = $4,
					anchor = ST_GeomFromWKB($5, 4326), h3 = $6, updated = now()
				FROM old WHERE f.layer = $1 AND f.id = old.id RETURNING f.id, box2d(f.geom) AS b)
				INSERT INTO changes (layer, feature_id, op, before_box, after_box)
				SELECT $1, upd.id, 'update', old.b, upd.b FROM upd, old
				RETURNING feature_id, `+changeCols, f.Layer, f.ID, p.wkb, p.props, p.anchor, p.h3)
		}
		var id int64
		if err := scanChange(row, &ch, &id); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return ErrNotFound
			}
			return dbError(&f, -1, err)
		}
		f.ID, ch.FeatureID, ch.Layer, ch.Op = id, id, f.Layer, op
		f.Updated = ch.At
		return s.afterWrite(ctx, tx, op, &f, before)
	})
	if err != nil {
		return Feature{}, err
	}
	s.publish([]Change{ch})
	return f, nil
}

// Delete removes a feature.
func (s *Store) Delete(ctx context.Context, layer string, id int64) error {
	if _, ok := s.cat.Layer(layer); !ok {
		return &UnknownLayerError{layer}
	}
	ch := Change{Layer: layer, FeatureID: id, Op: Delete}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		before, err := s.beforeWrite(ctx, tx, layer, id)
		if err != nil {
			return err
		}
		row := tx.QueryRow(ctx, `WITH del AS (
			DELETE FROM features WHERE layer = $1 AND id = $2 RETURNING id, box2d(geom) AS b)
			INSERT INTO changes (layer, feature_id, op, before_box)
			SELECT $1, id, 'delete', b FROM del
			RETURNING `+changeCols, layer, id)
		if err := scanChange(row, &ch); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return ErrNotFound
			}
			return err
		}
		return s.afterWrite(ctx, tx, Delete, &Feature{Layer: layer, ID: id}, before)
	})
	if err != nil {
		return err
	}
	s.publish([]Change{ch})
	return nil
}

// dbError turns a constraint violation into a ValidationError naming the
// feature; other errors are wrapped as they are.
func dbError(f *Feature, index int, err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && (pe.Code == "23514" || pe.Code == "22023" || pe.Code == "XX000") {
		return &ValidationError{Layer: f.Layer, Index: index, ID: f.ID, Field: "geometry", Problem: pe.Message}
	}
	return fmt.Errorf("writing feature: %w", err)
}

// Get returns one feature.
func (s *Store) Get(ctx context.Context, layer string, id int64) (Feature, error) {
	fs, err := s.Features(ctx, layer, []int64{id})
	if err != nil {
		return Feature{}, err
	}
	if len(fs) == 0 {
		return Feature{}, ErrNotFound
	}
	return fs[0], nil
}

// Features returns the features of layer with the given ids that exist, in
// id order.
func (s *Store) Features(ctx context.Context, layer string, ids []int64) ([]Feature, error) {
	if _, ok := s.cat.Layer(layer); !ok {
		return nil, &UnknownLayerError{layer}
	}
	rows, err := s.pool.Query(ctx, `SELECT id, ST_AsBinary(geom), props, updated FROM features
		WHERE layer = $1 AND id = ANY($2) ORDER BY id`, layer, ids)
	if err != nil {
		return nil, err
	}
	return collect(rows, layer)
}

// ScanLayer calls fn for every feature of a layer, in id order, streaming.
func (s *Store) ScanLayer(ctx context.Context, layer string, fn func(Feature) error) error {
	if _, ok := s.cat.Layer(layer); !ok {
		return &UnknownLayerError{layer}
	}
	rows, err := s.pool.Query(ctx, `SELECT id, ST_AsBinary(geom), props, updated FROM features
		WHERE layer = $1 ORDER BY id`, layer)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		f, err := scanFeature(rows, layer)
		if err != nil {
			return err
		}
		if err := fn(f); err != nil {
			return err
		}
	}
	return rows.Err()
}

func collect(rows pgx.Rows, layer string) ([]Feature, error) {
	defer rows.Close()
	var out []Feature
	for rows.Next() {
		f, err := scanFeature(rows, layer)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

func scanFeature(rows pgx.Rows, layer string) (Feature, error) {
	var (
		f     = Feature{Layer: layer}
		g     []byte
		props []byte
	)
	if err := rows.Scan(&f.ID, &g, &props, &f.Updated); err != nil {
		return f, err
	}
	geom, err := wkb.Unmarshal(g)
	if err != nil {
		return f, fmt.Errorf("feature %d: %w", f.ID, err)
	}
	f.Geometry = geom
	if err := json.Unmarshal(props, &f.Props); err != nil {
		return f, fmt.Errorf("feature %d: %w", f.ID, err)
	}
	return f, nil
}

// Count returns the number of features in a layer.
func (s *Store) Count(ctx context.Context, layer string) (int64, error) {
	var n int64
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM features WHERE layer = $1`, layer).Scan(&n)
	return n, err
}

// Extent returns the bounds of every feature (EPSG:4326), zero when empty.
func (s *Store) Extent(ctx context.Context) (orb.Bound, error) {
	var v [4]*float64
	err := s.pool.QueryRow(ctx, `SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)
		FROM (SELECT ST_Extent(geom) AS e FROM features) x`).Scan(&v[0], &v[1], &v[2], &v[3])
	return toBound(v), err
}
