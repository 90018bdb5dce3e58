package osm

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/paulmach/osm"
	"google.golang.org/protobuf/encoding/protowire"
)

// This file decodes OSM PBF (https://wiki.openstreetmap.org/wiki/PBF_Format)
// for Read. It replaces github.com/paulmach/osm/osmpbf, which trusts its
// input: it indexes the string table and parallel arrays unchecked, slices
// with negative sizes from the file and inflates blobs without a limit,
// and it does so in goroutines of its own, where a panic cannot be
// recovered: a malformed file killed the process. Here every index, count
// and size is checked and bounded, decoding runs on the caller's
// goroutine, and objects go to the callback as they are decoded.

// Limits of the format: a BlobHeader is smaller than 64 KiB, a Blob and
// its uncompressed data smaller than 32 MiB.
const (
	pbfMaxHeader = 64 << 10
	pbfMaxBlob   = 32 << 20
)

// pbfFeatures are the required_features this decoder can read.
var pbfFeatures = map[string]bool{"OsmSchema-V0.6": true, "DenseNodes": true}

// scanPBF calls fn for every node, way (unless skipWays) and relation of
// an OSM PBF stream, in file order. Decoding errors are wrapped as
// "osm: reading OSM PBF: block N at byte B: ..."; an error from fn and the
// context's error are returned unchanged. Unknown block types are skipped,
// as the format asks; an empty stream has no objects.
func scanPBF(ctx context.Context, r io.Reader, skipWays bool, fn func(osm.Object) error) error {
	d := &pbfDecoder{fn: fn, skipWays: skipWays}
	var off int64
	for n := 0; ; n++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		typ, blob, size, err := readBlock(r)
		if err == io.EOF {
			return nil
		}
		if err == nil && (typ == "OSMHeader" || typ == "OSMData") {
			var data []byte
			if data, err = blobData(blob); err == nil {
				if typ == "OSMHeader" {
					err = checkHeader(data)
				} else {
					err = d.block(data)
				}
			}
		}
		if err == errEmit {
			return d.emitErr
		}
		if err != nil {
			return fmt.Errorf("osm: reading %v: block %d at byte %d: %w", PBF, n, off, err)
		}
		off += size
	}
}

// readBlock reads one file block: the type from its BlobHeader, its Blob
// and its size in the stream. It returns io.EOF at the end of the stream
// (between blocks) and io.ErrUnexpectedEOF inside a block.
func readBlock(r io.Reader) (typ string, blob []byte, size int64, err error) {
	var head [4]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return "", nil, 0, err
	}
	n := binary.BigEndian.Uint32(head[:])
	if n >= pbfMaxHeader {
		return "", nil, 0, fmt.Errorf("blob header of %d bytes, the limit is %d", n, pbfMaxHeader)
	}
	hdr, err := readN(r, int64(n))
	if err != nil {
		return "", nil, 0, err
	}
	hasType, datasize := false, int64(-1)
	m := msg{b: hdr}
	for m.next() {
		switch m.num {
		case 1:
			var b []byte
			b, err = m.bytes()
			typ, hasType = string(b), true
		case 3:
			var v uint64
			if v, err = m.varint(); err == nil && v >= pbfMaxBlob {
				// a negative int32 is a huge varint
				err = fmt.Errorf("blob of %d bytes, the limit is %d", int32(v), pbfMaxBlob)
			}
			datasize = int64(v)
		}
		if err != nil {
			return "", nil, 0, err
		}
	}
	switch {
	case m.err != nil:
		return "", nil, 0, fmt.Errorf("blob header: %w", m.err)
	case !hasType:
		return "", nil, 0, errors.New("blob header without a type")
	case datasize < 0:
		return "", nil, 0, errors.New("blob header without a data size")
	}
	if blob, err = readN(r, datasize); err != nil {
		return "", nil, 0, err
	}
	return typ, blob, 4 + int64(n) + datasize, nil
}

// readN reads exactly n bytes, growing its buffer as they arrive rather
// than trusting n up front.
func readN(r io.Reader, n int64) ([]byte, error) {
	const chunk = 1 << 20
	buf := make([]byte, 0, min(n, chunk))
	for int64(len(buf)) < n {
		k := int(min(n-int64(len(buf)), chunk))
		buf = slices.Grow(buf, k)
		got, err := io.ReadFull(r, buf[len(buf):len(buf)+k])
		buf = buf[:len(buf)+got]
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		if err != nil {
			return nil, err
		}
	}
	return buf, nil
}

