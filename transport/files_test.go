package transport_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parley-chat/parley/files/s3test"
	"github.com/parley-chat/parley/transport"
)

// TestServerStoresFilesInS3: with --s3-endpoint and --s3-bucket a node keeps uploads in the
// bucket and answers a download with a redirect to a presigned URL that serves the bytes.
func TestServerStoresFilesInS3(t *testing.T) {
	s3 := s3test.Start(t)
	s3.Bucket(t, "parley-files")
	srv, base := serve(t, func(c *transport.Config) {
		c.Files.S3.Endpoint, c.Files.S3.Bucket = s3.URL, "parley-files"
		c.Files.S3.AccessKey, c.Files.S3.SecretKey = "k", "s"
	})
	tok, _, err := srv.Verifier().Issue("alice", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	call := func(method, path, ctype string, body io.Reader, out any) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, body)
		req.Header.Set("Authorization", "Bearer "+tok)
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		cl := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := cl.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if out != nil {
			if err := json.Unmarshal(b, out); err != nil {
				t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
			}
		}
		return resp
	}
	var ws struct{ ID string }
	call("POST", "/api/workspaces", "application/json", strings.NewReader(`{"name":"Acme"}`), &ws)
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, _ := mw.CreateFormFile("file", "hello.txt")
	_, _ = fw.Write([]byte("stored in S3"))
	_ = mw.Close()
	var f struct{ ID, URL string }
	if resp := call("POST", fmt.Sprintf("/api/workspaces/%s/files", ws.ID), mw.FormDataContentType(), &buf, &f); resp.StatusCode != http.StatusCreated {
		t.Fatalf("upload: %d", resp.StatusCode)
	}
	resp := call("GET", f.URL, "", nil, nil)
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, s3.URL+"/parley-files/files/"+f.ID) {
		t.Fatalf("download: %d to %q, want a redirect into the bucket", resp.StatusCode, loc)
	}
	got, err := http.Get(loc)
	if err != nil {
		t.Fatal(err)
	}
	defer got.Body.Close()
	b, _ := io.ReadAll(got.Body)
	if got.StatusCode != http.StatusOK || string(b) != "stored in S3" {
		t.Fatalf("presigned GET: %d %q", got.StatusCode, b)
	}
}
