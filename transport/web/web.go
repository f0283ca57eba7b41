package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"sync"
)

//go:embed static
var embedded embed.FS

// assetsPlaceholder in the HTML pages is replaced by the versioned asset prefix.
const assetsPlaceholder = "{{ASSETS}}"

// contentSecurityPolicy allows only this origin: scripts, styles, fetches and the WebSocket.
// No inline script or style is used by the pages.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self' ws: wss:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"

// asset is one file ready to serve.
type asset struct {
	body        []byte
	gzipped     []byte // nil when compression does not pay
	contentType string
	etag        string
}

// site holds every asset, read once from the embedded files.
type site struct {
	version string // hash of every embedded file
	prefix  string // "/static/v-{version}"
	files   map[string]*asset
	index   *asset
	docs    *asset
}

var contentTypes = map[string]string{
	".html":        "text/html; charset=utf-8",
	".js":          "text/javascript; charset=utf-8",
	".mjs":         "text/javascript; charset=utf-8",
	".css":         "text/css; charset=utf-8",
	".json":        "application/json",
	".svg":         "image/svg+xml",
	".png":         "image/png",
	".ico":         "image/x-icon",
	".webmanifest": "application/manifest+json",
	".txt":         "text/plain; charset=utf-8",
}

func loadSite(fsys fs.FS) (*site, error) {
	s := &site{files: map[string]*asset{}}
	raw := map[string][]byte{}
	h := sha256.New()
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		raw[p] = b
		fmt.Fprintf(h, "%s\x00%d\x00", p, len(b)) // WalkDir's lexical order makes this stable
		h.Write(b)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("web: read embedded assets: %w", err)
	}
	s.version = hex.EncodeToString(h.Sum(nil))[:12]
	s.prefix = "/static/v-" + s.version
	for p, b := range raw {
		ct, ok := contentTypes[path.Ext(p)]
		if !ok {
			ct = "application/octet-stream"
		}
		if strings.HasSuffix(p, ".html") {
			b = bytes.ReplaceAll(b, []byte(assetsPlaceholder), []byte(s.prefix))
		}
		s.files[p] = newAsset(b, ct)
	}
	if s.index = s.files["index.html"]; s.index == nil {
		return nil, fmt.Errorf("web: index.html is missing from the embedded assets")
	}
	if s.docs = s.files["docs.html"]; s.docs == nil {
		return nil, fmt.Errorf("web: docs.html is missing from the embedded assets")
	}
	return s, nil
}

func newAsset(b []byte, contentType string) *asset {
	sum := sha256.Sum256(b)
	a := &asset{body: b, contentType: contentType, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
	if len(b) >= 1024 && !strings.HasPrefix(contentType, "image/png") {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		zw.Write(b)
		zw.Close()
		if buf.Len() < len(b)*9/10 {
			a.gzipped = buf.Bytes()
		}
	}
	return a
}

// mustSite reads the embedded files once; they cannot fail to load unless the binary is
// broken, which the package's tests catch.
var mustSite = sync.OnceValue(func() *site {
	sub, err := fs.Sub(embedded, "static")
	if err != nil {
		panic(err)
	}
	s, err := loadSite(sub)
	if err != nil {
		panic(err)
	}
	return s
})

// Handler serves the web client: index.html at / (and at any other path that does not
// name a file, so that a reload of a deep link works), the assets under /static/. Paths
// under /api/ and /ws are never answered with the page: they are the API's, and a 404 there
// must stay a 404. Mount it as "/" (without a method: "GET /" would conflict in ServeMux
// with a method-less catch-all such as the API's "/api/"); other methods than GET and HEAD
// get 405.
func Handler() http.Handler { return &handler{site: mustSite()} }

// Docs serves the /docs page: a reader for /openapi.json, self-contained. Mount it as
// "GET /docs".
func Docs() http.Handler {
	s := mustSite()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		serve(w, r, s.docs, "no-cache")
	})
}

// Version is the asset hash in the versioned /static/ prefix.
func Version() string { return mustSite().version }

type handler struct{ site *site }

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p := r.URL.Path
	if rest, ok := strings.CutPrefix(p, "/static/"); ok {
		cache := "no-cache"
		if v, file, ok := strings.Cut(rest, "/"); ok && strings.HasPrefix(v, "v-") {
			rest = file
			if v == "v-"+h.site.version {
				cache = "public, max-age=31536000, immutable"
			} // an older page asking for its version gets today's file, revalidated
		}
		a := h.site.files[rest]
		if a == nil || strings.HasSuffix(rest, ".html") {
			http.NotFound(w, r)
			return
		}
		serve(w, r, a, cache)
		return
	}
	if p == "/api" || strings.HasPrefix(p, "/api/") || p == "/ws" || strings.HasPrefix(p, "/ws/") ||
		strings.Contains(path.Base(p), ".") {
		// Not the page: API paths keep their 404, and a missing file is missing.
		http.NotFound(w, r)
		return
	}
	serve(w, r, h.site.index, "no-cache")
}

func serve(w http.ResponseWriter, r *http.Request, a *asset, cacheControl string) {
	hd := w.Header()
	hd.Set("Content-Type", a.contentType)
	hd.Set("Cache-Control", cacheControl)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	if strings.HasPrefix(a.contentType, "text/html") {
		hd.Set("Content-Security-Policy", contentSecurityPolicy)
		hd.Set("X-Frame-Options", "DENY")
	}
	body, etag := a.body, a.etag
	if a.gzipped != nil {
		hd.Add("Vary", "Accept-Encoding")
		if acceptsGzip(r.Header.Get("Accept-Encoding")) {
			// Each representation has its own validator (RFC 9110 8.8.3).
			hd.Set("Content-Encoding", "gzip")
			body, etag = a.gzipped, a.etag[:len(a.etag)-1]+`-gz"`
		}
	}
	hd.Set("ETag", etag)
	if etagMatches(r.Header.Get("If-None-Match"), etag) {
		hd.Del("Content-Encoding")
		w.WriteHeader(http.StatusNotModified)
		return
	}
	hd.Set("Content-Length", fmt.Sprint(len(body)))
	if r.Method == http.MethodHead {
		return
	}
	w.Write(body)
}

func etagMatches(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}

func acceptsGzip(header string) bool {
	for _, part := range strings.Split(header, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(name), "gzip") {
			return strings.ReplaceAll(strings.TrimSpace(params), " ", "") != "q=0"
		}
	}
	return false
}
