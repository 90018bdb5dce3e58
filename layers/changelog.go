package layers

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// ChangesSince returns up to limit changes of the change log with seq
// greater than after, in seq order: what a subscriber that saw after
// missed (the live stream's resume).
func (s *Store) ChangesSince(ctx context.Context, after int64, limit int) ([]Change, error) {
	rows, err := s.pool.Query(ctx, `SELECT layer, feature_id, op, `+changeCols+`
		FROM changes WHERE seq > $1 ORDER BY seq LIMIT $2`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("reading the change log: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Change, error) {
		var c Change
		var op string
		err := scanChange(r, &c, &c.Layer, &c.FeatureID, &op)
		c.Op = Op(op)
		return c, err
	})
}

// LastSeq returns the seq of the newest change in the change log, 0 when
// it is empty.
func (s *Store) LastSeq(ctx context.Context) (int64, error) {
	var seq int64
	err := s.pool.QueryRow(ctx, `SELECT COALESCE(max(seq), 0) FROM changes`).Scan(&seq)
	return seq, err
}
