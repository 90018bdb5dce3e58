package tiles

import (
	"encoding/binary"
	"math"
)

// This file is a hand-written encoder of the Mapbox Vector Tile 2.1
// protobuf (vector_tile.proto). Encoding straight into a byte slice, with
// property values encoded once when a feature is loaded, is several times
// faster than building orb/encoding/mvt's generated message structs per
// tile (see BenchmarkEncode).

// Field keys: field number << 3 | wire type (0 varint, 1 64-bit, 2 bytes).
const (
	keyTileLayer = 3<<3 | 2 // Tile.layers

	keyLayerName     = 1<<3 | 2 // Layer.name
	keyLayerFeature  = 2<<3 | 2 // Layer.features
	keyLayerKey      = 3<<3 | 2 // Layer.keys
	keyLayerValue    = 4<<3 | 2 // Layer.values
	keyLayerExtent   = 5 << 3   // Layer.extent
	keyLayerVersion  = 15 << 3  // Layer.version
	keyFeatureID     = 1 << 3   // Feature.id
	keyFeatureTags   = 2<<3 | 2 // Feature.tags (packed)
	keyFeatureType   = 3 << 3   // Feature.type
	keyFeatureGeom   = 4<<3 | 2 // Feature.geometry (packed)
	keyValueString   = 1<<3 | 2 // Value.string_value
	keyValueDouble   = 3<<3 | 1 // Value.double_value
	keyValueUint     = 5 << 3   // Value.uint_value
	keyValueSint     = 6 << 3   // Value.sint_value
	keyValueBool     = 7 << 3   // Value.bool_value
	geomTypePoint    = 1
	geomTypeLine     = 2
	geomTypePolygon  = 3
	cmdMoveTo        = 1
	cmdLineTo        = 2
	cmdClosePath     = 7
	closePathCommand = cmdClosePath | 1<<3
)

func appendVarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

func varintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

func zigzag(v int32) uint32 { return uint32((v << 1) ^ (v >> 31)) }

func zigzag64(v int64) uint64 { return uint64((v << 1) ^ (v >> 63)) }

// appendBytesField appends a length-delimited field.
func appendBytesField(b []byte, key byte, data []byte) []byte {
	b = append(b, key)
	b = appendVarint(b, uint64(len(data)))
	return append(b, data...)
}

func appendStringField(b []byte, key byte, s string) []byte {
	b = append(b, key)
	b = appendVarint(b, uint64(len(s)))
	return append(b, s...)
}

// encodeValue encodes a property value as a vector_tile Value message, or
// returns false for values tiles do not carry (nil, arrays, objects, long
// strings). Whole numbers become uint_value or sint_value, others
// double_value.
func encodeValue(v any) (string, bool) {
	var b []byte
	switch t := v.(type) {
	case string:
		if len(t) > maxStringProp {
			return "", false
		}
		b = appendStringField(make([]byte, 0, len(t)+3), keyValueString, t)
	case bool:
		x := uint64(0)
		if t {
			x = 1
		}
		b = appendVarint([]byte{keyValueBool}, x)
	case float64:
		return encodeNumber(t)
	case float32:
		return encodeNumber(float64(t))
	case int:
		return encodeInt(int64(t)), true
	case int32:
		return encodeInt(int64(t)), true
	case int64:
		return encodeInt(t), true
	case uint32:
		return encodeInt(int64(t)), true
	case interface{ Float64() (float64, error) }: // json.Number
		f, err := t.Float64()
		if err != nil {
			return "", false
		}
		return encodeNumber(f)
	default:
		return "", false
	}
	return string(b), true
}

func encodeNumber(f float64) (string, bool) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return "", false
	}
	if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
		return encodeInt(int64(f)), true
	}
	b := make([]byte, 9)
	b[0] = keyValueDouble
	binary.LittleEndian.PutUint64(b[1:], math.Float64bits(f))
	return string(b), true
}

func encodeInt(i int64) string {
	if i >= 0 {
		return string(appendVarint([]byte{keyValueUint}, uint64(i)))
	}
	return string(appendVarint([]byte{keyValueSint}, zigzag64(i)))
}

// maxStringProp is the longest string property (in bytes) put in tiles;
// longer ones (descriptions, long addresses) stay in the feature API.
const maxStringProp = 256
