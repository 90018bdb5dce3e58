// Package pgtest gives tests throwaway PostGIS databases with Hexward's
// migrations applied: on the server named by DATABASE_URL when set, else on
// a private cluster (pgcluster) started for the test process. Never a mock.
//
// A package that uses it calls Main from its TestMain, so the private
// cluster and the template database are removed when its tests end.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hexward/hexward/layers/pgcluster"
	"github.com/hexward/hexward/migrations"
)

var (
	once     sync.Once
	setupErr error
	cluster  *pgcluster.Cluster
	adminURL string // a database to issue CREATE DATABASE from
	template string // migrated template database
	mkURL    func(db string) string
	tmpDir   string
)

// Main runs the package's tests and then removes what they created.
func Main(m *testing.M) {
	code := m.Run()
	cleanup()
	os.Exit(code)
}

func cleanup() {
	if template != "" {
		if c, err := pgx.Connect(context.Background(), adminURL); err == nil {
			_, _ = c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+pgx.Identifier{template}.Sanitize()+" WITH (FORCE)")
			c.Close(context.Background())
		}
	}
	if cluster != nil {
		_ = cluster.Stop()
	}
	if tmpDir != "" {
		_ = os.RemoveAll(tmpDir)
	}
}

func setup() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if u := os.Getenv("DATABASE_URL"); u != "" {
		if _, err := pgx.ParseConfig(u); err != nil {
			return fmt.Errorf("pgtest: DATABASE_URL: %w", err)
		}
		adminURL = u
		mkURL = func(db string) string { return withDatabase(u, db) }
	} else {
		var err error
		tmpDir, err = os.MkdirTemp("", "hexward-pgtest-")
		if err != nil {
			return err
		}
		if err := os.Chmod(tmpDir, 0o755); err != nil {
			return err
		}
		cluster, err = pgcluster.Start(ctx, tmpDir+"/data")
		if err != nil {
			return err
		}
		adminURL = cluster.URL("postgres")
		mkURL = cluster.URL
	}
	template = "hexward_tpl_" + randomSuffix()
	admin, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return fmt.Errorf("pgtest: connect: %w", err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{template}.Sanitize()); err != nil {
		return fmt.Errorf("pgtest: create template: %w", err)
	}
	pool, err := pgxpool.New(ctx, mkURL(template))
	if err != nil {
		return err
	}
	defer pool.Close()
	if _, err := migrations.Apply(ctx, pool); err != nil {
		return err
	}
	return nil
}

// URL creates a fresh migrated database for the test, dropped when the
// test ends, and returns its connection string.
func URL(t testing.TB) string {
	t.Helper()
	once.Do(func() { setupErr = setup() })
	if setupErr != nil {
		t.Fatalf("pgtest: no PostGIS for the test: %v", setupErr)
	}
	ctx := context.Background()
	name := "hexward_test_" + randomSuffix()
	admin, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()+" TEMPLATE "+pgx.Identifier{template}.Sanitize()); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(ctx, adminURL)
		if err != nil {
			return
		}
		defer c.Close(ctx)
		_, _ = c.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	})
	return mkURL(name)
}

// New returns a pool on a fresh migrated database, closed when the test
// ends.
func New(t testing.TB) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), URL(t))
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

func randomSuffix() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// withDatabase returns the connection string u naming database db instead.
func withDatabase(u, db string) string {
	if p, err := url.Parse(u); err == nil && (p.Scheme == "postgres" || p.Scheme == "postgresql") {
		p.Path = "/" + db
		return p.String()
	}
	return u + " dbname=" + db
}
