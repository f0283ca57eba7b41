// Package s3test runs a real S3 protocol server in process (gofakes3 over an in-memory
// backend, on a loopback port) for tests of files.S3Blobs and of everything above it.
package s3test

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/parley-chat/parley/files"
)

// Server is a running fake S3 store.
type Server struct {
	URL     string // http://127.0.0.1:port
	backend *s3mem.Backend
}

// Start runs a server until t ends.
func Start(t testing.TB) *Server {
	t.Helper()
	be := s3mem.New()
	srv := httptest.NewServer(gofakes3.New(be).Server())
	t.Cleanup(srv.Close)
	return &Server{URL: srv.URL, backend: be}
}

// Bucket creates a bucket and returns an S3Blobs over it.
func (s *Server) Bucket(t testing.TB, name string) *files.S3Blobs {
	t.Helper()
	if err := s.backend.CreateBucket(name); err != nil {
		t.Fatal(err)
	}
	b, err := files.NewS3Blobs(context.Background(), files.S3Config{Endpoint: s.URL, Bucket: name,
		AccessKey: "test-access", SecretKey: "test-secret"})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// New starts a server and returns an S3Blobs over a fresh bucket of it.
func New(t testing.TB) *S3Blobs { return Start(t).Bucket(t, "parley") }

// S3Blobs is files.S3Blobs, named here for New's signature.
type S3Blobs = files.S3Blobs
