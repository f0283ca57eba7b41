package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/parley-chat/parley/files"
	"github.com/parley-chat/parley/files/s3test"
	"github.com/parley-chat/parley/persistence"
)

// stores runs fn against each file store: the local directory and S3 (gofakes3 in process).
func stores(t *testing.T, fn func(t *testing.T, o harnessOpts)) {
	t.Run("dir", func(t *testing.T) { fn(t, harnessOpts{}) })
	t.Run("s3", func(t *testing.T) { fn(t, harnessOpts{blobs: s3test.New(t)}) })
}

// send makes a request with a raw body and content type; follow says whether a redirect
// is followed.
func (c *client) send(method, path, contentType string, body io.Reader, follow bool) (*http.Response, []byte) {
	c.h.t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, c.h.srv.URL+path, body)
	if err != nil {
		c.h.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	cl := *c.h.srv.Client()
	if !follow {
		cl.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	}
	resp, err := cl.Do(req)
	if err != nil {
		c.h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// upload posts data as the multipart field "file" named name, claiming type claimed.
func (c *client) upload(ws int64, name, claimed string, data []byte) (int, persistence.File, []byte) {
	c.h.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	_ = mw.WriteField("note", "ignored")
	hdr := map[string][]string{"Content-Disposition": {fmt.Sprintf(`form-data; name="file"; filename=%q`, name)},
		"Content-Type": {claimed}}
	pw, _ := mw.CreatePart(hdr)
	_, _ = pw.Write(data)
	_ = mw.Close()
	resp, b := c.send("POST", fmt.Sprintf("/api/workspaces/%d/files", ws), mw.FormDataContentType(), &buf, true)
	var f persistence.File
	if resp.StatusCode == http.StatusCreated {
		if err := json.Unmarshal(b, &f); err != nil {
			c.h.t.Fatal(err)
		}
	}
	return resp.StatusCode, f, b
}

func (c *client) mustUpload(ws int64, name string, data []byte) persistence.File {
	c.h.t.Helper()
	st, f, b := c.upload(ws, name, "application/octet-stream", data)
	if st != http.StatusCreated {
		c.h.t.Fatalf("upload %s as %s: %d %s", name, c.name, st, b)
	}
	return f
}

// download GETs path and returns the bytes, following an S3 redirect and checking it.
func (c *client) download(path string) (int, http.Header, []byte) {
	c.h.t.Helper()
	resp, b := c.send("GET", path, "", nil, false)
	if resp.StatusCode == http.StatusFound {
		loc, err := url.Parse(resp.Header.Get("Location"))
		if err != nil || !strings.HasPrefix(loc.Scheme, "http") || loc.Host == strings.TrimPrefix(c.h.srv.URL, "http://") {
			c.h.t.Fatalf("redirect to %q: want the S3 store", resp.Header.Get("Location"))
		}
		if exp, err := strconv.Atoi(loc.Query().Get("X-Amz-Expires")); err != nil || exp < 1 || exp > 300 {
			c.h.t.Fatalf("presigned URL valid %q s, want at most 300", loc.Query().Get("X-Amz-Expires"))
		}
		r2, err := http.Get(loc.String())
		if err != nil {
			c.h.t.Fatal(err)
		}
		defer r2.Body.Close()
		b2, _ := io.ReadAll(r2.Body)
		return r2.StatusCode, resp.Header, b2
	}
	return resp.StatusCode, resp.Header, b
}

func pngOf(w, h int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for x := 0; x < w; x++ {
		img.Set(x, x*h/w, color.RGBA{200, 10, 10, 255})
	}
	var buf bytes.Buffer
	_ = png.Encode(&buf, img)
	return buf.Bytes()
}

func TestFileUploadAndDownload(t *testing.T) {
	stores(t, func(t *testing.T, o harnessOpts) {
		tm := newTeam(t, o)
		data := []byte("hello, plain text that claims to be a PNG\n")
		st, f, b := tm.alice.upload(tm.ws, "dir/notes.txt", "image/png", data)
		if st != http.StatusCreated {
			t.Fatalf("upload: %d %s", st, b)
		}
		if f.Name != "notes.txt" || f.Size != int64(len(data)) || f.ContentType != "text/plain; charset=utf-8" ||
			f.URL != fmt.Sprintf("/api/files/%d/content", f.ID) || f.ThumbnailURL != "" || len(f.SHA256) != 64 {
			t.Fatalf("upload answered %+v", f)
		}
		var got persistence.File
		tm.alice.ok("GET", fmt.Sprintf("/api/files/%d", f.ID), nil, &got)
		if got != f {
			t.Fatalf("GET file = %+v, want %+v", got, f)
		}
		code, hdr, body := tm.alice.download(f.URL)
		if code != http.StatusOK || !bytes.Equal(body, data) {
			t.Fatalf("download: %d %q", code, body)
		}
		if o.blobs == nil { // served by parley: its own headers
			if hdr.Get("X-Content-Type-Options") != "nosniff" || !strings.HasPrefix(hdr.Get("Content-Disposition"), "attachment") ||
				!strings.Contains(hdr.Get("Content-Security-Policy"), "sandbox") || hdr.Get("Content-Type") != "text/plain; charset=utf-8" {
				t.Fatalf("download headers: %v", hdr)
			}
		}
		// A raw body with ?name=.
		resp, rb := tm.bob.send("POST", fmt.Sprintf("/api/workspaces/%d/files?name=raw.bin", tm.ws), "application/pdf",
			bytes.NewReader([]byte{0, 1, 2, 3, 0xff}), true)
		var raw persistence.File
		if resp.StatusCode != http.StatusCreated || json.Unmarshal(rb, &raw) != nil || raw.ContentType != "application/octet-stream" || raw.Name != "raw.bin" {
			t.Fatalf("raw upload: %d %s", resp.StatusCode, rb)
		}
		resp, _ = tm.bob.send("POST", fmt.Sprintf("/api/workspaces/%d/files", tm.ws), "application/pdf", strings.NewReader("x"), true)
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("raw upload without a name: %d, want 400", resp.StatusCode)
		}
		// Not a member of the workspace: 404, nothing stored.
		erin := tm.h.user("erin")
		if st, _, _ := erin.upload(tm.ws, "x.txt", "text/plain", data); st != http.StatusNotFound {
			t.Fatalf("upload by a non-member: %d, want 404", st)
		}
		if n := tm.h.count(`SELECT count(*) FROM files`); n != 2 {
			t.Fatalf("%d file rows, want 2", n)
		}
	})
}

func TestFileAccess(t *testing.T) {
	stores(t, func(t *testing.T, o harnessOpts) {
		tm := newTeam(t, o)
		f := tm.alice.mustUpload(tm.ws, "plan.txt", []byte("the plan"))
		erin := tm.h.user("erin")
		for _, c := range []*client{tm.bob, erin} { // not attached yet: only alice
			if code, _, _ := c.download(f.URL); code != http.StatusNotFound {
				t.Fatalf("%s before attaching: %d, want 404", c.name, code)
			}
			c.expect(http.StatusNotFound, "GET", fmt.Sprintf("/api/files/%d", f.ID), nil)
		}
		var m persistence.Message
		tm.alice.ok("POST", tm.msgs(), map[string]any{"content": "see file", "fileIds": []string{id(f.ID)}}, &m)
		if len(m.Files) != 1 || m.Files[0].ID != f.ID || m.Files[0].URL != f.URL {
			t.Fatalf("posted message files: %+v", m.Files)
		}
		var page struct{ Items []persistence.Message }
		tm.bob.ok("GET", tm.msgs(), nil, &page)
		if len(page.Items) != 1 || len(page.Items[0].Files) != 1 || page.Items[0].Files[0] != f {
			t.Fatalf("history files: %+v, want %+v", page.Items, f)
		}
		if code, _, body := tm.bob.download(f.URL); code != http.StatusOK || string(body) != "the plan" {
			t.Fatalf("bob, a reader of general: %d %q", code, body)
		}
		if code, _, _ := erin.download(f.URL); code != http.StatusNotFound {
			t.Fatalf("erin, no member: %d, want 404", code)
		}
		// Removed from the workspace: 404 at once.
		tm.alice.ok("DELETE", fmt.Sprintf("/api/workspaces/%d/members/%d", tm.ws, tm.bob.id), nil, nil)
		if code, _, _ := tm.bob.download(f.URL); code != http.StatusNotFound {
			t.Fatalf("bob after removal: %d, want 404", code)
		}
		tm.bob.expect(http.StatusNotFound, "GET", fmt.Sprintf("/api/files/%d", f.ID), nil)
	})
}

func TestFileTooLarge(t *testing.T) {
	stores(t, func(t *testing.T, o harnessOpts) {
		o.files = files.Config{MaxSize: 1000}
		tm := newTeam(t, o)
		if st, _, b := tm.alice.upload(tm.ws, "ok.bin", "", bytes.Repeat([]byte{'a'}, 1000)); st != http.StatusCreated {
			t.Fatalf("upload at the limit: %d %s", st, b)
		}
		st, _, b := tm.alice.upload(tm.ws, "big.bin", "", bytes.Repeat([]byte{'a'}, 1001))
		if st != http.StatusRequestEntityTooLarge || !strings.Contains(string(b), "payload_too_large") {
			t.Fatalf("upload over the limit: %d %s", st, b)
		}
		// Raw, far over the limit and over the route's body limit as well.
		resp, _ := tm.alice.send("POST", fmt.Sprintf("/api/workspaces/%d/files?name=huge", tm.ws), "application/octet-stream",
			bytes.NewReader(make([]byte, 200_000)), true)
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("huge raw upload: %d", resp.StatusCode)
		}
		if n := tm.h.count(`SELECT count(*) FROM files`); n != 1 {
			t.Fatalf("%d file rows, want only the one at the limit", n)
		}
	})
}

