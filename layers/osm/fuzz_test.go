package osm

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"testing"
	"time"

	"github.com/paulmach/orb"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/hexward/hexward/layers"
)

// fuzzDeadline is how long one input may take before the target calls it
// a hang; the largest inputs the fuzzer makes take milliseconds.
const fuzzDeadline = 10 * time.Second

// FuzzRead feeds arbitrary bytes to Read as OSM XML and as OSM PBF. Read
// must not panic or hang, and what it emits must pass the governance
// catalogue's validation, as its documentation promises, unless the
// input's own coordinates are out of range. The corpus in
// testdata/fuzz/FuzzRead holds PBF files that crashed the process through
// github.com/paulmach/osm/osmpbf (see pbf.go).
func FuzzRead(f *testing.F) {
	for _, name := range []string{fixtureXML, fixturePBF} {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		format, _ := DetectFormat(name)
		pbf := format == PBF
		f.Add(data, pbf)
		for _, cut := range []int{len(data) / 2, len(data) / 3, len(data) - 1, 100, 16, 4} {
			f.Add(data[:cut], pbf)
		}
		f.Add(data, !pbf) // the other decoder on the wrong format
		if pbf {
			// Mutations of zlib data rarely inflate: give the fuzzer the
			// fixture with its blobs stored raw, and cut inside blocks.
			raw := rawPBF(f, data)
			f.Add(raw, true)
			for _, cut := range []int{len(raw) / 2, len(raw) - 1, 20} {
				f.Add(raw[:cut], true)
			}
		}
	}
	f.Add([]byte(`<osm><node id="1" lat="22.55" lon="114.12"><tag k="shop" v="bakery"/></node></osm>`), false)
	f.Add([]byte(`<osm><node id="1" lat="1e999" lon="NaN"><tag k="barrier" v="gate"/></node></osm>`), false)
	f.Add([]byte(`<osm><node id="1" lat="0" lon="0"/><node id="2" lat="0" lon="1"/><node id="3" lat="1" lon="1"/>`+
		`<way id="5"><nd ref="1"/><nd ref="2"/><nd ref="3"/><nd ref="1"/><tag k="building" v="yes"/><tag k="building:levels" v="9e99"/></way>`+
		`<relation id="7"><member type="way" ref="5" role="outer"/><member type="way" ref="6" role="inner"/><tag k="type" v="multipolygon"/><tag k="landuse" v="residential"/></relation></osm>`), false)
	f.Add([]byte{0, 0, 0, 0}, true)
	f.Add([]byte{0xff, 0xff, 0xff, 0xff}, true)

	cat := layers.Governance()
	f.Fuzz(func(t *testing.T, data []byte, pbf bool) {
		format := XML
		if pbf {
			format = PBF
		}
		type result struct {
			st  Stats
			err error
			n   int
			bad error
		}
		done := make(chan result, 1)
		go func() {
			var r result
			r.st, r.err = Read(context.Background(), bytes.NewReader(data), format, func(feat layers.Feature) error {
				g := feat
				// Coordinates are the input's; anything else Read makes
				// must pass.
				if err := cat.Validate(&g, r.n); err != nil && r.bad == nil && lonLatOK(feat.Geometry) {
					r.bad = fmt.Errorf("feature %d (%s %v) fails validation: %v", r.n, feat.Layer, feat.Props["source_id"], err)
				}
				r.n++
				return nil
			})
			done <- r
		}()
		var r result
		select {
		case r = <-done:
		case <-time.After(fuzzDeadline):
			t.Fatalf("Read of %d bytes (%v) still running after %v", len(data), format, fuzzDeadline)
		}
		if r.bad != nil {
			t.Fatal(r.bad)
		}
		if r.err == nil && r.st.Total() != r.n {
			t.Fatalf("stats count %d features, %d emitted", r.st.Total(), r.n)
		}
	})
}

// lonLatOK reports whether every coordinate of g is a finite longitude and
// latitude.
func lonLatOK(g orb.Geometry) bool {
	ok := true
	check := func(p orb.Point) {
		if !(p[0] >= -180 && p[0] <= 180 && p[1] >= -90 && p[1] <= 90) {
			ok = false
		}
	}
	switch g := g.(type) {
	case orb.Point:
		check(g)
	case orb.LineString:
		for _, p := range g {
			check(p)
		}
	case orb.Polygon:
		for _, r := range g {
			for _, p := range r {
				check(p)
			}
		}
	case orb.MultiPolygon:
		for _, pl := range g {
			for _, r := range pl {
				for _, p := range r {
					check(p)
				}
			}
		}
	default:
		return false
	}
	return ok
}

// rawPBF rewrites an OSM PBF stream with every blob stored uncompressed.
func rawPBF(f *testing.F, data []byte) []byte {
	var out []byte
	r := bytes.NewReader(data)
	for {
		typ, blob, _, err := readBlock(r)
		if err == io.EOF {
			return out
		}
		if err != nil {
			f.Fatal(err)
		}
		raw, err := blobData(blob)
		if err != nil {
			f.Fatal(err)
		}
		var b, h []byte
		b = protowire.AppendTag(b, 1, protowire.BytesType)
		b = protowire.AppendBytes(b, raw)
		b = protowire.AppendTag(b, 2, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(len(raw)))
		h = protowire.AppendTag(h, 1, protowire.BytesType)
		h = protowire.AppendString(h, typ)
		h = protowire.AppendTag(h, 3, protowire.VarintType)
		h = protowire.AppendVarint(h, uint64(len(b)))
		out = binary.BigEndian.AppendUint32(out, uint32(len(h)))
		out = append(append(out, h...), b...)
	}
}
