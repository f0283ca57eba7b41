package transport

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/parley-chat/parley/files"
)

// FilesConfig configures file uploads (ADR 0041): where the bytes go, the upload limits and
// the janitor.
type FilesConfig struct {
	// Dir is the local directory store (the embedded default). Empty: DefaultFilesDir().
	// Ignored when S3.Endpoint is set.
	Dir string
	// S3, when Endpoint is set, stores files in that S3-compatible bucket instead, and
	// downloads are redirects to presigned URLs.
	S3 files.S3Config
	// Service holds the upload limits (size, thumbnail, presign TTL); zero fields take
	// the defaults.
	Service files.Config
	// Janitor collects unattached uploads and deleted files; zero fields take the defaults.
	Janitor files.JanitorConfig
}

// DefaultFilesDir is the local store's directory when none is given: parley/files under
// the user's data directory ($XDG_DATA_HOME, else ~/.local/share), or under the working
// directory when there is no home.
func DefaultFilesDir() string {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "parley", "files")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".local", "share", "parley", "files")
	}
	return filepath.Join("parley-data", "files")
}

func (c FilesConfig) validate() error {
	var errs []error
	if c.S3.Endpoint != "" && c.S3.Bucket == "" {
		errs = append(errs, errors.New("s3-bucket: required with --s3-endpoint"))
	}
	if c.S3.Endpoint == "" && c.S3.Bucket != "" {
		errs = append(errs, errors.New("s3-endpoint: required with --s3-bucket"))
	}
	if c.Service.MaxSize < 0 {
		errs = append(errs, fmt.Errorf("file-max-size %d: must be positive", c.Service.MaxSize))
	}
	return errors.Join(errs...)
}

// startFiles opens the blob store, the upload service and the janitor (which runs until
// shutdown).
func (s *Server) startFiles(ctx context.Context) error {
	cfg := s.cfg.Files
	var blobs files.Blobs
	if cfg.S3.Endpoint != "" {
		b, err := files.NewS3Blobs(ctx, cfg.S3)
		if err != nil {
			return fmt.Errorf("s3: %w", err)
		}
		blobs = b
		s.logger.Info("files in S3", "endpoint", cfg.S3.Endpoint, "bucket", cfg.S3.Bucket)
	} else {
		dir := cfg.Dir
		if dir == "" {
			dir = DefaultFilesDir()
		}
		b, err := files.NewDirBlobs(dir)
		if err != nil {
			return fmt.Errorf("files-dir: %w", err)
		}
		blobs = b
		s.logger.Info("files in a local directory", "dir", dir)
	}
	svc, err := files.New(cfg.Service, blobs, s.store, s.logger)
	if err != nil {
		return err
	}
	jan, err := files.NewJanitor(cfg.Janitor, s.store, blobs, s.logger)
	if err != nil {
		return err
	}
	jctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() { defer close(done); jan.Run(jctx) }()
	s.closers.push("files janitor", func(context.Context) error { stop(); <-done; return nil })
	s.files = svc
	return nil
}
