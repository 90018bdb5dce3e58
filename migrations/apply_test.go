package migrations_test

import (
	"context"
	"testing"

	"github.com/hexward/hexward/layers/pgtest"
	"github.com/hexward/hexward/migrations"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// TestApplyIsIdempotent: the test database is migrated already; applying
// again applies nothing and leaves every version recorded once.
func TestApplyIsIdempotent(t *testing.T) {
	pool := pgtest.New(t)
	applied, err := migrations.Apply(context.Background(), pool)
	if err != nil || len(applied) != 0 {
		t.Fatalf("second apply: %v, %v", applied, err)
	}
	var n, distinct int
	if err := pool.QueryRow(context.Background(), `SELECT count(*), count(DISTINCT version) FROM schema_migrations`).Scan(&n, &distinct); err != nil {
		t.Fatal(err)
	}
	if n < 2 || n != distinct {
		t.Fatalf("schema_migrations: %d rows, %d versions", n, distinct)
	}
}
