package layers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/wkb"
	"github.com/paulmach/orb/geojson"
)

// Actor is who a write is done for: the store checks the actor's area
// scope and hands the actor to the audit hook. It travels in the context.
type Actor struct {
	User  string
	Role  string
	Scope string // area code; empty means everywhere
	IP    string
}

type actorKey struct{}

// WithActor returns ctx carrying a.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorFrom returns the actor in ctx, if any.
func ActorFrom(ctx context.Context) (Actor, bool) {
	a, ok := ctx.Value(actorKey{}).(Actor)
	return a, ok
}

// ErrNoArea is returned for an area code that no admin area has.
var ErrNoArea = errors.New("no area has code")

// ErrOutOfScope is returned for a write outside the actor's area scope.
var ErrOutOfScope = errors.New("outside your area scope")

// AdminLayers are the layers whose features' codes name area scopes:
// subdistrict → community → compound.
var AdminLayers = []string{"subdistricts", "communities", "compounds"}

// scopeAreaSQL is the area of scope code $N: the union of the admin
// features with that code, NULL when there is none (so nothing is in it).
func scopeAreaSQL(param int) string {
	return fmt.Sprintf(`(SELECT ST_Union(geom) FROM features WHERE layer = ANY('{subdistricts,communities,compounds}') AND props->>'code' = $%d)`, param)
}

// ScopeArea returns the area of scope code as lon/lat polygons.
func (s *Store) ScopeArea(ctx context.Context, code string) (orb.MultiPolygon, error) {
	var b []byte
	err := s.pool.QueryRow(ctx, `SELECT ST_AsBinary(ST_Multi(`+scopeAreaSQL(1)+`))`, code).Scan(&b)
	if err != nil {
		return nil, err
	}
	if b == nil {
		return nil, fmt.Errorf("%w %q", ErrNoArea, code)
	}
	g, err := wkb.Unmarshal(b)
	if err != nil {
		return nil, err
	}
	mp, ok := g.(orb.MultiPolygon)
	if !ok {
		return nil, fmt.Errorf("area %q is a %s", code, g.GeoJSONType())
	}
	return mp, nil
}

// AuditFunc records a feature write in the transaction that makes it.
// before and after are GeoJSON features (nil for an insert's before and a
// delete's after).
type AuditFunc func(ctx context.Context, tx pgx.Tx, op Op, layer string, id int64, before, after json.RawMessage) error

// SetAudit installs the audit hook; call it before serving.
func (s *Store) SetAudit(fn AuditFunc) { s.audit = fn }

// beforeWrite runs, in the write's transaction, the scope check and reads
// the feature as it was (for the audit) when the write changes or removes
// an existing feature.
func (s *Store) beforeWrite(ctx context.Context, tx pgx.Tx, layer string, id int64) (json.RawMessage, error) {
	a, _ := ActorFrom(ctx)
	if a.Scope == "" && s.audit == nil && txHookFrom(ctx) == nil {
		return nil, nil
	}
	var before json.RawMessage
	var inScope bool
	err := tx.QueryRow(ctx, `SELECT json_build_object('type', 'Feature', 'id', id, 'geometry', ST_AsGeoJSON(geom, 7)::json, 'properties', props),
			$3 = '' OR COALESCE(ST_Intersects(anchor, `+scopeAreaSQL(3)+`), false)
		FROM features WHERE layer = $1 AND id = $2 FOR UPDATE`, layer, id, a.Scope).Scan(&before, &inScope)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	if !inScope {
		return nil, ErrOutOfScope
	}
	return before, nil
}

// afterWrite checks that a written feature's anchor is in the actor's
// scope and records the write in the audit log.
func (s *Store) afterWrite(ctx context.Context, tx pgx.Tx, op Op, f *Feature, before json.RawMessage) error {
	a, _ := ActorFrom(ctx)
	var after json.RawMessage
	if op != Delete {
		if a.Scope != "" {
			var ok bool
			if err := tx.QueryRow(ctx, `SELECT COALESCE(ST_Intersects(anchor, `+scopeAreaSQL(3)+`), false)
				FROM features WHERE layer = $1 AND id = $2`, f.Layer, f.ID, a.Scope).Scan(&ok); err != nil {
				return err
			}
			if !ok {
				return ErrOutOfScope
			}
		}
		if s.audit != nil {
			var err error
			if after, err = featureJSON(f); err != nil {
				return err
			}
		}
	}
	if hook := txHookFrom(ctx); hook != nil {
		if err := hook(ctx, tx, op, f, before); err != nil {
			return err
		}
	}
	if s.audit == nil {
		return nil
	}
	return s.audit(ctx, tx, op, f.Layer, f.ID, before, after)
}

func featureJSON(f *Feature) (json.RawMessage, error) {
	gf := geojson.NewFeature(f.Geometry)
	gf.ID = f.ID
	gf.Properties = f.Props
	return json.Marshal(gf)
}
