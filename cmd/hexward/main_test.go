package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/hexward/hexward/layers/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func countFeatures(t *testing.T, url string) int {
	t.Helper()
	c, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	var n int
	if err := c.QueryRow(context.Background(), `SELECT count(*) FROM features`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// captureStdout runs fn with os.Stdout sent to a file and returns what it
// wrote.
func captureStdout(t *testing.T, fn func() error) string {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stdout
	os.Stdout = f
	err = fn()
	os.Stdout = old
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(f.Name())
	return string(b)
}

func TestImportExportRoundTrip(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	dir := t.TempDir()
	good := filepath.Join(dir, "gates.geojson")
	bad := filepath.Join(dir, "bad.geojson")
	feature := func(lon, props string) string {
		return `{"type":"Feature","geometry":{"type":"Point","coordinates":[` + lon + `,22.55]},"properties":` + props + `}`
	}
	os.WriteFile(good, []byte(`{"type":"FeatureCollection","features":[`+
		feature("114.12", `{"name":"北门","kind":"main","booth":true}`)+","+
		feature("114.13", `{"name":"南门","kind":"side"}`)+`]}`), 0o644)
	os.WriteFile(bad, []byte(`{"type":"FeatureCollection","features":[`+
		feature("114.12", `{"name":"a"}`)+","+feature("114.13", `{"name":"b"}`)+","+
		feature("114.14", `{"booth":"yes"}`)+`]}`), 0o644)

	err := importCmd(ctx, quiet(), []string{"--database-url", url, "--layer", "gates", bad})
	if err == nil || !strings.Contains(err.Error(), "nothing imported") || !strings.Contains(err.Error(), "feature 2") || !strings.Contains(err.Error(), "booth") {
		t.Fatalf("bad file: %v", err)
	}
	if n := countFeatures(t, url); n != 0 {
		t.Fatalf("bad file imported %d features", n)
	}
	captureStdout(t, func() error {
		return importCmd(ctx, quiet(), []string{"--database-url", url, "--layer", "gates", good})
	})
	if n := countFeatures(t, url); n != 2 {
		t.Fatalf("imported %d features", n)
	}
	out := captureStdout(t, func() error { return exportCmd(ctx, quiet(), []string{"--database-url", url, "--layer", "gates"}) })
	if !strings.Contains(out, `"FeatureCollection"`) || strings.Count(out, `"Feature"`) != 2 || !strings.Contains(out, "北门") {
		t.Fatalf("geojson export:\n%s", out)
	}
	out = captureStdout(t, func() error {
		return exportCmd(ctx, quiet(), []string{"--database-url", url, "--layer", "gates", "--format", "csv"})
	})
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "id,layer,wkt") || !strings.Contains(out, "POINT") {
		t.Fatalf("csv export:\n%s", out)
	}
}

func TestImportOpenStreetMap(t *testing.T) {
	ctx := context.Background()
	for _, file := range []string{"luohu.osm", "luohu.osm.pbf"} {
		t.Run(file, func(t *testing.T) {
			url := pgtest.URL(t)
			out := captureStdout(t, func() error {
				return importCmd(ctx, quiet(), []string{"--database-url", url, filepath.Join("..", "..", "layers", "osm", "testdata", file)})
			})
			if n := countFeatures(t, url); n < 10 || !strings.Contains(out, "buildings") || !strings.Contains(out, "cameras") {
				t.Fatalf("imported %d features:\n%s", n, out)
			}
		})
	}
}

func TestDemoLoadsEveryLayer(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	if err := demoCmd(ctx, quiet(), []string{"--database-url", url, "--scale", "0.05", "--load"}); err != nil {
		t.Fatal(err)
	}
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	rows, _ := c.Query(ctx, `SELECT layer, count(*) FROM features GROUP BY layer`)
	got := map[string]int{}
	for rows.Next() {
		var l string
		var n int
		rows.Scan(&l, &n)
		got[l] = n
	}
	if len(got) != 15 {
		t.Fatalf("layers loaded: %v", got)
	}
}
