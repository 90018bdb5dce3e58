// Package tiles serves Hexward's layers as Mapbox Vector Tiles 2.1, with a
// TileJSON 3.0 document and a MapLibre style, rendered in Go from an
// in-memory index instead of a per-request ST_AsMVT.
//
// # Rendering
//
// The Engine loads every layer of the catalogue once (Load), projects each
// feature to Web Mercator and keeps it in a per-layer R-tree, its scalar
// properties already encoded as vector-tile values and numbered in a
// per-layer dictionary. A tile is an R-tree query, a transform to tile
// coordinates (extent 4096), a clip to the extent plus the buffer (64), a
// Douglas–Peucker simplification with a tolerance of one tile unit,
// rounding, and dropping what became degenerate (rings without area, lines
// without length) — then a hand-written protobuf encoding. Features are in
// id order, so the same data gives the same bytes (and ETag) on every node.
//
// Feature ids are the store's ids, stable across renders, for MapLibre's
// feature-state. Only the scalar properties of the layer's schema are put
// in tiles (strings up to 256 bytes, numbers, booleans); point-valued
// properties and longer strings stay in the feature API. A layer appears
// only at zooms within its MinZoom..MaxZoom.
//
// # Caps: the rule
//
// Features are never dropped silently. When one layer has more than
// Options.MaxFeatures features (default 10 000) in a tile, that layer is
// merged. When the whole tile would be over Options.MaxTileBytes (default
// 500 000 bytes), the largest layer is merged, then the next, then merged
// again on a coarser grid, until the tile fits. Merging (see merge.go) turns
// planes into a few MultiPolygons of rectangles from a 256×256 footprint
// mask, lines into snapped, deduplicated segments, points into grid
// clusters; every merged feature has merged=true and count=N, and no id.
// Tile.Merged names the merged layers (the HTTP layer reports them in a
// header). No request parameter can raise either cap.
//
// # Scopes
//
// TileScoped limits a tile to a Scope, an area (MultiPolygon, lon/lat) of
// the admin hierarchy with a stable Key: a feature is in the scope when its
// anchor — grid.Anchor of its lon/lat geometry, kept in the index, the same
// point the store keeps for its SQL scope filter — lies inside the area or
// on its boundary (planar.MultiPolygonContains). Features anchored outside
// are not in the tile at all: not drawn, not counted against the caps, not
// folded into merged features. A render lays a 16×16 grid over the tile
// and tests the area's boundary against it once, so that only anchors in
// cells the boundary crosses (or outside the tile) need a polygon test;
// that test visits only the edges in the anchor's band of longitude, so
// its cost hardly grows with the vertices of a surveyed boundary, and it
// gives planar's answer bit for bit. Tile is TileScoped without a scope.
//
// # Cache and changes
//
// Rendered tiles are cached in memory in an LRU bounded by bytes, keyed by
// (sorted layer set, z, x, y, scope); the scope part is the Scope's Key
// with a hash of its Area, so one scope's tile is never served to another
// scope, to an unscoped request, or for an edited Area under the same Key
// (ForgetScope drops a Key's tiles at once). Concurrent requests for a cold
// tile render it once, and a render stops when no request waits for it any
// more. Apply, fed from the change log, updates the index from the source
// and invalidates exactly the cached tiles that each change's bounds touch
// — found through an index of cached tiles by coordinate, not by scanning
// the cache; a scoped tile only when the changed feature's old or new
// anchor is in its scope — and renders them again. A render that raced
// with a change is served but not cached. Warm renders a pyramid ahead on
// all cores, unscoped.
//
// Sub-packages: baseline has the per-request ST_AsMVT tile of a plain
// PostGIS tile server, for comparison; tilebench is the tile load tool.
package tiles
