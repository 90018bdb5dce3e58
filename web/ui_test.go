package web

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
)

func uiGet(t *testing.T, h http.Handler, method, target string, hdr map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, target, nil)
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestUIHandlerEmbedded(t *testing.T) {
	h := UIHandler()
	for _, c := range []struct {
		path, ctype, cache, contains string
	}{
		{"/", "text/html; charset=utf-8", "no-cache", `<script type="module" src="app.js">`},
		{"/index.html", "text/html; charset=utf-8", "no-cache", "Hexward"},
		{"/app.js", "text/javascript; charset=utf-8", "no-cache", "hexwardMap"},
		{"/app.css", "text/css; charset=utf-8", "no-cache", ".hx-header"},
		{"/vendor/README.md", "text/plain; charset=utf-8", "public, max-age=86400", "make ui"},
	} {
		w := uiGet(t, h, "GET", c.path, nil)
		if w.Code != 200 {
			t.Fatalf("GET %s: %d", c.path, w.Code)
		}
		if got := w.Header().Get("Content-Type"); got != c.ctype {
			t.Errorf("GET %s: Content-Type %q, want %q", c.path, got, c.ctype)
		}
		if got := w.Header().Get("Cache-Control"); got != c.cache {
			t.Errorf("GET %s: Cache-Control %q, want %q", c.path, got, c.cache)
		}
		if w.Header().Get("ETag") == "" || w.Header().Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: headers %v", c.path, w.Header())
		}
		if !strings.Contains(w.Body.String(), c.contains) {
			t.Errorf("GET %s: body lacks %q", c.path, c.contains)
		}
	}
	idx := uiGet(t, h, "GET", "/", nil).Body.String()
	if strings.Contains(idx, vendorMarker) || !(strings.Contains(idx, `data-vendor="ok"`) || strings.Contains(idx, `data-vendor="missing"`)) {
		t.Errorf("index.html does not say whether MapLibre is vendored")
	}
	// Revalidation.
	w := uiGet(t, h, "GET", "/app.js", nil)
	if w2 := uiGet(t, h, "GET", "/app.js", map[string]string{"If-None-Match": w.Header().Get("ETag")}); w2.Code != http.StatusNotModified {
		t.Errorf("If-None-Match: %d, want 304", w2.Code)
	}
	// Text is sent gzipped to clients that take it, with its own ETag.
	plain := uiGet(t, h, "GET", "/app.js", nil)
	gz := uiGet(t, h, "GET", "/app.js", map[string]string{"Accept-Encoding": "gzip, deflate, br"})
	if gz.Header().Get("Content-Encoding") != "gzip" || gz.Body.Len() >= plain.Body.Len() || gz.Header().Get("ETag") == plain.Header().Get("ETag") {
		t.Errorf("gzip: %v, %d vs %d bytes", gz.Header(), gz.Body.Len(), plain.Body.Len())
	} else if zr, err := gzip.NewReader(gz.Body); err != nil {
		t.Error(err)
	} else if b, err := io.ReadAll(zr); err != nil || !bytes.Equal(b, plain.Body.Bytes()) {
		t.Errorf("gzip body differs: %v", err)
	}
	if !strings.Contains(plain.Header().Get("Vary"), "Accept-Encoding") || plain.Header().Get("Content-Encoding") != "" {
		t.Errorf("plain: %v", plain.Header())
	}
	if w := uiGet(t, h, "GET", "/app.js", map[string]string{"Accept-Encoding": "gzip;q=0"}); w.Header().Get("Content-Encoding") != "" {
		t.Errorf("gzip;q=0 still gzipped")
	}
	// Glyphs answer every valid range of any fontstack (empty where the
	// font has none), so MapLibre never sees a failed glyph request.
	for _, p := range []string{"/fonts/Noto%20Sans%20Regular/0-255.pbf", "/fonts/Open%20Sans%20Regular,Arial%20Unicode%20MS%20Regular/19968-20223.pbf"} {
		w := uiGet(t, h, "GET", p, nil)
		if w.Code != 200 || w.Header().Get("Content-Type") != "application/x-protobuf" || w.Body.Len() == 0 || w.Body.Bytes()[0] != 0x0a {
			t.Errorf("GET %s: %d %q % x", p, w.Code, w.Header().Get("Content-Type"), w.Body.Bytes()[:min(8, w.Body.Len())])
		}
	}
	for _, c := range []struct {
		method, path string
		code         int
	}{
		{"GET", "/nope.js", 404},
		{"GET", "/vendor/", 404},
		{"GET", "/vendor", 404},
		{"GET", "/fonts/Noto%20Sans%20Regular/1-256.pbf", 404},
		{"GET", "/fonts/Noto%20Sans%20Regular/0-255.png", 404},
		{"GET", "/fonts/0-255.pbf", 404},
		{"GET", "/../go.mod", 404},
		{"POST", "/", 405},
		{"HEAD", "/", 200},
	} {
		if w := uiGet(t, h, c.method, c.path, nil); w.Code != c.code {
			t.Errorf("%s %s: %d, want %d", c.method, c.path, w.Code, c.code)
		}
	}
}

func TestUIHandlerWithoutVendor(t *testing.T) {
	root := fstest.MapFS{
		"index.html":       {Data: []byte(`<html data-vendor="unknown"><script type="module" src="app.js"></script></html>`)},
		"app.js":           {Data: []byte(`// app`)},
		"vendor/README.md": {Data: []byte("run make ui")},
	}
	h, err := newUIHandler(root)
	if err != nil {
		t.Fatal(err)
	}
	if body := uiGet(t, h, "GET", "/", nil).Body.String(); !strings.Contains(body, `data-vendor="missing"`) {
		t.Errorf("index without MapLibre: %s", body)
	}
	if w := uiGet(t, h, "GET", "/vendor/maplibre-gl.mjs", nil); w.Code != 404 {
		t.Errorf("missing MapLibre: %d", w.Code)
	}
	w := uiGet(t, h, "GET", "/fonts/Noto%20Sans%20Regular/0-255.pbf", nil)
	want := emptyGlyphRange("Noto Sans Regular", "0-255")
	if w.Code != 200 || !bytes.Equal(w.Body.Bytes(), want) {
		t.Errorf("glyphs without fonts: %d % x", w.Code, w.Body.Bytes())
	}
}

func TestEmptyGlyphRange(t *testing.T) {
	// The bytes of an empty range as font tools write it.
	want := append([]byte{0x0a, 0x20, 0x0a, 0x11}, "Noto Sans Regular"...)
	want = append(want, 0x12, 0x0b)
	want = append(want, "10240-10495"...)
	if got := emptyGlyphRange("Noto Sans Regular", "10240-10495"); !bytes.Equal(got, want) {
		t.Errorf("emptyGlyphRange\n got % x\nwant % x", got, want)
	}
}
