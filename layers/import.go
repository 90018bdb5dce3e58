package layers

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// FromSlice yields the features of fs, for Import.
func FromSlice(fs []Feature) func() (Feature, bool, error) {
	i := 0
	return func() (Feature, bool, error) {
		if i == len(fs) {
			return Feature{}, false, nil
		}
		i++
		return fs[i-1], true, nil
	}
}

// ImportStats says what an import wrote.
type ImportStats struct {
	Features int            // features in the stream: inserted, or kept as stored by ReplaceLayers
	ByLayer  map[string]int // features per layer
	Inserted int            // features inserted
	Kept     int            // features of the stream already stored identically, left as they were (ReplaceLayers)
	Deleted  int            // stored features no longer in the stream, deleted (ReplaceLayers)
}

// Import writes every feature that next yields in one transaction: each is
// validated like a single write, staged with COPY in batches, checked by
// PostGIS, then inserted with its change-log row. The first bad feature
// (named by its index in the stream) aborts the whole import, so a bad file
// imports nothing. next returns ok=false at the end of the stream; progress,
// when not nil, is told the number of features read so far.
func (s *Store) Import(ctx context.Context, next func() (Feature, bool, error), progress func(n int)) (ImportStats, error) {
	return s.importTx(ctx, nil, next, progress)
}

// ReplaceLayers is Import that makes the named layers hold exactly the
// features of the stream, in one transaction: a derived layer (camera
// views, blind spots, grid cells …) is recomputed as a whole, and readers
// see the old set or the new one, never a mix. Only the difference is
// written: a stored feature identical to one of the stream (same layer,
// geometry and props) is kept as it is, with its id and no change-log row;
// every other stored feature of the layers is deleted and every other
// feature of the stream inserted, each with its change. Identical features
// are matched pairwise, so duplicates count. Replaces of the same database
// run one at a time.
func (s *Store) ReplaceLayers(ctx context.Context, names []string, next func() (Feature, bool, error), progress func(n int)) (ImportStats, error) {
	if a, _ := ActorFrom(ctx); a.Scope != "" {
		return ImportStats{}, ErrOutOfScope // a whole layer reaches beyond any area scope
	}
	for _, n := range names {
		if _, ok := s.cat.Layer(n); !ok {
			return ImportStats{}, &UnknownLayerError{n}
		}
	}
	return s.importTx(ctx, names, next, progress)
}

func (s *Store) importTx(ctx context.Context, replace []string, next func() (Feature, bool, error), progress func(n int)) (ImportStats, error) {
	st := ImportStats{ByLayer: map[string]int{}}
	var changes []Change
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// keep: the id of the stored feature identical to this one, which
		// ReplaceLayers leaves in place instead of inserting this.
		if _, err := tx.Exec(ctx, `CREATE TEMP TABLE import_stage (
			ord int NOT NULL, layer text NOT NULL, wkb bytea NOT NULL, props jsonb NOT NULL, anchor bytea NOT NULL, h3 bigint,
			keep bigint) ON COMMIT DROP`); err != nil {
			return fmt.Errorf("import: %w", err)
		}
		batch := make([][]any, 0, s.importBat)
		flush := func() error {
			if len(batch) == 0 {
				return nil
			}
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{"import_stage"}, []string{"ord", "layer", "wkb", "props", "anchor", "h3"}, pgx.CopyFromRows(batch)); err != nil {
				return fmt.Errorf("import: staging: %w", err)
			}
			batch = batch[:0]
			return nil
		}
		for i := 0; ; i++ {
			f, ok, err := next()
			if err != nil {
				return err
			}
			if !ok {
				break
			}
			p, err := s.prepare(&f, i)
			if err != nil {
				return err
			}
			batch = append(batch, []any{i, f.Layer, p.wkb, p.props, p.anchor, p.h3})
			st.Features++
			st.ByLayer[f.Layer]++
			if len(batch) == cap(batch) {
				if err := flush(); err != nil {
					return err
				}
				if progress != nil {
					progress(st.Features)
				}
			}
		}
		if err := flush(); err != nil {
			return err
		}
		if progress != nil {
			progress(st.Features)
		}
		var (
			bad          *int
			layer, cause string
		)
		err := tx.QueryRow(ctx, `SELECT ord, layer, ST_IsValidReason(g) FROM import_stage, ST_GeomFromWKB(wkb, 4326) AS g
			WHERE NOT ST_IsValid(g) ORDER BY ord LIMIT 1`).Scan(&bad, &layer, &cause)
		if err == nil {
			return &ValidationError{Layer: layer, Index: *bad, Field: "geometry", Problem: "invalid: " + cause}
		} else if err != pgx.ErrNoRows {
			return fmt.Errorf("import: checking geometry: %w", err)
		}
		if a, _ := ActorFrom(ctx); a.Scope != "" {
			var out *int
			err := tx.QueryRow(ctx, `SELECT min(ord) FROM import_stage
				WHERE NOT COALESCE(ST_Intersects(ST_GeomFromWKB(anchor, 4326), `+scopeAreaSQL(1)+`), false)`, a.Scope).Scan(&out)
			if err != nil {
				return fmt.Errorf("import: checking scope: %w", err)
			}
			if out != nil {
				return &ValidationError{Index: *out, Field: "geometry", Problem: ErrOutOfScope.Error()}
			}
		}
		if len(replace) > 0 {
			var err error
			if st.Kept, st.Deleted, err = diffStaged(ctx, tx, replace, &changes); err != nil {
				return fmt.Errorf("replacing layers: %w", err)
			}
		}
		n, err := logChanges(ctx, tx, Insert, &changes, `WITH ins AS (
			INSERT INTO features (layer, geom, props, anchor, h3)
			SELECT layer, ST_GeomFromWKB(wkb, 4326), props, ST_GeomFromWKB(anchor, 4326), h3 FROM import_stage
			WHERE keep IS NULL ORDER BY ord
			RETURNING id, layer, geom)
			INSERT INTO changes (layer, feature_id, op, after_box)
			SELECT layer, id, 'insert', box2d(geom) FROM ins
			RETURNING layer, feature_id, `+changeCols)
		if err != nil {
			return fmt.Errorf("import: %w", err)
		}
		st.Inserted = n
		if s.audit != nil {
			summary, _ := json.Marshal(st)
			return s.audit(ctx, tx, Insert, "import", 0, nil, summary)
		}
		return nil
	})
	if err != nil {
		return ImportStats{}, err
	}
	s.publish(changes)
	return st, nil
}