// blobData returns the uncompressed data of a Blob: raw, or zlib inflated
// to exactly its raw_size.
func blobData(blob []byte) ([]byte, error) {
	var raw, zdata []byte
	hasRaw, hasZlib, rawSize := false, false, int64(-1)
	m := msg{b: blob}
	for m.next() {
		var err error
		switch m.num {
		case 1:
			raw, err = m.bytes()
			hasRaw = true
		case 2:
			var v uint64
			if v, err = m.varint(); err == nil && v >= pbfMaxBlob {
				err = fmt.Errorf("uncompressed blob of %d bytes, the limit is %d", int32(v), pbfMaxBlob)
			}
			rawSize = int64(v)
		case 3:
			zdata, err = m.bytes()
			hasZlib = true
		case 4, 5, 6, 7:
			err = fmt.Errorf("%s-compressed blob: only zlib and uncompressed blobs are supported",
				map[protowire.Number]string{4: "LZMA", 5: "bzip2", 6: "LZ4", 7: "Zstandard"}[m.num])
		}
		if err != nil {
			return nil, err
		}
	}
	switch {
	case m.err != nil:
		return nil, fmt.Errorf("blob: %w", m.err)
	case hasRaw:
		return raw, nil
	case !hasZlib:
		return nil, errors.New("blob without data")
	case rawSize < 0:
		return nil, errors.New("zlib blob without its uncompressed size")
	}
	zr, err := zlib.NewReader(bytes.NewReader(zdata))
	if err != nil {
		return nil, fmt.Errorf("zlib: %w", err)
	}
	data, err := readN(zr, rawSize)
	if err == io.ErrUnexpectedEOF {
		return nil, fmt.Errorf("zlib data shorter than its uncompressed size %d", rawSize)
	}
	if err != nil {
		return nil, fmt.Errorf("zlib: %w", err)
	}
	var one [1]byte
	switch _, err := io.ReadFull(zr, one[:]); err {
	case io.EOF: // the end, checksum verified
	case nil:
		return nil, fmt.Errorf("zlib data longer than its uncompressed size %d", rawSize)
	default:
		return nil, fmt.Errorf("zlib: %w", err)
	}
	return data, nil
}

// checkHeader checks that the header block asks for nothing this decoder
// lacks.
func checkHeader(data []byte) error {
	m := msg{b: data}
	for m.next() {
		if m.num != 4 { // required_features
			continue
		}
		b, err := m.bytes()
		if err != nil {
			return err
		}
		if !pbfFeatures[string(b)] {
			return fmt.Errorf("the file requires feature %q, which this reader lacks", b)
		}
	}
	if m.err != nil {
		return fmt.Errorf("header block: %w", m.err)
	}
	return nil
}

// pbfDecoder is the state of one scan of a PBF stream.
type pbfDecoder struct {
	fn       func(osm.Object) error
	skipWays bool
	emitErr  error // what fn returned, passed on unchanged
}

// errEmit stops the decoding when fn has returned an error.
var errEmit = errors.New("osm: emit failed")

func (d *pbfDecoder) emit(o osm.Object) error {
	if err := d.fn(o); err != nil {
		d.emitErr = err
		return errEmit
	}
	return nil
}

// primBlock is what the elements of a PrimitiveBlock share.
type primBlock struct {
	st                   []string
	gran, latOff, lonOff int64
}

// str returns string i of the string table.
func (pb *primBlock) str(i uint64) (string, error) {
	if i >= uint64(len(pb.st)) {
		return "", fmt.Errorf("string %d outside the string table of %d", i, len(pb.st))
	}
	return pb.st[i], nil
}

// coord converts a coordinate in units of granularity to degrees, as
// the format defines it.
func (pb *primBlock) coord(off, v int64) float64 { return 1e-9 * float64(off+pb.gran*v) }

