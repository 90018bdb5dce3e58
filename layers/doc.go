// Package layers owns Hexward's layer catalogue (every map layer's geometry
// kind, property schema, zoom range and style), the PostGIS store with its
// single validated write path and change log, and import/export of features.
//
// Everything on the map is a layer: buildings, cameras, analysis results.
// The catalogue is plain data; the store (store.go) is the one place that
// writes features, and it validates each one against the catalogue first.
package layers
