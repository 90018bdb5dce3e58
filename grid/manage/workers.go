package manage

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/paulmach/orb"
	"github.com/uber/h3-go/v4"

	"github.com/hexward/hexward/layers"
	"github.com/hexward/hexward/spatial"
)

// AssignWorkers sets the responsible grid worker of each cell: the officer
// stored for the cell in grid_assignments (stored, from Assignments) when
// that officer is among officers; otherwise the officer with duty
// grid_worker whose feature point is nearest the cell's centre (ties to
// the smaller ID). Officers' points move with their last position, so the
// nearest rule is a fallback: store assignments (SetAssignment) to make
// them stick.
func AssignWorkers(cells []CellStats, officers []layers.Feature, stored map[h3.Cell]int64) {
	type worker struct {
		id   int64
		name string
		at   orb.Point
	}
	var ws []worker
	names := map[int64]string{}
	for _, o := range officers {
		name, _ := o.Props["name"].(string)
		names[o.ID] = name
		p, ok := o.Geometry.(orb.Point)
		if duty, _ := o.Props["duty"].(string); ok && duty == "grid_worker" {
			ws = append(ws, worker{o.ID, name, p})
		}
	}
	for i := range cells {
		c := &cells[i]
		c.WorkerID, c.Worker, c.WorkerSource = 0, "", ""
		if id, ok := stored[c.Cell]; ok {
			if name, known := names[id]; known {
				c.WorkerID, c.Worker, c.WorkerSource = id, name, "stored"
				continue
			}
		}
		ll := c.Cell.LatLng()
		centre := orb.Point{ll.Lng, ll.Lat}
		fr := spatial.NewFrame(centre)
		best, bd := -1, math.Inf(1)
		for k, w := range ws {
			q := fr.ToXY(w.at)
			d := math.Hypot(q[0], q[1])
			if d < bd || (d == bd && w.id < ws[best].id) {
				best, bd = k, d
			}
		}
		if best >= 0 {
			c.WorkerID, c.Worker, c.WorkerSource = ws[best].id, ws[best].name, "nearest"
		}
	}
}

// Assignments returns the stored assignments of cells to grid workers.
func Assignments(ctx context.Context, pool *pgxpool.Pool) (map[h3.Cell]int64, error) {
	rows, err := pool.Query(ctx, `SELECT cell, officer_id FROM grid_assignments`)
	if err != nil {
		return nil, fmt.Errorf("grid: assignments: %w", err)
	}
	defer rows.Close()
	out := map[h3.Cell]int64{}
	for rows.Next() {
		var c, o int64
		if err := rows.Scan(&c, &o); err != nil {
			return nil, fmt.Errorf("grid: assignments: %w", err)
		}
		out[h3.Cell(c)] = o
	}
	return out, rows.Err()
}

// SetAssignment stores officerID as the grid worker of cell, recording who
// assigned it; officerID 0 removes the cell's assignment.
func SetAssignment(ctx context.Context, pool *pgxpool.Pool, cell h3.Cell, officerID int64, by string) error {
	if !cell.IsValid() {
		return fmt.Errorf("grid: %v is not a valid H3 cell", cell)
	}
	if officerID < 0 {
		return fmt.Errorf("grid: officer id %d is negative", officerID)
	}
	if strings.TrimSpace(by) == "" {
		return errors.New("grid: an assignment needs who made it")
	}
	var err error
	if officerID == 0 {
		_, err = pool.Exec(ctx, `DELETE FROM grid_assignments WHERE cell = $1`, int64(cell))
	} else {
		_, err = pool.Exec(ctx, `INSERT INTO grid_assignments (cell, resolution, officer_id, assigned_by) VALUES ($1, $2, $3, $4)
			ON CONFLICT (cell) DO UPDATE SET resolution = EXCLUDED.resolution, officer_id = EXCLUDED.officer_id,
			  assigned_by = EXCLUDED.assigned_by, assigned_at = now()`, int64(cell), cell.Resolution(), officerID, by)
	}
	if err != nil {
		return fmt.Errorf("grid: assignment: %w", err)
	}
	return nil
}