func TestFileImageThumbnail(t *testing.T) {
	stores(t, func(t *testing.T, o harnessOpts) {
		tm := newTeam(t, o)
		f := tm.alice.mustUpload(tm.ws, "wide.png", pngOf(1000, 500))
		if f.ContentType != "image/png" || f.Width != 1000 || f.Height != 500 || f.ThumbnailURL != fmt.Sprintf("/api/files/%d/thumbnail", f.ID) {
			t.Fatalf("image upload answered %+v", f)
		}
		code, hdr, body := tm.alice.download(f.ThumbnailURL)
		if code != http.StatusOK {
			t.Fatalf("thumbnail: %d %s", code, body)
		}
		cfg, format, err := image.DecodeConfig(bytes.NewReader(body))
		if err != nil || format != "png" || cfg.Width != 320 || cfg.Height != 160 {
			t.Fatalf("thumbnail is %s %dx%d (%v), want png 320x160", format, cfg.Width, cfg.Height, err)
		}
		if o.blobs == nil && !strings.HasPrefix(hdr.Get("Content-Disposition"), "inline") {
			t.Fatalf("image disposition %q, want inline", hdr.Get("Content-Disposition"))
		}
		// A decompression bomb: a small PNG whose header claims 100,000 × 100,000 pixels is
		// stored without being decoded.
		bomb := withPNGSize(pngOf(2, 2), 100_000, 100_000)
		b := tm.alice.mustUpload(tm.ws, "bomb.png", bomb)
		if b.ThumbnailURL != "" || b.Width != 100_000 || b.ContentType != "image/png" {
			t.Fatalf("bomb upload answered %+v", b)
		}
		if code, _, _ := tm.alice.download(fmt.Sprintf("/api/files/%d/thumbnail", b.ID)); code != http.StatusNotFound {
			t.Fatalf("bomb thumbnail: %d, want 404", code)
		}
		// Not an image: no thumbnail.
		txt := tm.alice.mustUpload(tm.ws, "a.txt", []byte("text"))
		if code, _, _ := tm.alice.download(fmt.Sprintf("/api/files/%d/thumbnail", txt.ID)); code != http.StatusNotFound {
			t.Fatalf("text thumbnail: %d, want 404", code)
		}
	})
}

