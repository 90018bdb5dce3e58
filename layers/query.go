package layers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/paulmach/orb"
)

// Query selects features of one layer for the OGC API: by bounding box, by
// property values, in id order from a cursor.
type Query struct {
	Layer   string
	BBox    *orb.Bound     // EPSG:4326; nil for all
	Filters map[string]any // property = value, typed by ParseFilter
	After   int64          // return ids greater than this (paging cursor)
	Limit   int
	Scope   string // area code: only features anchored in that area; empty for all
}

// Item is a feature as the API serves it: GeoJSON geometry straight from
// PostGIS, properties as stored.
type Item struct {
	ID       int64
	Geometry json.RawMessage
	Props    json.RawMessage
	Updated  time.Time
}

// ParseFilter turns a query-string value into the typed value of property
// name of layer l, or says why it cannot.
func ParseFilter(l *Layer, name, value string) (any, error) {
	p, ok := l.Prop(name)
	if !ok {
		return nil, fmt.Errorf("%q is not a property of layer %s", name, l.Name)
	}
	var v any
	var err error
	switch p.Type {
	case String:
		v = value
	case Integer:
		v, err = strconv.ParseInt(value, 10, 64)
	case Number:
		var f float64
		f, err = strconv.ParseFloat(value, 64)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			// "NaN" and "Inf" parse, but no stored value equals them and
			// JSON cannot carry them to the store
			err = errors.New("not a finite number")
		}
		v = f
	case Boolean:
		v, err = strconv.ParseBool(value)
	case DateTime:
		var t time.Time
		t, err = time.Parse(time.RFC3339, value)
		v = t.Format(time.RFC3339Nano)
	default:
		return nil, fmt.Errorf("property %s (%s) cannot be filtered", name, p.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("property %s wants %s, got %q", name, p.Type, value)
	}
	return v, nil
}

// Items returns up to q.Limit features matching q.
func (s *Store) Items(ctx context.Context, q Query) ([]Item, error) {
	if _, ok := s.cat.Layer(q.Layer); !ok {
		return nil, &UnknownLayerError{q.Layer}
	}
	filter := []byte("{}")
	if len(q.Filters) > 0 {
		var err error
		if filter, err = json.Marshal(q.Filters); err != nil {
			return nil, err
		}
	}
	var box [4]float64
	if q.BBox != nil {
		box = [4]float64{q.BBox.Min[0], q.BBox.Min[1], q.BBox.Max[0], q.BBox.Max[1]}
	}
	rows, err := s.pool.Query(ctx, `SELECT id, ST_AsGeoJSON(geom, 7), props, updated FROM features
		WHERE layer = $1 AND id > $2 AND props @> $3::jsonb
		  AND ($4 OR ST_Intersects(geom, ST_MakeEnvelope($5, $6, $7, $8, 4326)))
		  AND ($10 = '' OR COALESCE(ST_Intersects(anchor, `+scopeAreaSQL(10)+`), false))
		ORDER BY id LIMIT $9`,
		q.Layer, q.After, filter, q.BBox == nil, box[0], box[1], box[2], box[3], q.Limit, q.Scope)
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", q.Layer, err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Item, error) {
		var it Item
		var g string
		err := r.Scan(&it.ID, &g, &it.Props, &it.Updated)
		it.Geometry = json.RawMessage(g)
		return it, err
	})
}

// Item returns one feature as the API serves it; a feature outside scope
// (an area code, empty for all) is not found.
func (s *Store) Item(ctx context.Context, layer string, id int64, scope string) (Item, error) {
	if _, ok := s.cat.Layer(layer); !ok {
		return Item{}, &UnknownLayerError{layer}
	}
	var it Item
	var g string
	err := s.pool.QueryRow(ctx, `SELECT id, ST_AsGeoJSON(geom, 7), props, updated FROM features
		WHERE layer = $1 AND id = $2 AND ($3 = '' OR COALESCE(ST_Intersects(anchor, `+scopeAreaSQL(3)+`), false))`,
		layer, id, scope).Scan(&it.ID, &g, &it.Props, &it.Updated)
	if errors.Is(err, pgx.ErrNoRows) {
		return it, ErrNotFound
	}
	it.Geometry = json.RawMessage(g)
	return it, err
}
