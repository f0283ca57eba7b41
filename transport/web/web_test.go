package web

import (
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
)

func get(t *testing.T, h http.Handler, method, path string, hdr ...string) *http.Response {
	t.Helper()
	r := httptest.NewRequest(method, path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Result()
}

func body(t *testing.T, res *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestIndexNamesVersionedAssets(t *testing.T) {
	h := Handler()
	res := get(t, h, "GET", "/")
	if res.StatusCode != 200 {
		t.Fatalf("GET /: %d", res.StatusCode)
	}
	if ct := res.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("content type %q", ct)
	}
	if cc := res.Header.Get("Cache-Control"); cc != "no-cache" {
		t.Errorf("index cache-control %q, want no-cache (revalidate every load)", cc)
	}
	for _, k := range []string{"Content-Security-Policy", "X-Content-Type-Options", "ETag"} {
		if res.Header.Get(k) == "" {
			t.Errorf("index without %s", k)
		}
	}
	page := body(t, res)
	if strings.Contains(page, assetsPlaceholder) {
		t.Fatal("placeholder left in index.html")
	}
	refs := regexp.MustCompile(`(?:src|href)="(/static/[^"]+)"`).FindAllStringSubmatch(page, -1)
	if len(refs) < 3 {
		t.Fatalf("index references %d assets, want the script, the stylesheet and the icon", len(refs))
	}
	for _, m := range refs {
		if !strings.HasPrefix(m[1], "/static/v-"+Version()+"/") {
			t.Errorf("asset %s is not under the versioned prefix", m[1])
		}
		res := get(t, h, "GET", m[1])
		if res.StatusCode != 200 {
			t.Errorf("%s: %d", m[1], res.StatusCode)
		}
		if cc := res.Header.Get("Cache-Control"); !strings.Contains(cc, "immutable") {
			t.Errorf("%s: cache-control %q, want immutable", m[1], cc)
		}
	}
}

func TestContentTypes(t *testing.T) {
	h := Handler()
	for path, want := range map[string]string{
		"/static/js/app.js":   "text/javascript; charset=utf-8",
		"/static/app.css":     "text/css; charset=utf-8",
		"/static/favicon.svg": "image/svg+xml",
		"/static/docs.css":    "text/css; charset=utf-8",
	} {
		res := get(t, h, "GET", path)
		if res.StatusCode != 200 || res.Header.Get("Content-Type") != want {
			t.Errorf("%s: %d %q, want 200 %q", path, res.StatusCode, res.Header.Get("Content-Type"), want)
		}
		if res.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: no nosniff", path)
		}
		if cc := res.Header.Get("Cache-Control"); cc != "no-cache" {
			t.Errorf("%s unversioned: cache-control %q, want no-cache", path, cc)
		}
	}
}

func TestFallbackAndNotFound(t *testing.T) {
	h := Handler()
	for _, p := range []string{"/w/123/c/456", "/invite/abc", "/anything"} {
		res := get(t, h, "GET", p)
		if res.StatusCode != 200 || !strings.Contains(body(t, res), `<div id="app">`) {
			t.Errorf("%s: %d, want the index page", p, res.StatusCode)
		}
	}
	for _, p := range []string{"/api/nope", "/api", "/ws/x", "/static/missing.js", "/missing.png",
		"/static/index.html", "/static/v-" + Version() + "/nope.css"} {
		if res := get(t, h, "GET", p); res.StatusCode != 404 {
			t.Errorf("%s: %d, want 404", p, res.StatusCode)
		}
	}
	res := get(t, h, "POST", "/")
	if res.StatusCode != 405 || res.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST /: %d allow %q, want 405 GET, HEAD", res.StatusCode, res.Header.Get("Allow"))
	}
}

func TestOldVersionIsNotCachedForever(t *testing.T) {
	res := get(t, Handler(), "GET", "/static/v-000000000000/js/app.js")
	if res.StatusCode != 200 || res.Header.Get("Cache-Control") != "no-cache" {
		t.Errorf("stale version: %d %q, want the current file, revalidated", res.StatusCode, res.Header.Get("Cache-Control"))
	}
}

func TestConditionalAndGzip(t *testing.T) {
	h := Handler()
	res := get(t, h, "GET", "/static/js/app.js")
	etag := res.Header.Get("ETag")
	plain := body(t, res)
	if res := get(t, h, "GET", "/static/js/app.js", "If-None-Match", etag); res.StatusCode != 304 {
		t.Errorf("If-None-Match: %d, want 304", res.StatusCode)
	}
	if res := get(t, h, "HEAD", "/static/js/app.js"); res.StatusCode != 200 || body(t, res) != "" {
		t.Errorf("HEAD: %d with a body", res.StatusCode)
	}

	res = get(t, h, "GET", "/static/js/app.js", "Accept-Encoding", "br, gzip")
	if res.Header.Get("Content-Encoding") != "gzip" || !strings.Contains(res.Header.Get("Vary"), "Accept-Encoding") {
		t.Fatalf("gzip: encoding %q vary %q", res.Header.Get("Content-Encoding"), res.Header.Get("Vary"))
	}
	if res.Header.Get("ETag") == etag {
		t.Error("gzip and identity share an ETag")
	}
	zr, err := gzip.NewReader(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	unz, _ := io.ReadAll(zr)
	if string(unz) != plain {
		t.Error("gzip body differs from the plain one")
	}
	if res := get(t, h, "GET", "/static/js/app.js", "Accept-Encoding", "gzip;q=0"); res.Header.Get("Content-Encoding") != "" {
		t.Error("gzip;q=0 still compressed")
	}
}

func TestDocs(t *testing.T) {
	res := get(t, Docs(), "GET", "/docs")
	page := body(t, res)
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("docs: %d %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
	if !strings.Contains(page, "/static/v-"+Version()+"/js/docs.js") || !strings.Contains(page, "/openapi.json") {
		t.Error("docs page does not load its script or name /openapi.json")
	}
	if strings.Contains(page, "http://") || strings.Contains(page, "https://") {
		t.Error("docs page references another origin")
	}
}

// TestNoThirdPartyOrigins: the client loads nothing from elsewhere (no CDN) and has no
// inline script or style that the Content-Security-Policy would block.
func TestNoThirdPartyOrigins(t *testing.T) {
	s := mustSite()
	for name, a := range s.files {
		text := string(a.body)
		if m := regexp.MustCompile(`(?:src|href|import[^'"]*from)\s*=?\s*["'](https?:)?//`).FindString(text); m != "" {
			t.Errorf("%s loads from another origin: %s", name, m)
		}
		if strings.HasSuffix(name, ".html") && (strings.Contains(text, "<script>") || strings.Contains(text, "<style") || strings.Contains(text, " style=")) {
			t.Errorf("%s has inline script or style", name)
		}
	}
}

func TestLoadSiteRequiresPages(t *testing.T) {
	if _, err := loadSite(fstest.MapFS{"docs.html": {Data: []byte("x")}}); err == nil {
		t.Error("no index.html: no error")
	}
	s, err := loadSite(fstest.MapFS{
		"index.html": {Data: []byte(`<script src="{{ASSETS}}/a.js">`)},
		"docs.html":  {Data: []byte("d")},
		"a.js":       {Data: []byte("x")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := `<script src="/static/v-` + s.version + `/a.js">`; string(s.index.body) != want {
		t.Errorf("index %q, want %q", s.index.body, want)
	}
}
