package web

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/hexward/hexward/layers"
	"github.com/hexward/hexward/tiles"
)

// Vector tiles, TileJSON and the MapLibre style.

func (s *Server) layerList(list string) ([]string, error) {
	names := strings.Split(list, ",")
	for _, n := range names {
		if _, ok := s.cat.Layer(n); !ok {
			return nil, notFound("unknown layer %q", n)
		}
	}
	return names, nil
}

// parseTile reads z, x and y ("y.mvt") and checks they name a tile.
func parseTile(r *http.Request) (z, x, y uint32, err error) {
	ys, ok := strings.CutSuffix(r.PathValue("y"), ".mvt")
	if !ok {
		ys, ok = strings.CutSuffix(r.PathValue("y"), ".pbf")
	}
	if !ok {
		return 0, 0, 0, badRequest("tile path must end in {y}.mvt")
	}
	var v [3]uint64
	for i, s := range []string{r.PathValue("z"), r.PathValue("x"), ys} {
		if v[i], err = strconv.ParseUint(s, 10, 32); err != nil {
			return 0, 0, 0, badRequest("tile coordinate %q is not a non-negative integer", s)
		}
	}
	if v[0] > tiles.MaxZoom {
		return 0, 0, 0, badRequest("zoom %d above the maximum %d", v[0], tiles.MaxZoom)
	}
	if n := uint64(1) << v[0]; v[1] >= n || v[2] >= n {
		return 0, 0, 0, badRequest("tile %d/%d/%d does not exist: x and y must be below %d at zoom %d", v[0], v[1], v[2], n, v[0])
	}
	return uint32(v[0]), uint32(v[1]), uint32(v[2]), nil
}

func (s *Server) tile(w http.ResponseWriter, r *http.Request) error {
	names, err := s.layerList(r.PathValue("layers"))
	if err != nil {
		return err
	}
	z, x, y, err := parseTile(r)
	if err != nil {
		return err
	}
	scope, err := s.tileScope(r)
	if err != nil {
		return err
	}
	t, err := s.tiles.TileScoped(r.Context(), scope, names, z, x, y)
	if err != nil {
		return err
	}
	h := w.Header()
	data, etag := t.Data, t.ETag
	h.Set("Vary", "Accept-Encoding")
	if len(data) > 512 && strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
		// The compressed form is another representation: another ETag.
		data, etag = t.Gzipped(), strings.TrimSuffix(t.ETag, `"`)+`-gz"`
		h.Set("Content-Encoding", "gzip")
	}
	h.Set("ETag", etag)
	// Private: what a tile holds depends on who asks (area scopes). Kept,
	// but revalidated: edits change tiles at once.
	h.Set("Cache-Control", "private, no-cache")
	if len(t.Merged) > 0 {
		h.Set("X-Hexward-Merged", strings.Join(t.Merged, ","))
	}
	if match := r.Header.Get("If-None-Match"); match != "" && match == etag {
		h.Del("Content-Encoding")
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	h.Set("Content-Type", "application/vnd.mapbox-vector-tile")
	h.Set("Content-Length", strconv.Itoa(len(data)))
	_, _ = w.Write(data)
	return nil
}

func (s *Server) tileJSON(w http.ResponseWriter, r *http.Request) error {
	list, ok := strings.CutSuffix(r.PathValue("tilejson"), ".json")
	if !ok {
		return notFound("no such document: TileJSON is at /tiles/{layer}.json")
	}
	names, err := s.layerList(list)
	if err != nil {
		return err
	}
	url := base(r) + "/tiles/" + strings.Join(names, ",") + "/{z}/{x}/{y}.mvt"
	writeJSON(w, http.StatusOK, jsonType, tiles.TileJSON(s.cat, names, url, s.tiles.Bounds()))
	return nil
}

func (s *Server) style(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, jsonType, tiles.Style(s.cat, base(r), s.tiles.Bounds()))
	return nil
}

// tileScope is the caller's area scope for the tile engine, nil for a
// caller who sees everywhere. The area of a code is loaded once and kept
// until an admin area changes.
func (s *Server) tileScope(r *http.Request) (*tiles.Scope, error) {
	code := scopeOf(r)
	if code == "" {
		return nil, nil
	}
	s.scopeMu.Lock()
	sc, ok := s.scopes[code]
	s.scopeMu.Unlock()
	if ok {
		return sc, nil
	}
	area, err := s.store.ScopeArea(r.Context(), code)
	if err != nil && !errors.Is(err, layers.ErrNoArea) {
		return nil, err
	}
	// An unknown code is an empty area: the caller sees nothing.
	sc = &tiles.Scope{Key: code, Area: area}
	s.scopeMu.Lock()
	s.scopes[code] = sc
	s.scopeMu.Unlock()
	return sc, nil
}

func (s *Server) forgetScopes() {
	s.scopeMu.Lock()
	defer s.scopeMu.Unlock()
	for code := range s.scopes {
		s.tiles.ForgetScope(code)
	}
	clear(s.scopes)
}