// withPNGSize rewrites a PNG's IHDR width and height (and its CRC).
func withPNGSize(p []byte, w, h uint32) []byte {
	out := append([]byte(nil), p...)
	be := func(b []byte, v uint32) { b[0], b[1], b[2], b[3] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v) }
	// signature (8) + length (4) + "IHDR" (4), then width, height.
	be(out[16:], w)
	be(out[20:], h)
	be(out[29:], crc32.ChecksumIEEE(out[12:29]))
	return out
}

func TestFileIDsValidation(t *testing.T) {
	posters(t, func(t *testing.T, o harnessOpts) {
		tm := newTeam(t, o)
		mine := tm.alice.mustUpload(tm.ws, "a.txt", []byte("a"))
		bobs := tm.bob.mustUpload(tm.ws, "b.txt", []byte("b"))
		var w persistence.Workspace
		tm.alice.ok("POST", "/api/workspaces", map[string]any{"name": "Other"}, &w)
		elsewhere := tm.alice.mustUpload(w.ID, "c.txt", []byte("c"))
		eleven := make([]string, 11)
		for i := range eleven {
			eleven[i] = id(tm.alice.mustUpload(tm.ws, fmt.Sprintf("f%d.txt", i), []byte("x")).ID)
		}
		for name, ids := range map[string][]string{
			"someone else's": {id(bobs.ID)}, "eleven": eleven, "missing": {"12345"},
			"other workspace": {id(elsewhere.ID)}, "twice": {id(mine.ID), id(mine.ID)}, "not an id": {"x"},
		} {
			tm.alice.expect(http.StatusBadRequest, "POST", tm.msgs(), map[string]any{"content": "files " + name, "fileIds": ids})
		}
		if n := tm.h.count(`SELECT count(*) FROM messages`); n != 0 {
			t.Fatalf("%d messages stored by refused posts", n)
		}
		if n := tm.h.count(`SELECT count(*) FROM message_files`); n != 0 {
			t.Fatalf("%d attachments stored by refused posts", n)
		}
		var m persistence.Message
		tm.alice.ok("POST", tm.msgs(), map[string]any{"content": "ten", "fileIds": eleven[:10]}, &m)
		if len(m.Files) != 10 || id(m.Files[9].ID) != eleven[9] {
			t.Fatalf("ten files: %+v", m.Files)
		}
	})
}

