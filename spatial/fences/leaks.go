package fences

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/wkb"
)

// LeakOptions are the parameters of Leaks. Zero fields take the defaults.
type LeakOptions struct {
	// GateRadius (m): a street crossing the perimeter within this distance
	// of a gate passes that gate. Default 3.
	GateRadius float64
	// Reach (m): streets within this distance of the zone's bounding box
	// make the graph. Every crossing of the perimeter joins an inside
	// piece to an outside one, so a short reach finds every leak; a longer
	// one only joins crossings whose outside pieces meet further out into
	// one component. Default 50.
	Reach float64
	// WallTolerance (m): a street that crosses a fence line (wall, fence,
	// plant wall, isolation belt) within this distance of where it crosses
	// the perimeter meets that barrier: no way out there, as at a gate.
	// The enclosure's Tolerance: how far a wall may be drawn from the
	// perimeter. Default 1.
	WallTolerance float64
}

// Leak is a way out of a zone that passes no gate: a point where the
// street network crosses the perimeter away from every gate and every
// fence line, joining an inside part of the network to an outside part.
type Leak struct {
	Point     orb.Point // the crossing on the perimeter, lon/lat
	Component int64     // pgRouting component id (smallest node id in it)
	InsideM   float64   // length of the zone's streets reachable from it without a gate (m)
}

// LeaksForZone runs Leaks on the stored village_zones feature zoneID.
func LeaksForZone(ctx context.Context, pool *pgxpool.Pool, zoneID int64, opt LeakOptions) ([]Leak, error) {
	var b []byte
	err := pool.QueryRow(ctx, `SELECT ST_AsBinary(geom) FROM features WHERE layer = 'village_zones' AND id = $1`, zoneID).Scan(&b)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("fences: no village zone with id %d", zoneID)
	}
	if err != nil {
		return nil, fmt.Errorf("fences: %w", err)
	}
	g, err := wkb.Unmarshal(b)
	if err != nil {
		return nil, fmt.Errorf("fences: zone %d: %w", zoneID, err)
	}
	p, ok := g.(orb.Polygon)
	if !ok {
		return nil, fmt.Errorf("fences: zone %d is a %T, want a polygon", zoneID, g)
	}
	return Leaks(ctx, pool, p, opt)
}

