// Package files is parley's file uploads (SPEC "Files", ADR 0041): the blob stores that
// hold the bytes (Blobs: a local directory or any S3-compatible store), the upload pipeline
// that streams a body to a store (size limit, SHA-256, sniffed type, image thumbnails) and
// the janitor that removes what nothing uses any more. Who may read a file is decided by
// persistence (Store.VisibleFile); the HTTP routes are transport/api's.
package files

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"time"
)

// Blobs stores immutable byte strings by key. Implementations: DirBlobs (blobs_dir.go) and
// S3Blobs (blobs_s3.go); internal/contract's RunBlobs is the contract both pass.
type Blobs interface {
	// Put stores size bytes read from r under key, replacing any blob there. A reader that
	// ends before size bytes is an error and stores nothing readable: a blob is seen whole
	// or not at all.
	Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error
	// Open returns the blob under key for reading (and seeking, for range requests);
	// ErrNotExist when there is none.
	Open(ctx context.Context, key string) (io.ReadSeekCloser, error)
	// Delete removes the blob under key; a missing one is not an error.
	Delete(ctx context.Context, key string) error
}

// Presigner is a Blobs whose clients can fetch a blob themselves, from a URL that is valid
// for ttl: the server answers a download with a redirect instead of carrying the bytes.
type Presigner interface {
	// PresignGet returns a URL from which the blob under key can be fetched for ttl,
	// answered with the given Content-Type and Content-Disposition.
	PresignGet(ctx context.Context, key string, ttl time.Duration, contentType, disposition string) (string, error)
}

// ErrNotExist is Open's error for a key with no blob.
var ErrNotExist = errors.New("files: no such blob")

// keyRe is the shape of a key: lowercase path segments, no "..", no leading slash, so that
// a key is a safe relative path in a directory and a plain S3 object name.
var keyRe = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*(/[a-z0-9][a-z0-9_.-]*)*$`)

func checkKey(key string) error {
	if len(key) > 200 || !keyRe.MatchString(key) {
		return fmt.Errorf("files: invalid blob key %q", key)
	}
	return nil
}

// ContentKey and ThumbnailKey are where file id's bytes and thumbnail are stored.
func ContentKey(id int64) string   { return "files/" + strconv.FormatInt(id, 10) }
func ThumbnailKey(id int64) string { return "thumbnails/" + strconv.FormatInt(id, 10) }

// sizeCheck wraps r so that reading yields an error when r does not hold exactly size bytes.
type sizeCheck struct {
	r    io.Reader
	left int64
}

var errSize = errors.New("files: body size differs from the size given")

func (s *sizeCheck) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	s.left -= int64(n)
	if s.left < 0 {
		return n, errSize
	}
	if err == io.EOF && s.left != 0 {
		return n, errSize
	}
	return n, err
}
