package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hexward/hexward/layers/pgcluster"
	"github.com/hexward/hexward/migrations"
)

// database is an open, migrated database and what must be stopped after.
type database struct {
	pool    *pgxpool.Pool
	cluster *pgcluster.Cluster
}

func (d *database) Close() {
	d.pool.Close()
	if d.cluster != nil {
		if err := d.cluster.Stop(); err != nil {
			slog.Error("stopping the private PostgreSQL", "err", err)
		}
	}
}

// openDatabase connects to url, or, when url is empty, starts the private
// cluster in dataDir and uses its database "hexward"; then it applies the
// migrations.
func openDatabase(ctx context.Context, url, dataDir string, log *slog.Logger) (*database, error) {
	d := &database{}
	if url == "" {
		var err error
		dir := filepath.Join(dataDir, "pgdata")
		log.Info("starting private PostgreSQL", "dir", dir)
		if d.cluster, err = pgcluster.Start(ctx, dir); err != nil {
			return nil, err
		}
		if err := createDatabase(ctx, d.cluster.URL("postgres"), "hexward"); err != nil {
			d.cluster.Stop()
			return nil, err
		}
		url = d.cluster.URL("hexward")
		log.Info("private PostgreSQL ready", "port", d.cluster.Port)
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("database URL: %w", err)
	}
	// Dense tile and analysis queries are slower with JIT and parallel
	// workers on a small machine (DESIGN.md).
	cfg.ConnConfig.RuntimeParams["jit"] = "off"
	cfg.ConnConfig.RuntimeParams["max_parallel_workers_per_gather"] = "0"
	cfg.ConnConfig.RuntimeParams["statement_timeout"] = "600000"
	cfg.MaxConns = 32
	if d.pool, err = pgxpool.NewWithConfig(ctx, cfg); err != nil {
		return nil, err
	}
	if err := d.pool.Ping(ctx); err != nil {
		d.Close()
		return nil, fmt.Errorf("connecting to the database: %w", err)
	}
	applied, err := migrations.Apply(ctx, d.pool)
	if err != nil {
		d.Close()
		return nil, err
	}
	if len(applied) > 0 {
		log.Info("migrations applied", "versions", applied)
	}
	return d, nil
}

func createDatabase(ctx context.Context, adminURL, name string) error {
	c, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	var exists bool
	if err := c.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return err
	}
	if !exists {
		_, err = c.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	}
	return err
}