// block decodes a PrimitiveBlock. Its fields may come in any order: the
// string table and the granularity are read before the groups.
func (d *pbfDecoder) block(data []byte) error {
	pb := primBlock{gran: 100}
	var groups [][]byte
	m := msg{b: data}
	for m.next() {
		var err error
		var b []byte
		var v uint64
		switch m.num {
		case 1: // stringtable
			if b, err = m.bytes(); err == nil {
				st := msg{b: b}
				for st.next() {
					if st.num == 1 {
						s, err := st.bytes()
						if err != nil {
							return fmt.Errorf("string table: %w", err)
						}
						pb.st = append(pb.st, string(s))
					}
				}
				if st.err != nil {
					return fmt.Errorf("string table: %w", st.err)
				}
			}
		case 2:
			b, err = m.bytes()
			groups = append(groups, b)
		case 17:
			v, err = m.varint()
			pb.gran = int64(int32(v))
		case 19:
			v, err = m.varint()
			pb.latOff = int64(v)
		case 20:
			v, err = m.varint()
			pb.lonOff = int64(v)
		}
		if err != nil {
			return err
		}
	}
	if m.err != nil {
		return fmt.Errorf("primitive block: %w", m.err)
	}
	for _, g := range groups {
		if err := d.group(&pb, g); err != nil {
			return err
		}
	}
	return nil
}

func (d *pbfDecoder) group(pb *primBlock, data []byte) error {
	m := msg{b: data}
	for m.next() {
		if m.num < 1 || m.num > 4 || m.num == 3 && d.skipWays {
			continue // changesets, unknown fields
		}
		b, err := m.bytes()
		if err != nil {
			return err
		}
		switch m.num {
		case 1:
			err = d.node(pb, b)
		case 2:
			err = d.dense(pb, b)
		case 3:
			err = d.way(pb, b)
		case 4:
			err = d.relation(pb, b)
		}
		if err != nil {
			return err
		}
	}
	if m.err != nil {
		return fmt.Errorf("primitive group: %w", m.err)
	}
	return nil
}

// tags pairs the string-table indexes in keys and vals.
func (pb *primBlock) tags(keys, vals []byte) (osm.Tags, error) {
	n := count(keys)
	if n != count(vals) {
		return nil, fmt.Errorf("%d tag keys but %d values", n, count(vals))
	}
	if n == 0 {
		return nil, nil
	}
	tags := make(osm.Tags, 0, n)
	k, v := vlist{keys}, vlist{vals}
	for k.more() {
		ki, err := k.next()
		if err != nil {
			return nil, err
		}
		vi, err := v.next()
		if err != nil {
			return nil, err
		}
		var t osm.Tag
		if t.Key, err = pb.str(ki); err != nil {
			return nil, err
		}
		if t.Value, err = pb.str(vi); err != nil {
			return nil, err
		}
		tags = append(tags, t)
	}
	return tags, nil
}

// node decodes a Node (not dense).
func (d *pbfDecoder) node(pb *primBlock, data []byte) error {
	var keys, vals []byte
	var id, lat, lon uint64
	var has [3]bool
	m := msg{b: data}
	for m.next() {
		var err error
		switch m.num {
		case 1:
			id, err = m.varint()
			has[0] = true
		case 2:
			keys, err = m.varints(keys)
		case 3:
			vals, err = m.varints(vals)
		case 8:
			lat, err = m.varint()
			has[1] = true
		case 9:
			lon, err = m.varint()
			has[2] = true
		}
		if err != nil {
			return fmt.Errorf("node: %w", err)
		}
	}
	if m.err != nil {
		return fmt.Errorf("node: %w", m.err)
	}
	if has != [3]bool{true, true, true} {
		return errors.New("node without id, lat or lon")
	}
	tags, err := pb.tags(keys, vals)
	if err != nil {
		return fmt.Errorf("node %d: %w", protowire.DecodeZigZag(id), err)
	}
	return d.emit(&osm.Node{
		ID:      osm.NodeID(protowire.DecodeZigZag(id)),
		Lat:     pb.coord(pb.latOff, protowire.DecodeZigZag(lat)),
		Lon:     pb.coord(pb.lonOff, protowire.DecodeZigZag(lon)),
		Visible: true,
		Tags:    tags,
	})
}

