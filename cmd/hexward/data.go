package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/hexward/hexward/layers"
	"github.com/hexward/hexward/layers/demo"
	"github.com/hexward/hexward/layers/geojsonio"
	"github.com/hexward/hexward/layers/osm"
)

// pullFeatures turns a producer that pushes features into the pull
// iterator that Store.Import takes; the producer's error ends the stream.
func pullFeatures(produce func(emit func(layers.Feature) error) error) (next func() (layers.Feature, bool, error), stop func()) {
	var prodErr error
	stopped := errors.New("stopped")
	pull, stop := iter.Pull(func(yield func(layers.Feature) bool) {
		err := produce(func(f layers.Feature) error {
			if !yield(f) {
				return stopped
			}
			return nil
		})
		if err != nil && !errors.Is(err, stopped) {
			prodErr = err
		}
	})
	return func() (layers.Feature, bool, error) {
		f, ok := pull()
		if !ok && prodErr != nil {
			return f, false, prodErr
		}
		return f, ok, nil
	}, stop
}

// progressReader shows a progress bar over a file's bytes when stderr is a
// terminal, and returns r unchanged otherwise.
func progressReader(r io.Reader, size int64, what string) (io.Reader, func()) {
	if !term.IsTerminal(int(os.Stderr.Fd())) {
		return r, func() {}
	}
	bar := progressbar.DefaultBytes(size, what)
	pr := progressbar.NewReader(r, bar)
	return &pr, func() { _ = bar.Finish() }
}

func importCmd(ctx context.Context, log *slog.Logger, args []string) error {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	db := addDBFlags(fs)
	layer := fs.String("layer", "", "target layer of a GeoJSON file (required for GeoJSON)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: hexward import [flags] FILE\n\nFILE is GeoJSON (.geojson, .json, .ndjson; needs --layer) or an OpenStreetMap\nextract (.osm, .osm.pbf), mapped to the layers as layers/osm/MAPPING.md says.\nThe whole file is imported in one transaction: a bad feature imports nothing.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errors.New("import needs exactly one file")
	}
	name := fs.Arg(0)
	file, err := os.Open(name)
	if err != nil {
		return err
	}
	defer file.Close()
	info, err := file.Stat()
	if err != nil {
		return err
	}
	var produce func(emit func(layers.Feature) error) error
	if format, isOSM := osm.DetectFormat(name); isOSM {
		produce = func(emit func(layers.Feature) error) error {
			st, err := osm.Read(ctx, file, format, emit)
			log.Info("OpenStreetMap extract read", "stats", st)
			return err
		}
	} else {
		if *layer == "" {
			return errors.New("a GeoJSON import needs --layer")
		}
		r, done := progressReader(bufio.NewReaderSize(file, 1<<20), info.Size(), "importing")
		defer done()
		produce = func(emit func(layers.Feature) error) error {
			return geojsonio.Read(r, *layer, func(_ int, f layers.Feature) error { return emit(f) })
		}
	}
	d, err := db.open(ctx, log)
	if err != nil {
		return err
	}
	defer d.Close()
	store := layers.NewStore(d.pool, layers.Governance())
	start := time.Now()
	next, stop := pullFeatures(produce)
	defer stop()
	st, err := store.Import(ctx, next, nil)
	if err != nil {
		return fmt.Errorf("%s: nothing imported: %w", name, err)
	}
	took := time.Since(start)
	fmt.Printf("imported %d features in %s (%.0f features/s)\n", st.Features, took.Round(time.Millisecond), float64(st.Features)/took.Seconds())
	for l, n := range st.ByLayer {
		fmt.Printf("  %-16s %d\n", l, n)
	}
	return nil
}

func exportCmd(ctx context.Context, log *slog.Logger, args []string) error {
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	db := addDBFlags(fs)
	layer := fs.String("layer", "", "layer to export (required)")
	format := fs.String("format", "geojson", "geojson or csv")
	out := fs.String("out", "-", "output file, - for standard output")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cat := layers.Governance()
	l, ok := cat.Layer(*layer)
	if !ok {
		return fmt.Errorf("unknown layer %q; layers: %s", *layer, strings.Join(cat.Names(), ", "))
	}
	if *format != "geojson" && *format != "csv" {
		return fmt.Errorf("format %q: want geojson or csv", *format)
	}
	w := io.Writer(os.Stdout)
	if *out != "-" {
		f, err := os.Create(*out)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	d, err := db.open(ctx, log)
	if err != nil {
		return err
	}
	defer d.Close()
	store := layers.NewStore(d.pool, cat)
	if *format == "csv" {
		err = geojsonio.WriteCSV(bw, l, func(yield func(layers.Feature, error) bool) {
			err := store.ScanLayer(ctx, l.Name, func(f layers.Feature) error {
				if !yield(f, nil) {
					return errors.New("stopped")
				}
				return nil
			})
			if err != nil {
				yield(layers.Feature{}, err)
			}
		})
	} else {
		gw := geojsonio.NewWriter(bw)
		if err = store.ScanLayer(ctx, l.Name, gw.Write); err == nil {
			err = gw.Close()
		}
	}
	if err != nil {
		return err
	}
	return bw.Flush()
}

func demoCmd(ctx context.Context, log *slog.Logger, args []string) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	db := addDBFlags(fs)
	seed := fs.Int64("seed", 1, "seed: the same seed and scale give the same district")
	scale := fs.Float64("scale", 1, "scale: 1 ≈ 20k buildings; K ≈ K times the area")
	load := fs.Bool("load", false, "load into the database instead of writing GeoJSON")
	layer := fs.String("layer", "", "with GeoJSON output, only this layer")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *load {
		d, err := db.open(ctx, log)
		if err != nil {
			return err
		}
		defer d.Close()
		return loadDemo(ctx, log, layers.NewStore(d.pool, layers.Governance()), *seed, *scale)
	}
	bw := bufio.NewWriterSize(os.Stdout, 1<<20)
	gw := geojsonio.NewWriter(bw)
	err := demo.Generate(*seed, *scale, func(f layers.Feature) error {
		if *layer != "" && f.Layer != *layer {
			return nil
		}
		return gw.Write(f)
	})
	if err != nil {
		return err
	}
	if err := gw.Close(); err != nil {
		return err
	}
	return bw.Flush()
}
