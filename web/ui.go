package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The map UI: static files embedded in the binary. ui/vendor/ holds
// MapLibre GL JS and the SDF glyph ranges, copied from npm packages by
// scripts/ui-vendor.sh ("make ui"); it is not in git, so a build without
// npm embeds only ui/vendor/README.md and the page says how to get the rest.
//
//go:embed ui
var uiFiles embed.FS

// DefaultFontstack is the glyph font served for any fontstack the UI does
// not ship; the styles of tiles/style.go name it.
const DefaultFontstack = "Noto Sans Regular"

const (
	fontsDir = "vendor/fonts"
	// mapLibreModule is the file whose presence means "make ui" has run.
	mapLibreModule = "vendor/maplibre-gl.mjs"
	// vendorMarker is replaced in index.html by "ok" or "missing".
	vendorMarker = `data-vendor="unknown"`
)

var glyphRangeRe = regexp.MustCompile(`^([0-9]{1,7})-([0-9]{1,7})\.pbf$`)

// uiAsset is one file ready to serve.
type uiAsset struct {
	body  []byte
	ctype string
	etag  string
	cache string

	gzOnce sync.Once
	gz     []byte // gzip of body, when that is worth sending
}

// gzipped returns the gzip-compressed body, or nil for types that do not
// compress (glyph PBFs, images) or files too small to bother.
func (a *uiAsset) gzipped() []byte {
	if len(a.body) < 1024 || !strings.HasPrefix(a.ctype, "text/") && a.ctype != "application/json" {
		return nil
	}
	a.gzOnce.Do(func() {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		zw.Write(a.body)
		zw.Close()
		if buf.Len() < len(a.body)*9/10 {
			a.gz = buf.Bytes()
		}
	})
	return a.gz
}

// acceptsGzip reports whether the request's Accept-Encoding allows gzip.
func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(name), "gzip") {
			q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
			return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
		}
	}
	return false
}

type uiHandler struct {
	root      fs.FS
	index     *uiAsset
	vendorOK  bool
	fontstack map[string]string // fontstack name -> folder under root

	mu     sync.Mutex
	assets map[string]*uiAsset // by path under root, lazily hashed
}

// UIHandler serves the map UI: index.html at "/" (and "/index.html"), its
// scripts and styles, /vendor/* (MapLibre GL JS), and SDF glyphs at
// /fonts/{fontstack}/{range}.pbf for the styles' "glyphs" URL. Glyph ranges
// the vendored font lacks, and every range when "make ui" has not run, are
// answered with a valid empty range, so the map never sees a failed glyph
// request; CJK text is drawn by the browser from local fonts
// (localIdeographFontFamily in app.js). Only GET and HEAD are allowed;
// anything else under the handler is 404.
func UIHandler() http.Handler {
	root, err := fs.Sub(uiFiles, "ui")
	if err != nil {
		panic(err) // "ui" is embedded above; a failure is a build error
	}
	h, err := newUIHandler(root)
	if err != nil {
		panic(err) // likewise: index.html is part of the source tree
	}
	return h
}

// newUIHandler serves the UI from root (the embedded ui/ folder, or a test
// file system).
func newUIHandler(root fs.FS) (*uiHandler, error) {
	h := &uiHandler{root: root, fontstack: map[string]string{}, assets: map[string]*uiAsset{}}
	_, err := fs.Stat(root, mapLibreModule)
	h.vendorOK = err == nil

	raw, err := fs.ReadFile(root, "index.html")
	if err != nil {
		return nil, err
	}
	state := `data-vendor="missing"`
	if h.vendorOK {
		state = `data-vendor="ok"`
	}
	h.index = newAsset(bytes.Replace(raw, []byte(vendorMarker), []byte(state), 1), "index.html")

	if ents, err := fs.ReadDir(root, fontsDir); err == nil {
		for _, e := range ents {
			if e.IsDir() {
				h.fontstack[e.Name()] = path.Join(fontsDir, e.Name())
			}
		}
	}
	return h, nil
}

func (h *uiHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p := r.URL.Path
	switch {
	case p == "/" || p == "/index.html":
		h.serve(w, r, h.index)
		return
	case strings.HasPrefix(p, "/fonts/"):
		h.serveGlyphs(w, r, strings.TrimPrefix(p, "/fonts/"))
		return
	}
	name := strings.TrimPrefix(path.Clean(p), "/")
	if name == "" || name == "." || !fs.ValidPath(name) || strings.HasPrefix(name, fontsDir+"/") {
		http.NotFound(w, r)
		return
	}
	a := h.asset(name)
	if a == nil {
		http.NotFound(w, r)
		return
	}
	h.serve(w, r, a)
}