// dense decodes DenseNodes: parallel delta-coded arrays of ids and
// coordinates, and the tags of all the nodes in one array of string
// indexes, each node's ended by a 0.
func (d *pbfDecoder) dense(pb *primBlock, data []byte) error {
	var ids, lats, lons, kv []byte
	m := msg{b: data}
	for m.next() {
		var err error
		switch m.num {
		case 1:
			ids, err = m.varints(ids)
		case 8:
			lats, err = m.varints(lats)
		case 9:
			lons, err = m.varints(lons)
		case 10:
			kv, err = m.varints(kv)
		}
		if err != nil {
			return fmt.Errorf("dense nodes: %w", err)
		}
	}
	if m.err != nil {
		return fmt.Errorf("dense nodes: %w", m.err)
	}
	n := count(ids)
	if count(lats) != n || count(lons) != n {
		return fmt.Errorf("dense nodes: %d ids, %d latitudes, %d longitudes", n, count(lats), count(lons))
	}
	idv, latv, lonv, kvv := vlist{ids}, vlist{lats}, vlist{lons}, vlist{kv}
	var id, lat, lon int64
	for idv.more() {
		var delta [3]uint64
		for j, v := range []*vlist{&idv, &latv, &lonv} {
			var err error
			if delta[j], err = v.next(); err != nil {
				return fmt.Errorf("dense nodes: %w", err)
			}
		}
		id += protowire.DecodeZigZag(delta[0])
		lat += protowire.DecodeZigZag(delta[1])
		lon += protowire.DecodeZigZag(delta[2])
		node := &osm.Node{ID: osm.NodeID(id), Lat: pb.coord(pb.latOff, lat), Lon: pb.coord(pb.lonOff, lon), Visible: true}
		// keys_vals is empty when no node of the group has tags.
		for len(kv) > 0 {
			k, err := kvv.next()
			if err != nil {
				return fmt.Errorf("dense node %d: tags: %w", id, err)
			}
			if k == 0 {
				break
			}
			v, err := kvv.next()
			if err != nil {
				return fmt.Errorf("dense node %d: tags: %w", id, err)
			}
			var t osm.Tag
			if t.Key, err = pb.str(k); err != nil {
				return fmt.Errorf("dense node %d: %w", id, err)
			}
			if t.Value, err = pb.str(v); err != nil {
				return fmt.Errorf("dense node %d: %w", id, err)
			}
			node.Tags = append(node.Tags, t)
		}
		if err := d.emit(node); err != nil {
			return err
		}
	}
	return nil
}

// way decodes a Way: its node refs are delta coded.
func (d *pbfDecoder) way(pb *primBlock, data []byte) error {
	var keys, vals, refs []byte
	var id uint64
	hasID := false
	m := msg{b: data}
	for m.next() {
		var err error
		switch m.num {
		case 1:
			id, err = m.varint()
			hasID = true
		case 2:
			keys, err = m.varints(keys)
		case 3:
			vals, err = m.varints(vals)
		case 8:
			refs, err = m.varints(refs)
		}
		if err != nil {
			return fmt.Errorf("way: %w", err)
		}
	}
	if m.err != nil {
		return fmt.Errorf("way: %w", m.err)
	}
	if !hasID {
		return errors.New("way without id")
	}
	w := &osm.Way{ID: osm.WayID(id), Visible: true}
	var err error
	if w.Tags, err = pb.tags(keys, vals); err != nil {
		return fmt.Errorf("way %d: %w", w.ID, err)
	}
	if n := count(refs); n > 0 {
		w.Nodes = make(osm.WayNodes, 0, n)
	}
	var ref int64
	for rv := (vlist{refs}); rv.more(); {
		delta, err := rv.next()
		if err != nil {
			return fmt.Errorf("way %d: nodes: %w", w.ID, err)
		}
		ref += protowire.DecodeZigZag(delta)
		w.Nodes = append(w.Nodes, osm.WayNode{ID: osm.NodeID(ref)})
	}
	return d.emit(w)
}

