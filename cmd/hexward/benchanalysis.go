package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime"
	"slices"
	"time"

	"github.com/paulmach/orb"

	"github.com/hexward/hexward/analysis"
	"github.com/hexward/hexward/layers"
	"github.com/hexward/hexward/spatial"
	"github.com/hexward/hexward/spatial/baseline"
)

// benchAnalysis measures the planners' analyses on demo data: the full
// recompute (every camera's occluded views, all coverage figures, fences,
// frontages, grid, placards, written as layers), one what-if camera, a
// greedy suggestion, and the occluded views done the naive way in PostGIS
// on a sample of the same cameras.
func benchAnalysis(ctx context.Context, log *slog.Logger, args []string) error {
	fs := flag.NewFlagSet("bench analysis", flag.ContinueOnError)
	db := addDBFlags(fs)
	scale := fs.Float64("scale", 5, "demo scale to load when the database holds no buildings")
	seed := fs.Int64("seed", 1, "demo seed")
	whatifs := fs.Int("whatif", 200, "hypothetical cameras to evaluate")
	k := fs.Int("suggest", 20, "cameras to place greedily (in the largest community)")
	naive := fs.Int("naive", 30, "cameras whose views are also computed the naive way in PostGIS")
	leaks := fs.Bool("leaks", true, "look for leaks with pgRouting")
	if err := fs.Parse(args); err != nil {
		return err
	}
	d, err := db.open(ctx, log)
	if err != nil {
		return err
	}
	defer d.Close()
	store := layers.NewStore(d.pool, layers.Governance())
	if err := loadDemoIfEmpty(ctx, log, store, *seed, *scale); err != nil {
		return err
	}
	e, err := analysis.New(store, analysis.Options{Leaks: *leaks, Log: log})
	if err != nil {
		return err
	}
	nb, _ := store.Count(ctx, "buildings")
	fmt.Printf("# hexward bench analysis — %d buildings, GOMAXPROCS %d\n\n", nb, runtime.GOMAXPROCS(0))

	st, err := e.Run(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("full recompute: %.2f s (%d cameras)\n", st.TotalMS/1000, st.Cameras)
	for _, s := range []string{"read", "camera_views", "coverage", "fences", "frontages", "grid", "blind_spots", "rollup", "figures", "write"} {
		fmt.Printf("  %-13s %8.0f ms\n", s, st.TookMS[s])
	}
	fmt.Printf("  views + coverage figures: %.2f s\n", (st.TookMS["camera_views"]+st.TookMS["coverage"])/1000)
	for _, l := range analysis.ResultLayers {
		fmt.Printf("  %-13s %8d features\n", l, st.Features[l])
	}
	// Again, as after an edit elsewhere: zones whose streets and gates did
	// not change keep their leaks.
	if st, err = e.Run(ctx); err != nil {
		return err
	}
	fmt.Printf("rerun without edits: %.2f s (fences %.0f ms, views + coverage %.2f s)\n",
		st.TotalMS/1000, st.TookMS["fences"], (st.TookMS["camera_views"]+st.TookMS["coverage"])/1000)

	// What-if cameras on street points, random bearings.
	var pts []orb.Point
	_ = store.ScanLayer(ctx, "streets", func(f layers.Feature) error {
		if ls, ok := f.Geometry.(orb.LineString); ok && len(ls) > 1 {
			pts = append(pts, orb.Point{(ls[0][0] + ls[1][0]) / 2, (ls[0][1] + ls[1][1]) / 2})
		}
		return nil
	})
	r := rand.New(rand.NewPCG(uint64(*seed), 7))
	var lat []time.Duration
	for i := 0; i < *whatifs && len(pts) > 0; i++ {
		c := spatial.Camera{Pos: pts[r.IntN(len(pts))], Bearing: r.Float64() * 360}
		t0 := time.Now()
		if _, err := e.Evaluate(c); err != nil {
			return err
		}
		lat = append(lat, time.Since(t0))
	}
	if len(lat) > 0 {
		slices.Sort(lat)
		q := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
		fmt.Printf("\nwhat-if camera (%d): p50 %.2f ms, p99 %.2f ms, max %.2f ms\n", len(lat),
			ms(q(0.5)), ms(q(0.99)), ms(lat[len(lat)-1]))
	}

	// A greedy suggestion in the largest community.
	var biggest layers.Feature
	var area float64
	_ = store.ScanLayer(ctx, "communities", func(f layers.Feature) error {
		if a := e.Model().Frame.Area(f.Geometry); a > area {
			biggest, area = f, a
		}
		return nil
	})
	if *k > 0 && biggest.ID != 0 {
		t0 := time.Now()
		ss, err := e.Suggest(ctx, *k, "", "communities", biggest.ID)
		if err != nil {
			return err
		}
		took := time.Since(t0)
		fmt.Printf("greedy suggestion of %d cameras in community %v (%.0f m²): %.2f s; gains (score):", len(ss), biggest.Props["name"], area, took.Seconds())
		for _, s := range ss {
			fmt.Printf(" %.0f", s.Score)
		}
		fmt.Println()
	}

	// The naive PostGIS views of a sample of the cameras.
	if *naive > 0 {
		var cams []spatial.Camera
		_ = store.ScanLayer(ctx, "cameras", func(f layers.Feature) error {
			if c, err := spatial.CameraFromFeature(spatial.Feature{Layer: f.Layer, ID: f.ID, Geometry: f.Geometry, Props: f.Props}); err == nil && len(cams) < *naive {
				cams = append(cams, c)
			}
			return nil
		})
		c, err := baseline.Compare(ctx, store.Pool(), e.Model(), cams)
		if err != nil {
			return err
		}
		fmt.Printf("occluded views of %d cameras: Go sweep (all levels) %.1f ms, naive PostGIS ST_Difference (lowest level) %.1f ms: %.0f× faster; areas %.0f m² vs %.0f m²\n",
			c.Cameras, ms(c.Go), ms(c.PostGIS), c.Ratio(), c.GoM2, c.PostGISM2)
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