// asset loads, types and hashes one embedded file once.
func (h *uiHandler) asset(name string) *uiAsset {
	h.mu.Lock()
	defer h.mu.Unlock()
	if a, ok := h.assets[name]; ok {
		return a
	}
	st, err := fs.Stat(h.root, name)
	if err != nil || st.IsDir() || name == "index.html" {
		return nil // not cached: the map would grow with every bad URL
	}
	b, err := fs.ReadFile(h.root, name)
	if err != nil {
		return nil
	}
	a := newAsset(b, name)
	h.assets[name] = a
	return a
}

// serveGlyphs answers {fontstack}/{start}-{end}.pbf.
func (h *uiHandler) serveGlyphs(w http.ResponseWriter, r *http.Request, rest string) {
	stack, file, ok := strings.Cut(rest, "/")
	m := glyphRangeRe.FindStringSubmatch(file)
	if !ok || stack == "" || m == nil {
		http.NotFound(w, r)
		return
	}
	start, _ := strconv.Atoi(m[1])
	end, _ := strconv.Atoi(m[2])
	if start%256 != 0 || end != start+255 || end > 0x10FFFF {
		http.NotFound(w, r)
		return
	}
	// A fontstack is a comma-separated fallback list: use the first font we
	// ship, else the default one.
	dir := h.fontstack[DefaultFontstack]
	for _, f := range strings.Split(stack, ",") {
		if d, ok := h.fontstack[strings.TrimSpace(f)]; ok {
			dir = d
			break
		}
	}
	if dir != "" {
		if a := h.asset(path.Join(dir, file)); a != nil {
			h.serve(w, r, a)
			return
		}
	}
	h.serve(w, r, newAsset(emptyGlyphRange(stack, m[1]+"-"+m[2]), file))
}

func (h *uiHandler) serve(w http.ResponseWriter, r *http.Request, a *uiAsset) {
	hd := w.Header()
	hd.Set("Content-Type", a.ctype)
	hd.Set("Cache-Control", a.cache)
	hd.Set("X-Content-Type-Options", "nosniff")
	body, etag := a.body, a.etag
	if gz := a.gzipped(); gz != nil {
		hd.Add("Vary", "Accept-Encoding")
		if acceptsGzip(r) {
			body, etag = gz, strings.TrimSuffix(a.etag, `"`)+`-gz"`
			hd.Set("Content-Encoding", "gzip")
		}
	}
	hd.Set("ETag", etag)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}

func newAsset(body []byte, name string) *uiAsset {
	sum := sha256.Sum256(body)
	return &uiAsset{
		body:  body,
		ctype: uiContentType(name),
		etag:  `"` + hex.EncodeToString(sum[:12]) + `"`,
		cache: uiCacheControl(name),
	}
}

func uiContentType(name string) string {
	switch strings.ToLower(path.Ext(name)) {
	case ".html":
		return "text/html; charset=utf-8"
	case ".js", ".mjs":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".json":
		return "application/json"
	case ".pbf":
		return "application/x-protobuf"
	case ".svg":
		return "image/svg+xml"
	case ".png":
		return "image/png"
	case ".md", ".txt":
		return "text/plain; charset=utf-8"
	}
	return "application/octet-stream"
}

// uiCacheControl: the page and its own scripts are revalidated on every
// load (cheap: ETag → 304) so a new binary shows at once; vendored
// libraries and glyphs change only with "make ui" and may be cached a day.
func uiCacheControl(name string) string {
	if strings.HasPrefix(name, "vendor/") || strings.HasSuffix(name, ".pbf") {
		return "public, max-age=86400"
	}
	return "no-cache"
}

// emptyGlyphRange encodes a glyphs PBF (MapLibre glyphs.proto) holding one
// fontstack with the given name and range and no glyphs.
func emptyGlyphRange(stack, rng string) []byte {
	var fsMsg []byte
	fsMsg = appendPBFString(fsMsg, 1, stack)
	fsMsg = appendPBFString(fsMsg, 2, rng)
	return appendPBFBytes(nil, 1, fsMsg)
}

func appendPBFString(b []byte, field int, s string) []byte {
	return appendPBFBytes(b, field, []byte(s))
}

func appendPBFBytes(b []byte, field int, v []byte) []byte {
	b = appendVarint(b, uint64(field<<3|2))
	b = appendVarint(b, uint64(len(v)))
	return append(b, v...)
}

func appendVarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}
