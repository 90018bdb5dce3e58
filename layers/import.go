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
	Features int            // features written
	ByLayer  map[string]int // features per layer
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

// ReplaceLayers is Import that first deletes every feature of the named
// layers, in the same transaction: a derived layer (camera views, blind
// spots, grid cells …) is recomputed as a whole, and readers see the old
// set or the new one, never a mix. Each deleted feature is a delete in the
// change log.
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
		if len(replace) > 0 {
			rows, err := tx.Query(ctx, `WITH del AS (
				DELETE FROM features WHERE layer = ANY($1) RETURNING id, layer, geom)
				INSERT INTO changes (layer, feature_id, op, before_box)
				SELECT layer, id, 'delete', box2d(geom) FROM del
				RETURNING layer, feature_id, `+changeCols, replace)
			if err != nil {
				return fmt.Errorf("replacing layers: %w", err)
			}
			for rows.Next() {
				c := Change{Op: Delete}
				if err := scanChange(rows, &c, &c.Layer, &c.FeatureID); err != nil {
					rows.Close()
					return fmt.Errorf("replacing layers: %w", err)
				}
				changes = append(changes, c)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return fmt.Errorf("replacing layers: %w", err)
			}
		}
		if _, err := tx.Exec(ctx, `CREATE TEMP TABLE import_stage (
			ord int NOT NULL, layer text NOT NULL, wkb bytea NOT NULL, props jsonb NOT NULL, anchor bytea NOT NULL, h3 bigint) ON COMMIT DROP`); err != nil {
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
		rows, err := tx.Query(ctx, `WITH ins AS (
			INSERT INTO features (layer, geom, props, anchor, h3)
			SELECT layer, ST_GeomFromWKB(wkb, 4326), props, ST_GeomFromWKB(anchor, 4326), h3 FROM import_stage ORDER BY ord
			RETURNING id, layer, geom)
			INSERT INTO changes (layer, feature_id, op, after_box)
			SELECT layer, id, 'insert', box2d(geom) FROM ins
			RETURNING layer, feature_id, `+changeCols)
		if err != nil {
			return fmt.Errorf("import: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			c := Change{Op: Insert}
			if err := scanChange(rows, &c, &c.Layer, &c.FeatureID); err != nil {
				return fmt.Errorf("import: %w", err)
			}
			changes = append(changes, c)
		}
		if err := rows.Err(); err != nil {
			return err
		}
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
