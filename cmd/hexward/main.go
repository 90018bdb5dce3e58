// Command hexward is the one binary of Hexward, the spatial governance
// service: serve, migrate, import, export, demo, bench and simulate.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

const usage = `hexward — spatial governance of a subdistrict on one live map

usage: hexward <command> [flags]

commands:
  serve    run the HTTP service (OGC API, tiles, map); --demo loads demo data
  migrate  apply the database migrations and exit
  import   import a GeoJSON file or an OpenStreetMap extract (.osm, .osm.pbf)
  export   export a layer as GeoJSON or CSV
  demo     write the demo district as GeoJSON, or load it with --load
  bench    load tools: "bench tiles"
  simulate drive a running demo server: sensors report (with faults), officers walk

Every command takes --help. Flags fall back to environment variables, shown
in each flag's help.`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	cmds := map[string]func(context.Context, *slog.Logger, []string) error{
		"serve":    serve,
		"migrate":  migrate,
		"import":   importCmd,
		"export":   exportCmd,
		"demo":     demoCmd,
		"bench":    bench,
		"simulate": simulate,
	}
	cmd, ok := cmds[os.Args[1]]
	if !ok {
		if os.Args[1] != "help" && os.Args[1] != "-h" && os.Args[1] != "--help" {
			fmt.Fprintf(os.Stderr, "hexward: unknown command %q\n\n", os.Args[1])
		}
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	if err := cmd(ctx, log, os.Args[2:]); err != nil {
		fmt.Fprintln(os.Stderr, "hexward:", err)
		os.Exit(1)
	}
}

func envOr(key, def string) string {
	if v, ok := os.LookupEnv(key); ok {
		return v
	}
	return def
}
