package layers

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrChangesPruned is returned by ChangesSince for a seq older than the
// change log's retention watermark: changes after it may have been pruned,
// so the caller cannot catch up from the log and must reload.
var ErrChangesPruned = errors.New("change log pruned")

// pruneChunk is the most change-log rows PruneChanges deletes in one
// transaction.
const pruneChunk = 50_000

// ChangesSince returns up to limit changes of the change log with seq
// greater than after, in seq order: what a subscriber that saw after
// missed (the live stream's resume). It returns ErrChangesPruned (wrapped)
// when after is below the pruning watermark.
func (s *Store) ChangesSince(ctx context.Context, after int64, limit int) ([]Change, error) {
	cs, err := s.queryChanges(ctx, `WHERE seq > $1 ORDER BY seq LIMIT $2`, after, limit)
	if err != nil {
		return nil, err
	}
	// The watermark is read after the rows: a prune that took any of them
	// has raised it by then.
	var mark int64
	if err := s.pool.QueryRow(ctx, `SELECT seq FROM changes_pruned`).Scan(&mark); err != nil {
		return nil, fmt.Errorf("reading the change log's watermark: %w", err)
	}
	if after < mark {
		return nil, fmt.Errorf("changes after seq %d: %w up to seq %d", after, ErrChangesPruned, mark)
	}
	return cs, nil
}

// ChangesBySeq returns the changes of the change log with the given seqs,
// in seq order; a seq no longer in the log (pruned) is left out. The bus
// reads back the changes it could not publish in time.
func (s *Store) ChangesBySeq(ctx context.Context, seqs []int64) ([]Change, error) {
	return s.queryChanges(ctx, `WHERE seq = ANY($1) ORDER BY seq`, seqs)
}

// queryChanges reads the change-log rows that where (a WHERE clause with
// its ORDER BY and LIMIT, our own text) selects.
func (s *Store) queryChanges(ctx context.Context, where string, args ...any) ([]Change, error) {
	rows, err := s.pool.Query(ctx, `SELECT layer, feature_id, op, `+changeCols+` FROM changes `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("reading the change log: %w", err)
	}
	cs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Change, error) {
		var c Change
		var op string
		err := scanChange(r, &c, &c.Layer, &c.FeatureID, &op)
		c.Op = Op(op)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("reading the change log: %w", err)
	}
	return cs, nil
}

// LastSeq returns the seq of the newest change in the change log, 0 when
// it has never held one. It is never below the pruning watermark, so that
// a client told to start from it can resume even when the log is empty
// after a prune.
func (s *Store) LastSeq(ctx context.Context) (int64, error) {
	var seq int64
	err := s.pool.QueryRow(ctx, `SELECT GREATEST((SELECT COALESCE(max(seq), 0) FROM changes), (SELECT seq FROM changes_pruned))`).Scan(&seq)
	return seq, err
}

// PruneChanges deletes the change-log rows written before before, in
// chunks of at most 50,000 rows, each in its own transaction that also
// raises the pruning watermark to the highest seq it deleted. It returns
// how many rows it deleted, also when it fails part way.
func (s *Store) PruneChanges(ctx context.Context, before time.Time) (int64, error) {
	var total int64
	for {
		var n int64
		err := s.pool.QueryRow(ctx, `WITH del AS (
			DELETE FROM changes WHERE seq IN (
				SELECT seq FROM changes WHERE at < $1 ORDER BY seq LIMIT $2 FOR UPDATE SKIP LOCKED)
			RETURNING seq),
			mark AS (
			UPDATE changes_pruned p SET seq = GREATEST(p.seq, (SELECT max(d.seq) FROM del d)), at = now()
			WHERE EXISTS (SELECT 1 FROM del))
			SELECT count(*) FROM del`, before, pruneChunk).Scan(&n)
		total += n
		if err != nil {
			return total, fmt.Errorf("pruning the change log: %w", err)
		}
		if n < pruneChunk {
			return total, nil
		}
	}
}
