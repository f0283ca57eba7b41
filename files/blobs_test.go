package files_test

import (
	"context"
	"testing"

	"github.com/parley-chat/parley/files"
	"github.com/parley-chat/parley/files/s3test"
	"github.com/parley-chat/parley/internal/contract"
)

func TestDirBlobsContract(t *testing.T) {
	contract.RunBlobs(t, func(t *testing.T) files.Blobs {
		b, err := files.NewDirBlobs(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return b
	})
}

func TestS3BlobsContract(t *testing.T) {
	contract.RunBlobs(t, func(t *testing.T) files.Blobs {
		return s3test.New(t)
	})
}

func TestS3BlobsMissingBucket(t *testing.T) {
	srv := s3test.Start(t)
	_, err := files.NewS3Blobs(context.Background(), files.S3Config{Endpoint: srv.URL, Bucket: "nope", AccessKey: "a", SecretKey: "b"})
	if err == nil {
		t.Fatal("NewS3Blobs accepted a bucket that does not exist")
	}
}
