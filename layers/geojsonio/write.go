package geojsonio

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"strconv"
	"time"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/wkt"
	"github.com/paulmach/orb/geojson"

	"github.com/hexward/hexward/layers"
)

// Precision is the number of decimal places Writer keeps in coordinates:
// 1e-7 degrees is about 1 cm, the precision of OSM and of most GPS data.
const Precision = 7

const roundFactor = 10_000_000 // 10^Precision

// ErrClosed is returned by Writer.Write after Close.
var ErrClosed = errors.New("geojson: writer is closed")

// Writer writes features as one GeoJSON FeatureCollection (RFC 7946), one
// feature a line, without holding them in memory. Coordinates are rounded
// to Precision decimal places. A feature's ID, when not zero, is written as
// the feature's numeric "id"; its Layer is not written. Close ends the
// collection; a Writer that was never written to still produces an empty,
// valid collection on Close.
type Writer struct {
	bw     *bufio.Writer
	buf    bytes.Buffer  // one encoded feature
	enc    *json.Encoder // into buf
	n      int
	closed bool
	err    error
}

// NewWriter returns a Writer writing to w. Output is buffered; Close
// flushes it (it does not close w).
func NewWriter(w io.Writer) *Writer {
	wr := &Writer{bw: bufio.NewWriter(w)}
	wr.enc = json.NewEncoder(&wr.buf)
	wr.enc.SetEscapeHTML(false)
	return wr
}

// outFeature is the JSON shape of one written feature.
type outFeature struct {
	Type       string            `json:"type"`
	ID         int64             `json:"id,omitempty"`
	Geometry   *geojson.Geometry `json:"geometry"`
	Properties map[string]any    `json:"properties"`
}

const collectionStart = `{"type":"FeatureCollection","features":[` + "\n"

// Write appends f to the collection.
func (w *Writer) Write(f layers.Feature) error {
	if w.closed {
		return ErrClosed
	}
	if w.err != nil {
		return w.err
	}
	out := outFeature{Type: "Feature", ID: f.ID, Properties: f.Props}
	if f.Geometry != nil {
		out.Geometry = geojson.NewGeometry(orb.Round(orb.Clone(f.Geometry), roundFactor))
	}
	if out.Properties == nil {
		out.Properties = map[string]any{}
	}
	// Marshal first so that a feature that cannot be encoded (a NaN, an
	// unsupported property type) leaves the output valid.
	w.buf.Reset()
	if err := w.enc.Encode(out); err != nil {
		return fmt.Errorf("geojson: feature %d: %w", f.ID, err)
	}
	b := bytes.TrimSuffix(w.buf.Bytes(), []byte("\n"))
	sep := ",\n"
	if w.n == 0 {
		sep = collectionStart
	}
	if _, err := w.bw.WriteString(sep); err != nil {
		w.err = err
		return err
	}
	if _, err := w.bw.Write(b); err != nil {
		w.err = err
		return err
	}
	w.n++
	return nil
}

// Count returns how many features have been written.
func (w *Writer) Count() int { return w.n }

// Close ends the collection and flushes the output. Closing twice is a
// no-op.
func (w *Writer) Close() error {
	if w.closed {
		return w.err
	}
	w.closed = true
	if w.err != nil {
		return w.err
	}
	end := "\n]}\n"
	if w.n == 0 {
		end = `{"type":"FeatureCollection","features":[]}` + "\n"
	}
	if _, err := w.bw.WriteString(end); err != nil {
		w.err = err
		return err
	}
	w.err = w.bw.Flush()
	return w.err
}

// WriteCSV writes features of layer l as CSV: a header row, then one row
// per feature with the columns id (empty for an unstored feature), layer,
// wkt (the geometry as WKT, coordinates in full precision), then l's
// properties in schema order. Values are written as text: numbers in the
// shortest form that reads back exactly, booleans as true/false, times as
// RFC 3339, point properties as WKT POINT, missing values as empty cells.
// The output is UTF-8 without a byte order mark; to have Excel show
// Chinese text correctly, write "\uFEFF" to w first.
//
// features is consumed in order; the first error it yields stops the
// writing and is returned.
func WriteCSV(w io.Writer, l *layers.Layer, features iter.Seq2[layers.Feature, error]) error {
	cw := csv.NewWriter(w)
	header := []string{"id", "layer", "wkt"}
	for _, p := range l.Props {
		header = append(header, p.Name)
	}
	if err := cw.Write(header); err != nil {
		return err
	}
	row := make([]string, len(header))
	for f, err := range features {
		if err != nil {
			cw.Flush()
			return err
		}
		row[0] = ""
		if f.ID != 0 {
			row[0] = strconv.FormatInt(f.ID, 10)
		}
		row[1] = f.Layer
		if row[1] == "" {
			row[1] = l.Name
		}
		row[2] = ""
		if f.Geometry != nil {
			row[2] = wkt.MarshalString(f.Geometry)
		}
		for i, p := range l.Props {
			row[3+i] = csvValue(f.Props[p.Name])
		}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// csvValue formats one property value for a CSV cell.
func csvValue(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case float32:
		return strconv.FormatFloat(float64(v), 'f', -1, 32)
	case int64:
		return strconv.FormatInt(v, 10)
	case int:
		return strconv.Itoa(v)
	case int32:
		return strconv.FormatInt(int64(v), 10)
	case bool:
		return strconv.FormatBool(v)
	case time.Time:
		return v.Format(time.RFC3339Nano)
	case []float64:
		if len(v) == 2 {
			return wkt.MarshalString(orb.Point{v[0], v[1]})
		}
	case orb.Point:
		return wkt.MarshalString(v)
	case json.Number:
		return v.String()
	case fmt.Stringer:
		return v.String()
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
