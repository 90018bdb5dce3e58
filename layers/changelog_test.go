package layers_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hexward/hexward/layers"
)

func watermark(t *testing.T, s *layers.Store) int64 {
	t.Helper()
	var seq int64
	if err := s.Pool().QueryRow(context.Background(), `SELECT seq FROM changes_pruned`).Scan(&seq); err != nil {
		t.Fatal(err)
	}
	return seq
}

// TestChangeRetentionTable: migration 010 left a fresh database with one
// watermark row at 0, and a second row is refused.
func TestChangeRetentionTable(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	if n := count(t, s, "changes_pruned"); n != 1 || watermark(t, s) != 0 {
		t.Fatalf("changes_pruned: %d rows, watermark %d", n, watermark(t, s))
	}
	if _, err := s.Pool().Exec(ctx, `INSERT INTO changes_pruned (one, seq) VALUES (false, 1)`); err == nil {
		t.Fatal("a second watermark row was accepted")
	}
	if _, err := s.ChangesSince(ctx, 0, 10); err != nil {
		t.Fatalf("nothing pruned yet: %v", err)
	}
}

// TestPruneChanges: the rows older than the cut are deleted, in chunks,
// and only those; the watermark rises to the highest seq deleted; a
// resume from below it is refused with ErrChangesPruned and one from it
// works; LastSeq never falls below it.
func TestPruneChanges(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	// More old rows than two chunks, as if written ten days ago …
	const old = 2*50_000 + 123
	if _, err := s.Pool().Exec(ctx, `INSERT INTO changes (layer, feature_id, op, at)
		SELECT 'gates', i, 'insert', now() - interval '10 days' FROM generate_series(1, $1) AS i`, old); err != nil {
		t.Fatal(err)
	}
	oldest, err := s.LastSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// … then three real writes now.
	if _, err := s.Import(ctx, layers.FromSlice([]layers.Feature{view(114.12, "detect"), view(114.13, "detect"), view(114.14, "detect")}), nil); err != nil {
		t.Fatal(err)
	}
	cut := time.Now().Add(-7 * 24 * time.Hour)
	n, err := s.PruneChanges(ctx, cut)
	if err != nil || n != old {
		t.Fatalf("pruned %d rows (%v), want %d", n, err, old)
	}
	if left := count(t, s, "changes"); left != 3 {
		t.Fatalf("%d rows left, want the 3 recent ones", left)
	}
	if m := watermark(t, s); m != oldest {
		t.Fatalf("watermark %d, want the highest pruned seq %d", m, oldest)
	}
	if n, err := s.PruneChanges(ctx, cut); err != nil || n != 0 || watermark(t, s) != oldest {
		t.Fatalf("second prune: %d rows (%v), watermark %d", n, err, watermark(t, s))
	}

	_, err = s.ChangesSince(ctx, oldest-1, 10)
	if !errors.Is(err, layers.ErrChangesPruned) {
		t.Fatalf("resume from below the watermark: %v", err)
	}
	for _, want := range []string{fmt.Sprintf("after seq %d:", oldest-1), fmt.Sprintf("up to seq %d", oldest)} {
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("error %q does not say %q", err, want)
		}
	}
	cs, err := s.ChangesSince(ctx, oldest, 10)
	if err != nil || len(cs) != 3 || cs[0].Seq != oldest+1 || cs[0].Layer != "camera_views" {
		t.Fatalf("resume from the watermark: %v, %+v", err, cs)
	}

	// Everything pruned: the log is empty, LastSeq stays at the watermark
	// and a resume from it still works.
	last, _ := s.LastSeq(ctx)
	if n, err := s.PruneChanges(ctx, time.Now().Add(time.Hour)); err != nil || n != 3 {
		t.Fatalf("pruning the rest: %d rows (%v)", n, err)
	}
	if got, err := s.LastSeq(ctx); err != nil || got != last || watermark(t, s) != last {
		t.Fatalf("LastSeq %d (%v) and watermark %d on an empty log, want %d", got, err, watermark(t, s), last)
	}
	if cs, err := s.ChangesSince(ctx, last, 10); err != nil || len(cs) != 0 {
		t.Fatalf("resume from the newest seq on an empty log: %v, %d changes", err, len(cs))
	}
}
