package spatial_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	. "github.com/hexward/hexward/spatial"
)

// benchScales are the demo scales the benchmarks run at; set
// SPATIAL_BENCH_SCALES=1,5 for the scale 5.
func benchScales() []float64 {
	s := os.Getenv("SPATIAL_BENCH_SCALES")
	if s == "" {
		return []float64{1}
	}
	var out []float64
	for _, p := range splitComma(s) {
		if v, err := strconv.ParseFloat(p, 64); err == nil {
			out = append(out, v)
		}
	}
	return out
}

func splitComma(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ',' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return out
}

func BenchmarkModel(b *testing.B) {
	for _, sc := range benchScales() {
		d, _ := demoDistrict(b, sc)
		t0 := time.Now()
		m, err := NewModel(d, Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.Logf("scale %v: %d buildings, %d cameras, %d streets; NewModel %v", sc, len(d.Buildings), len(d.Cameras), len(d.Streets), time.Since(t0))
		b.Run(fmt.Sprintf("scale=%v/NewModel", sc), func(b *testing.B) {
			for b.Loop() {
				if _, err := NewModel(d, Options{}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("scale=%v/Recompute", sc), func(b *testing.B) {
			for b.Loop() {
				m.Recompute()
			}
		})
		b.Run(fmt.Sprintf("scale=%v/ViewPerCamera", sc), func(b *testing.B) {
			i := 0
			for b.Loop() {
				if _, err := m.Views(d.Cameras[i%len(d.Cameras)]); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
		b.Run(fmt.Sprintf("scale=%v/WhatIf", sc), func(b *testing.B) {
			r := rand.New(rand.NewPCG(1, 2))
			for b.Loop() {
				c := d.Cameras[r.IntN(len(d.Cameras))]
				c.Bearing = r.Float64() * 360
				if _, err := m.Evaluate(c); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("scale=%v/Report", sc), func(b *testing.B) {
			for b.Loop() {
				if _, err := m.Report(nil); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("scale=%v/Suggest20", sc), func(b *testing.B) {
			_, areas := demoDistrict(b, sc)
			for b.Loop() {
				s, err := m.Suggest(SuggestOptions{K: 20, Area: areas[0]})
				if err != nil {
					b.Fatal(err)
				}
				if len(s) != 20 {
					b.Fatalf("%d suggestions", len(s))
				}
			}
		})
	}
}