func TestUploadsSpendTheWriteLimit(t *testing.T) {
	o := harnessOpts{}
	o.cfg.Limits.Writes.Rate, o.cfg.Limits.Writes.Burst = 0.001, 8
	tm := newTeam(t, o) // newTeam spends some of alice's writes
	for {
		st, _, b := tm.alice.upload(tm.ws, "r.txt", "", []byte("r"))
		if st == http.StatusTooManyRequests {
			return
		}
		if st != http.StatusCreated {
			t.Fatalf("upload: %d %s", st, b)
		}
		if tm.h.count(`SELECT count(*) FROM files`) > 8 {
			t.Fatal("more uploads than the write burst")
		}
	}
}

// TestUploadedHTMLIsNeverAPage: an HTML upload claiming to be an image is sniffed as HTML
// and served as a download that cannot run: attachment, nosniff, a sandboxing CSP.
func TestUploadedHTMLIsNeverAPage(t *testing.T) {
	tm := newTeam(t, harnessOpts{})
	st, f, b := tm.alice.upload(tm.ws, "cat.png", "image/png", []byte("<!DOCTYPE html><html><script>alert(document.cookie)</script></html>"))
	if st != http.StatusCreated || f.ContentType != "text/html; charset=utf-8" || f.ThumbnailURL != "" {
		t.Fatalf("upload: %d %s", st, b)
	}
	code, hdr, _ := tm.alice.download(f.URL)
	if code != http.StatusOK || hdr.Get("Content-Type") != "text/html; charset=utf-8" ||
		hdr.Get("Content-Disposition") != "attachment; filename*=UTF-8''cat.png" || hdr.Get("X-Content-Type-Options") != "nosniff" ||
		!strings.HasPrefix(hdr.Get("Content-Security-Policy"), "default-src 'none'") || !strings.Contains(hdr.Get("Content-Security-Policy"), "sandbox") {
		t.Fatalf("HTML download headers: %v", hdr)
	}
	// Not an image: refused as an avatar.
	tm.alice.expect(http.StatusBadRequest, "PATCH", "/api/users/me", map[string]any{"avatarFileId": id(f.ID)})
}