// replaceLock is the transaction-level advisory lock that makes replaces
// run one at a time: two nodes recomputing the same layers at once would
// otherwise both diff against the old set and both insert the new features.
const replaceLock = 0x4865787761726401 // "Hexward\1"

// diffStaged matches the staged features against the stored features of
// the named layers by content (layer, geometry as EWKB, props), pairwise so that
// duplicates count: each staged feature with a stored twin gets the twin's
// id in keep, and the stored features without a staged twin are deleted
// and logged in cs. It returns how many were kept and deleted.
func diffStaged(ctx context.Context, tx pgx.Tx, names []string, cs *[]Change) (kept, deleted int, err error) {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(replaceLock)); err != nil {
		return 0, 0, err
	}
	tag, err := tx.Exec(ctx, `UPDATE import_stage s SET keep = m.id FROM (
		SELECT o.id, n.ord FROM (
			SELECT id, layer, g, props, row_number() OVER (PARTITION BY layer, g, props ORDER BY id) AS k
			FROM (SELECT id, layer, ST_AsEWKB(geom) AS g, props FROM features WHERE layer = ANY($1)) AS f) AS o
		JOIN (
			SELECT ord, layer, g, props, row_number() OVER (PARTITION BY layer, g, props ORDER BY ord) AS k
			FROM (SELECT ord, layer, ST_AsEWKB(ST_GeomFromWKB(wkb, 4326)) AS g, props FROM import_stage) AS i) AS n
		USING (layer, g, props, k)) AS m
		WHERE s.ord = m.ord`, names)
	if err != nil {
		return 0, 0, err
	}
	deleted, err = logChanges(ctx, tx, Delete, cs, `WITH del AS (
		DELETE FROM features f WHERE layer = ANY($1)
			AND NOT EXISTS (SELECT 1 FROM import_stage s WHERE s.keep = f.id)
		RETURNING id, layer, geom)
		INSERT INTO changes (layer, feature_id, op, before_box)
		SELECT layer, id, 'delete', box2d(geom) FROM del
		RETURNING layer, feature_id, `+changeCols, names)
	return int(tag.RowsAffected()), deleted, err
}

// logChanges runs sql, a write that returns the change-log rows it added
// (layer, feature_id, then changeCols), appends them to cs as op and
// returns how many there were.
func logChanges(ctx context.Context, tx pgx.Tx, op Op, cs *[]Change, sql string, args ...any) (int, error) {
	rows, err := tx.Query(ctx, sql, args...)
	if err != nil {
		return 0, err
	}
	got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Change, error) {
		c := Change{Op: op}
		err := scanChange(r, &c, &c.Layer, &c.FeatureID)
		return c, err
	})
	*cs = append(*cs, got...)
	return len(got), err
}
