package web

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"

	"github.com/hexward/hexward/internal/jsonerr"
	"github.com/hexward/hexward/layers"
)

// OGC API – Features Part 4: create, replace, update (merge patch), delete.

type inFeature struct {
	Type       string          `json:"type"`
	Geometry   json.RawMessage `json:"geometry"`
	Properties map[string]any  `json:"properties"`
	Features   []inFeature     `json:"features"` // a FeatureCollection posted for bulk creation
}

// decodeBody reads a JSON body into v, naming where malformed JSON breaks.
func decodeBody(r *http.Request, v any) error {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return err // *http.MaxBytesError becomes 413
	}
	if err := json.Unmarshal(body, v); err != nil {
		return badRequest("%s", jsonerr.Problem(err))
	}
	return nil
}

// geometry decodes a GeoJSON geometry, or nil when absent and allowed.
func geometry(raw json.RawMessage, index int) (orb.Geometry, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	g, err := geojson.UnmarshalGeometry(raw)
	if err != nil {
		return nil, badRequest("%s: geometry: %v", which(index), err)
	}
	if g.Coordinates == nil && g.Geometries == nil {
		return nil, badRequest("%s: geometry: type %q is not a GeoJSON geometry", which(index), g.Type)
	}
	return g.Geometry(), nil
}

// which names a feature by its position in a collection (-1: the only one).
func which(index int) string {
	if index < 0 {
		return "feature"
	}
	return fmt.Sprintf("feature %d", index)
}

func (in inFeature) toFeature(layer string, index int) (layers.Feature, error) {
	if in.Type != "Feature" {
		return layers.Feature{}, badRequest("%s: type must be \"Feature\", got %q", which(index), in.Type)
	}
	g, err := geometry(in.Geometry, index)
	if err != nil {
		return layers.Feature{}, err
	}
	return layers.Feature{Layer: layer, Geometry: g, Props: in.Properties}, nil
}

func (s *Server) createItem(w http.ResponseWriter, r *http.Request) error {
	l, err := s.layer(r)
	if err != nil {
		return err
	}
	var in inFeature
	if err := decodeBody(r, &in); err != nil {
		return err
	}
	if in.Type == "FeatureCollection" {
		fs := make([]layers.Feature, len(in.Features))
		for i, f := range in.Features {
			if fs[i], err = f.toFeature(l.Name, i); err != nil {
				return err
			}
		}
		st, err := s.store.Import(r.Context(), layers.FromSlice(fs), nil)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusCreated, jsonType, map[string]any{"created": st.Features})
		return nil
	}
	f, err := in.toFeature(l.Name, -1)
	if err != nil {
		return err
	}
	f, err = s.store.Create(r.Context(), f)
	if err != nil {
		return err
	}
	s.writeFeature(w, r, http.StatusCreated, f)
	return nil
}

func (s *Server) replaceItem(w http.ResponseWriter, r *http.Request) error {
	l, id, err := s.layerAndID(r)
	if err != nil {
		return err
	}
	var in inFeature
	if err := decodeBody(r, &in); err != nil {
		return err
	}
	f, err := in.toFeature(l.Name, -1)
	if err != nil {
		return err
	}
	f.ID = id
	if f, err = s.store.Replace(r.Context(), f); err != nil {
		return err
	}
	s.writeFeature(w, r, http.StatusOK, f)
	return nil
}

// patchItem applies a JSON merge patch (RFC 7396) to the properties, and
// replaces the geometry when one is given.
func (s *Server) patchItem(w http.ResponseWriter, r *http.Request) error {
	l, id, err := s.layerAndID(r)
	if err != nil {
		return err
	}
	var in inFeature
	if err := decodeBody(r, &in); err != nil {
		return err
	}
	g, err := geometry(in.Geometry, -1)
	if err != nil {
		return err
	}
	f, err := s.store.Patch(r.Context(), l.Name, id, g, in.Properties)
	if err != nil {
		return err
	}
	s.writeFeature(w, r, http.StatusOK, f)
	return nil
}

func (s *Server) deleteItem(w http.ResponseWriter, r *http.Request) error {
	l, id, err := s.layerAndID(r)
	if err != nil {
		return err
	}
	if err := s.store.Delete(r.Context(), l.Name, id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) writeFeature(w http.ResponseWriter, r *http.Request, status int, f layers.Feature) {
	loc := fmt.Sprintf("%s/api/collections/%s/items/%d", base(r), f.Layer, f.ID)
	w.Header().Set("Location", loc)
	gf := geojson.NewFeature(f.Geometry)
	gf.ID = f.ID
	gf.Properties = f.Props
	if gf.Properties == nil {
		gf.Properties = map[string]any{}
	}
	w.Header().Set("ETag", strconv.Quote(strconv.FormatInt(f.Updated.UnixNano(), 36)))
	writeJSON(w, status, geoJSONType, gf)
}
