package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hexward/hexward/layers/pgtest"
)

// childEnv makes the test binary run one hexward command instead of the
// tests, so that a test can kill a real import or server process: its
// value is the arguments of import, or "serve" and the arguments of serve,
// separated by \x1f.
const childEnv = "HEXWARD_TEST_CHILD"

func TestMain(m *testing.M) {
	if args := os.Getenv(childEnv); args != "" {
		a := strings.Split(args, "\x1f")
		cmd := importCmd
		if a[0] == "serve" {
			cmd, a = serve, a[1:]
		}
		if err := cmd(context.Background(), quiet(), a); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	pgtest.Main(m)
}

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
	if len(got) != 18 || got["incidents"] == 0 { // every layer but alerts and tracks, incidents too
		t.Fatalf("layers loaded: %v", got)
	}
}

// TestKilledImportImportsNothing kills (SIGKILL) an import of 200,000
// features while it runs: nothing of it is in the database afterwards.
func TestKilledImportImportsNothing(t *testing.T) {
	url := pgtest.URL(t)
	path := filepath.Join(t.TempDir(), "many.geojson")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	w.WriteString(`{"type":"FeatureCollection","features":[`)
	for i := range 200_000 {
		if i > 0 {
			w.WriteString(",")
		}
		fmt.Fprintf(w, `{"type":"Feature","geometry":{"type":"Point","coordinates":[%f,22.55]},"properties":{"name":"g%d"}}`, 114.0+float64(i)*1e-6, i)
	}
	w.WriteString("]}")
	w.Flush()
	f.Close()
	for _, after := range []time.Duration{700 * time.Millisecond, 2 * time.Second} {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), childEnv+"="+strings.Join([]string{"--database-url", url, "--layer", "gates", path}, "\x1f"))
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(after)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatalf("import already over after %s: kill it sooner (%v)", after, err)
		}
		err := cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
			t.Fatalf("import ended before the kill at %s: %v", after, err)
		}
		// PostgreSQL rolls back the dead client's transaction.
		deadline := time.Now().Add(10 * time.Second)
		for {
			if n := countFeatures(t, url); n != 0 {
				t.Fatalf("killed import left %d features", n)
			}
			var busy bool
			c, _ := pgx.Connect(context.Background(), url)
			c.QueryRow(context.Background(), `SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid())`).Scan(&busy)
			c.Close(context.Background())
			if !busy || time.Now().After(deadline) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if n := countFeatures(t, url); n != 0 {
			t.Fatalf("killed import left %d features", n)
		}
	}
}
