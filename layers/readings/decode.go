package readings

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/hexward/hexward/internal/jsonerr"
)

// The wire format of a batch of readings, shared by every transport (the
// body of POST /ingest/readings, the payload of MQTT topic
// hexward/<account>/readings):
//
//	{"readings": [{"sensor": id, "ts": "RFC 3339 with zone", "value": number}, …]}

type wireReading struct {
	Sensor *int64   `json:"sensor"`
	TS     *string  `json:"ts"`
	Value  *float64 `json:"value"`
}

// DecodeBatch decodes a batch of readings. A malformed batch is an
// *InputError naming the problem (and the reading, by index). The values
// are checked by Ingest, not here.
func DecodeBatch(data []byte) ([]Reading, error) {
	var in struct {
		Readings []json.RawMessage `json:"readings"`
	}
	if err := json.Unmarshal(data, &in); err != nil {
		return nil, &InputError{jsonerr.Problem(err)}
	}
	if in.Readings == nil {
		return nil, &InputError{`body must be {"readings":[{"sensor":id,"ts":"RFC 3339","value":number}, …]}`}
	}
	bad := func(format string, args ...any) error { return &InputError{fmt.Sprintf(format, args...)} }
	rs := make([]Reading, len(in.Readings))
	for i, raw := range in.Readings {
		var ir wireReading
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&ir); err != nil {
			return nil, bad("reading %d: %v", i, err)
		}
		switch {
		case ir.Sensor == nil:
			return nil, bad("reading %d: missing \"sensor\" (the sensor's feature id)", i)
		case ir.TS == nil:
			return nil, bad("reading %d: missing \"ts\" (RFC 3339 time with zone)", i)
		case ir.Value == nil:
			return nil, bad("reading %d: missing \"value\"", i)
		}
		ts, err := time.Parse(time.RFC3339Nano, *ir.TS)
		if err != nil {
			return nil, bad("reading %d: ts %q is not an RFC 3339 time with zone", i, *ir.TS)
		}
		rs[i] = Reading{SensorID: *ir.Sensor, TS: ts, Value: *ir.Value}
	}
	return rs, nil
}