// relation decodes a Relation: its members are three parallel arrays of
// roles (string indexes), delta-coded ids and types.
func (d *pbfDecoder) relation(pb *primBlock, data []byte) error {
	var keys, vals, roles, ids, types []byte
	var id uint64
	hasID := false
	m := msg{b: data}
	for m.next() {
		var err error
		switch m.num {
		case 1:
			id, err = m.varint()
			hasID = true
		case 2:
			keys, err = m.varints(keys)
		case 3:
			vals, err = m.varints(vals)
		case 8:
			roles, err = m.varints(roles)
		case 9:
			ids, err = m.varints(ids)
		case 10:
			types, err = m.varints(types)
		}
		if err != nil {
			return fmt.Errorf("relation: %w", err)
		}
	}
	if m.err != nil {
		return fmt.Errorf("relation: %w", m.err)
	}
	if !hasID {
		return errors.New("relation without id")
	}
	rel := &osm.Relation{ID: osm.RelationID(id), Visible: true}
	var err error
	if rel.Tags, err = pb.tags(keys, vals); err != nil {
		return fmt.Errorf("relation %d: %w", rel.ID, err)
	}
	n := count(roles)
	if count(ids) != n || count(types) != n {
		return fmt.Errorf("relation %d: %d member roles, %d ids, %d types", rel.ID, n, count(ids), count(types))
	}
	if n > 0 {
		rel.Members = make(osm.Members, 0, n)
	}
	rv, iv, tv := vlist{roles}, vlist{ids}, vlist{types}
	var ref int64
	for rv.more() {
		var v [3]uint64
		for j, it := range []*vlist{&rv, &iv, &tv} {
			if v[j], err = it.next(); err != nil {
				return fmt.Errorf("relation %d: members: %w", rel.ID, err)
			}
		}
		mem := osm.Member{}
		if mem.Role, err = pb.str(v[0]); err != nil {
			return fmt.Errorf("relation %d: member role: %w", rel.ID, err)
		}
		ref += protowire.DecodeZigZag(v[1])
		mem.Ref = ref
		switch v[2] {
		case 0:
			mem.Type = osm.TypeNode
		case 1:
			mem.Type = osm.TypeWay
		case 2:
			mem.Type = osm.TypeRelation
		default:
			return fmt.Errorf("relation %d: member type %d", rel.ID, v[2])
		}
		rel.Members = append(rel.Members, mem)
	}
	return d.emit(rel)
}

// msg walks the fields of a protocol buffers message.
type msg struct {
	b   []byte
	err error

	num protowire.Number // of the current field
	typ protowire.Type
	v   uint64 // its value if a varint
	val []byte // its value if length-delimited
}

// next moves to the next field; it returns false at the end of the
// message or on malformed input (then err is set).
func (m *msg) next() bool {
	if m.err != nil || len(m.b) == 0 {
		return false
	}
	num, typ, n := protowire.ConsumeTag(m.b)
	if n < 0 {
		m.err = protowire.ParseError(n)
		return false
	}
	m.b = m.b[n:]
	m.num, m.typ = num, typ
	switch typ {
	case protowire.VarintType:
		m.v, n = protowire.ConsumeVarint(m.b)
	case protowire.BytesType:
		m.val, n = protowire.ConsumeBytes(m.b)
	default:
		n = protowire.ConsumeFieldValue(num, typ, m.b)
	}
	if n < 0 {
		m.err = protowire.ParseError(n)
		return false
	}
	m.b = m.b[n:]
	return true
}

func (m *msg) wireErr(want string) error {
	return fmt.Errorf("field %d has wire type %d, want %s", m.num, m.typ, want)
}

// varint returns the current field's value, which must be a varint.
func (m *msg) varint() (uint64, error) {
	if m.typ != protowire.VarintType {
		return 0, m.wireErr("a varint")
	}
	return m.v, nil
}

// bytes returns the current field's value, which must be length-delimited.
func (m *msg) bytes() ([]byte, error) {
	if m.typ != protowire.BytesType {
		return nil, m.wireErr("bytes")
	}
	return m.val, nil
}

// varints appends the current field, a repeated varint field either
// packed or not, to the varints collected so far in acc (without
// modifying the message's bytes).
func (m *msg) varints(acc []byte) ([]byte, error) {
	switch m.typ {
	case protowire.BytesType:
		if acc == nil {
			return m.val, nil
		}
		return append(slices.Clip(acc), m.val...), nil
	case protowire.VarintType:
		return protowire.AppendVarint(slices.Clip(acc), m.v), nil
	}
	return acc, m.wireErr("varints")
}

// vlist iterates over concatenated varints.
type vlist struct{ b []byte }

func (v *vlist) more() bool { return len(v.b) > 0 }

func (v *vlist) next() (uint64, error) {
	x, n := protowire.ConsumeVarint(v.b)
	if n < 0 {
		if len(v.b) == 0 {
			return 0, errors.New("array ends early")
		}
		return 0, fmt.Errorf("array: %w", protowire.ParseError(n))
	}
	v.b = v.b[n:]
	return x, nil
}

// count returns how many varints b holds (the bytes that end one).
func count(b []byte) int {
	n := 0
	for _, c := range b {
		if c < 0x80 {
			n++
		}
	}
	return n
}
