// Package web is Hexward's HTTP edge: the OGC API – Features (read and
// Part 4 writes), vector tiles with TileJSON and the MapLibre style, health,
// metrics and the map UI. Handlers are thin: they parse and check input,
// call layers and tiles, and write JSON. Every route is declared in one
// table (routes.go) with what it needs; the one authorisation point
// (authorize) decides before any handler runs.
package web