// Leaks finds the ways out of zone (lon/lat polygon; its outer ring is the
// perimeter) along the stored streets layer that pass no stored gate. In
// one transaction it nodes the streets near the zone together with the
// perimeter (ST_Node), so every street piece is wholly inside or outside
// and every crossing is a node; splits each crossing within GateRadius of
// a gate, or where the street meets a stored fence line within
// WallTolerance of it, in two, its
// inside pieces on one node and its outside pieces on another, so that no
// path passes through a gate or a wall (a street drawn through a wall is
// no way out: the wall closes it); and runs
// pgr_connectedComponents on the graph. A component holding both inside and outside pieces leaks, at
// each of its crossings. Leaks are in component, then position order.
func Leaks(ctx context.Context, pool *pgxpool.Pool, zone orb.Polygon, opt LeakOptions) ([]Leak, error) {
	if err := checkZone(zone); err != nil {
		return nil, err
	}
	if opt.GateRadius < 0 || opt.Reach < 0 || opt.WallTolerance < 0 || math.IsNaN(opt.GateRadius) || math.IsNaN(opt.Reach) || math.IsNaN(opt.WallTolerance) {
		return nil, fmt.Errorf("fences: leak options %+v must be ≥ 0", opt)
	}
	if opt.GateRadius == 0 {
		opt.GateRadius = 3
	}
	if opt.Reach == 0 {
		opt.Reach = 50
	}
	if opt.WallTolerance == 0 {
		opt.WallTolerance = 1
	}
	zb, err := wkb.Marshal(orb.Polygon{zone[0]})
	if err != nil {
		return nil, fmt.Errorf("fences: %w", err)
	}
	// Reach in degrees of latitude and of longitude at the zone.
	reachLat := opt.Reach / 111_320
	reachLon := reachLat / math.Max(0.1, math.Cos(zone[0][0][1]*math.Pi/180))
	gateLat := opt.GateRadius / 111_320
	gateLon := gateLat / math.Max(0.1, math.Cos(zone[0][0][1]*math.Pi/180))
	wallLat := opt.WallTolerance / 111_320
	wallLon := wallLat / math.Max(0.1, math.Cos(zone[0][0][1]*math.Pi/180))
	var out []Leak
	// bandDeg (about 5 cm): street pieces within it of the perimeter are
	// the perimeter itself, or slivers left by coordinate rounding where a
	// lane ends at the wall; they are dropped.
	const bandDeg = 5e-7
	// splitOffset renumbers the outside side of a gated crossing.
	const splitOffset = int64(1) << 40
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		steps := []struct {
			sql  string
			args []any
		}{
			{`CREATE TEMP TABLE leak_zone ON COMMIT DROP AS
			  SELECT g, ST_ExteriorRing(g) AS ring, ST_Buffer(ST_ExteriorRing(g), $2) AS band
			  FROM (SELECT ST_SetSRID(ST_GeomFromWKB($1), 4326) AS g) z`, []any{zb, bandDeg}},
			{`CREATE TEMP TABLE leak_edges ON COMMIT DROP AS
			  WITH pieces AS (
			    SELECT (ST_Dump(ST_Node(ST_Collect(l.geom)))).geom AS g
			    FROM (SELECT f.geom FROM features f, leak_zone z
			          WHERE f.layer = 'streets' AND f.geom && ST_Expand(z.g, $1, $2)
			          UNION ALL SELECT ring FROM leak_zone) l)
			  SELECT row_number() OVER () AS id, p.g AS geom,
			         ST_Within(ST_LineInterpolatePoint(p.g, 0.5), z.g) AS inside,
			         ST_Length(p.g::geography) AS len,
			         0::bigint AS source, 0::bigint AS target
			  FROM pieces p, leak_zone z
			  WHERE ST_GeometryType(p.g) = 'ST_LineString' AND ST_NPoints(p.g) >= 2
			    AND NOT ST_Covers(z.band, p.g)`, []any{reachLon, reachLat}},
			{`ALTER TABLE leak_edges ADD COLUMN sk bytea, ADD COLUMN tk bytea`, nil},
			{`UPDATE leak_edges SET sk = ST_AsBinary(ST_StartPoint(geom)), tk = ST_AsBinary(ST_EndPoint(geom))`, nil},
			{`CREATE TEMP TABLE leak_nodes ON COMMIT DROP AS
			  SELECT row_number() OVER () AS id, k, ST_GeomFromWKB(k, 4326) AS geom, false AS crossing, false AS gated
			  FROM (SELECT sk AS k FROM leak_edges UNION SELECT tk FROM leak_edges) q`, nil},
			// Temporary tables have no statistics until analysed: without
			// them the planner joins these by nested loops.
			{`ANALYZE leak_edges`, nil},
			{`ANALYZE leak_nodes`, nil},
			{`UPDATE leak_edges e SET source = n.id FROM leak_nodes n WHERE e.sk = n.k`, nil},
			{`UPDATE leak_edges e SET target = n.id FROM leak_nodes n WHERE e.tk = n.k`, nil},
			{`UPDATE leak_nodes n SET crossing = true FROM leak_zone z WHERE ST_DWithin(n.geom, z.ring, 1e-8)`, nil},
			// The box test lets the GiST index find the nearby gates; the
			// geography distance decides.
			{`UPDATE leak_nodes n SET gated = true WHERE crossing AND EXISTS (
			    SELECT 1 FROM features g WHERE g.layer = 'gates'
			    AND g.geom && ST_Expand(n.geom, $2, $3)
			    AND ST_DWithin(g.geom::geography, n.geom::geography, $1))`, []any{opt.GateRadius, 2 * gateLon, 2 * gateLat}},
			// so does a wall: a street drawn through one, within
			// WallTolerance of the crossing, is no way out (through a gap
			// in the wall the street meets no fence line)
			{`UPDATE leak_nodes n SET gated = true WHERE crossing AND NOT gated AND EXISTS (
			    SELECT 1 FROM leak_edges e JOIN features w ON w.layer = 'fences'
			      AND w.geom && ST_Expand(n.geom, $2, $3) AND w.geom && e.geom
			    WHERE (e.source = n.id OR e.target = n.id)
			    AND ST_DWithin(ST_Intersection(w.geom, e.geom)::geography, n.geom::geography, $1))`, []any{opt.WallTolerance, 2 * wallLon, 2 * wallLat}},
			// a gate or a wall splits its crossing: the outside pieces get their own node
			{`UPDATE leak_edges e SET source = e.source + $1 FROM leak_nodes n WHERE n.gated AND n.id = e.source AND NOT e.inside`, []any{splitOffset}},
			{`UPDATE leak_edges e SET target = e.target + $1 FROM leak_nodes n WHERE n.gated AND n.id = e.target AND NOT e.inside`, []any{splitOffset}},
		}
		for _, s := range steps {
			if _, err := tx.Exec(ctx, s.sql, s.args...); err != nil {
				return err
			}
		}
		rows, err := tx.Query(ctx, `
			WITH cc AS (
			  SELECT component, node FROM pgr_connectedComponents(
			    'SELECT id, source, target, 1.0::float8 AS cost, 1.0::float8 AS reverse_cost FROM leak_edges')),
			ends AS ( -- each edge at each of its two nodes
			  SELECT source AS node, inside, len FROM leak_edges
			  UNION ALL SELECT target, inside, len FROM leak_edges),
			at_node AS (
			  SELECT node, bool_or(inside) AS has_in, bool_or(NOT inside) AS has_out FROM ends GROUP BY node),
			comp AS (
			  SELECT cc.component,
			         sum(CASE WHEN e.inside THEN e.len ELSE 0 END) / 2 AS inside_m,
			         bool_or(e.inside) AS has_in, bool_or(NOT e.inside) AS has_out
			  FROM cc JOIN ends e ON e.node = cc.node
			  GROUP BY cc.component)
			SELECT c.component, c.inside_m, ST_X(n.geom), ST_Y(n.geom)
			FROM comp c JOIN cc ON cc.component = c.component
			JOIN leak_nodes n ON n.id = cc.node
			JOIN at_node a ON a.node = cc.node
			WHERE c.has_in AND c.has_out AND n.crossing AND a.has_in AND a.has_out
			ORDER BY c.component, ST_X(n.geom), ST_Y(n.geom)`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var l Leak
			if err := rows.Scan(&l.Component, &l.InsideM, &l.Point[0], &l.Point[1]); err != nil {
				return err
			}
			out = append(out, l)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("fences: leaks: %w", err)
	}
	return out, nil
}
