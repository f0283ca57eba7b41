package files

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3Config configures S3Blobs.
type S3Config struct {
	// Endpoint is the store's URL, http(s)://host[:port]; a bare host[:port] means https.
	// Required.
	Endpoint string
	// Bucket holds the blobs; it must exist. Required.
	Bucket string
	// Region is the bucket's region. Default "us-east-1".
	Region string
	// AccessKey and SecretKey are the credentials (cmd/parley reads AWS_ACCESS_KEY_ID and
	// AWS_SECRET_ACCESS_KEY); both empty: anonymous requests.
	AccessKey, SecretKey string
	// Transport carries the requests; nil: the minio client's default.
	Transport http.RoundTripper
}

// S3Blobs keeps blobs as objects of one bucket of any S3-compatible store, through the
// MinIO client (ADR 0041). Downloads bypass the server: PresignGet signs a GET that the
// browser follows.
type S3Blobs struct {
	client *minio.Client
	bucket string
}

// NewS3Blobs connects to cfg's store and checks that the bucket exists.
func NewS3Blobs(ctx context.Context, cfg S3Config) (*S3Blobs, error) {
	if cfg.Endpoint == "" || cfg.Bucket == "" {
		return nil, errors.New("files: S3 needs an endpoint and a bucket")
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	host, secure := cfg.Endpoint, true
	if strings.Contains(host, "://") {
		u, err := url.Parse(host)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") || (u.Path != "" && u.Path != "/") {
			return nil, fmt.Errorf("files: S3 endpoint %q: want http(s)://host[:port]", cfg.Endpoint)
		}
		host, secure = u.Host, u.Scheme == "https"
	}
	var creds *credentials.Credentials
	if cfg.AccessKey != "" || cfg.SecretKey != "" {
		creds = credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, "")
	} else {
		creds = credentials.New(&credentials.Static{})
	}
	c, err := minio.New(host, &minio.Options{Creds: creds, Secure: secure, Region: cfg.Region, Transport: cfg.Transport})
	if err != nil {
		return nil, fmt.Errorf("files: S3 client: %w", err)
	}
	ok, err := c.BucketExists(ctx, cfg.Bucket)
	if err != nil {
		return nil, fmt.Errorf("files: S3 bucket %q: %w", cfg.Bucket, err)
	}
	if !ok {
		return nil, fmt.Errorf("files: S3 bucket %q does not exist", cfg.Bucket)
	}
	return &S3Blobs{client: c, bucket: cfg.Bucket}, nil
}

// Put implements Blobs. One PUT streams the body (no multipart: an upload is at most the
// file size limit, and multipart would buffer whole parts in memory).
func (s *S3Blobs) Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	_, err := s.client.PutObject(ctx, s.bucket, key, &sizeCheck{r: r, left: size}, size,
		minio.PutObjectOptions{ContentType: contentType, DisableMultipart: true})
	if err != nil {
		return fmt.Errorf("files: put %s: %w", key, err)
	}
	return nil
}

// Open implements Blobs.
func (s *S3Blobs) Open(ctx context.Context, key string) (io.ReadSeekCloser, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	obj, err := s.client.GetObject(ctx, s.bucket, key, minio.GetObjectOptions{})
	if err == nil {
		_, err = obj.Stat() // GetObject is lazy: this is the request that says whether it exists
	}
	if err != nil {
		if obj != nil {
			_ = obj.Close()
		}
		if minio.ToErrorResponse(err).Code == "NoSuchKey" {
			return nil, fmt.Errorf("%w: %s", ErrNotExist, key)
		}
		return nil, fmt.Errorf("files: open %s: %w", key, err)
	}
	return obj, nil
}

// Delete implements Blobs.
func (s *S3Blobs) Delete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	err := s.client.RemoveObject(ctx, s.bucket, key, minio.RemoveObjectOptions{})
	if err != nil && minio.ToErrorResponse(err).Code != "NoSuchKey" {
		return fmt.Errorf("files: delete %s: %w", key, err)
	}
	return nil
}

// PresignGet implements Presigner: a signed GET valid for ttl (at most 7 days, S3's
// bound; the server asks for 5 minutes or less), whose answer carries the given headers.
func (s *S3Blobs) PresignGet(ctx context.Context, key string, ttl time.Duration, contentType, disposition string) (string, error) {
	if err := checkKey(key); err != nil {
		return "", err
	}
	q := url.Values{}
	if contentType != "" {
		q.Set("response-content-type", contentType)
	}
	if disposition != "" {
		q.Set("response-content-disposition", disposition)
	}
	u, err := s.client.PresignedGetObject(ctx, s.bucket, key, ttl, q)
	if err != nil {
		return "", fmt.Errorf("files: presign %s: %w", key, err)
	}
	return u.String(), nil
}
