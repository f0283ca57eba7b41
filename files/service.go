package files

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/parley-chat/parley/errcode"
	"github.com/parley-chat/parley/persistence"
)

// Config configures a Service.
type Config struct {
	// MaxSize is the largest upload, in bytes; a larger body is refused (413). Default
	// 25 MiB.
	MaxSize int64
	// MaxPixels bounds the images the service decodes for a thumbnail (width × height, from
	// the header, checked before decoding): a small file that claims a huge canvas (a
	// decompression bomb) is stored without a thumbnail. Default 40,000,000 pixels.
	MaxPixels int64
	// ThumbnailSize is the longest side of a thumbnail, in pixels. Default 320.
	ThumbnailSize int
	// PresignTTL is how long a presigned download URL is valid; at most 5 minutes (SPEC).
	// Default 5 minutes.
	PresignTTL time.Duration
	// TempDir holds an upload while it arrives (it is hashed, sniffed and decoded from
	// there, never held whole in memory). Default os.TempDir().
	TempDir string
}

// Defaults of Config.
const (
	DefaultMaxSize       = 25 << 20
	DefaultMaxPixels     = 40_000_000
	DefaultThumbnailSize = 320
	MaxPresignTTL        = 5 * time.Minute
)

func (c Config) withDefaults() Config {
	if c.MaxSize == 0 {
		c.MaxSize = DefaultMaxSize
	}
	if c.MaxPixels == 0 {
		c.MaxPixels = DefaultMaxPixels
	}
	if c.ThumbnailSize == 0 {
		c.ThumbnailSize = DefaultThumbnailSize
	}
	if c.PresignTTL == 0 {
		c.PresignTTL = MaxPresignTTL
	}
	if c.TempDir == "" {
		c.TempDir = os.TempDir()
	}
	return c
}

func (c Config) validate() error {
	var errs []error
	if c.MaxSize < 1 {
		errs = append(errs, fmt.Errorf("MaxSize %d must be positive", c.MaxSize))
	}
	if c.MaxPixels < 1 {
		errs = append(errs, fmt.Errorf("MaxPixels %d must be positive", c.MaxPixels))
	}
	if c.ThumbnailSize < 16 || c.ThumbnailSize > 2048 {
		errs = append(errs, fmt.Errorf("ThumbnailSize %d must be within 16..2048", c.ThumbnailSize))
	}
	if c.PresignTTL < time.Second || c.PresignTTL > MaxPresignTTL {
		errs = append(errs, fmt.Errorf("PresignTTL %s must be within 1s..%s", c.PresignTTL, MaxPresignTTL))
	}
	return errors.Join(errs...)
}

// Service stores uploads: the bytes in Blobs, the row in the store.
type Service struct {
	cfg   Config
	blobs Blobs
	store *persistence.Store
	log   *slog.Logger
}

// New validates cfg and returns a Service over blobs and store.
func New(cfg Config, blobs Blobs, store *persistence.Store, log *slog.Logger) (*Service, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("files: invalid config: %w", err)
	}
	if blobs == nil || store == nil {
		return nil, errors.New("files: Blobs and Store are required")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{cfg: cfg, blobs: blobs, store: store, log: log.With("component", "files")}, nil
}

// Config returns the service's configuration with its defaults.
func (s *Service) Config() Config { return s.cfg }

// Blobs returns the store of the bytes.
func (s *Service) Blobs() Blobs { return s.blobs }

// MaxNameRunes bounds a file name.
const MaxNameRunes = 255

// CleanName checks a client's file name: the last path element (a browser may send a
// path), trimmed, 1..MaxNameRunes characters of UTF-8 without control characters.
func CleanName(name string) (string, error) {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = strings.TrimSpace(name)
	if name == "" || name == "." || name == ".." {
		return "", &persistence.ValidationError{Field: "name", Reason: "a file name is required"}
	}
	if !utf8.ValidString(name) || strings.IndexFunc(name, unicode.IsControl) >= 0 {
		return "", &persistence.ValidationError{Field: "name", Reason: "must be valid UTF-8 without control characters"}
	}
	if n := utf8.RuneCountInString(name); n > MaxNameRunes {
		return "", &persistence.ValidationError{Field: "name", Reason: fmt.Sprintf("%d characters, at most %d allowed", n, MaxNameRunes)}
	}
	return name, nil
}

// Upload stores body as a new file of uploaderID in workspaceID (the caller has checked
// membership). The body is streamed to a temporary file while it is counted and hashed;
// past MaxSize it is refused with errcode.ErrTooLarge (413) and nothing is stored. The
// content type is sniffed from the bytes, whatever the client said; an image gets its
// dimensions and a thumbnail when its header's size is within MaxPixels.
func (s *Service) Upload(ctx context.Context, uploaderID, workspaceID int64, name string, body io.Reader) (persistence.FileRow, error) {
	name, err := CleanName(name)
	if err != nil {
		return persistence.FileRow{}, err
	}
	tmp, err := os.CreateTemp(s.cfg.TempDir, "parley-upload-*")
	if err != nil {
		return persistence.FileRow{}, fmt.Errorf("files: upload: %w", err)
	}
	defer func() { _ = tmp.Close(); _ = os.Remove(tmp.Name()) }()
	sum := sha256.New()
	head := &headBuffer{max: 512}
	n, err := io.Copy(io.MultiWriter(tmp, sum, head), io.LimitReader(&ctxReader{ctx: ctx, r: body}, s.cfg.MaxSize+1))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return persistence.FileRow{}, fmt.Errorf("%w: a file is at most %d bytes", errcode.ErrTooLarge, s.cfg.MaxSize)
		}
		return persistence.FileRow{}, fmt.Errorf("files: reading the upload: %w", err)
	}
	if n > s.cfg.MaxSize {
		return persistence.FileRow{}, fmt.Errorf("%w: a file is at most %d bytes", errcode.ErrTooLarge, s.cfg.MaxSize)
	}
	nf := persistence.NewFile{ID: s.store.NextID(), WorkspaceID: workspaceID, UploaderID: uploaderID,
		Name: name, Size: n, SHA256: sum.Sum(nil), ContentType: http.DetectContentType(head.b)}
	var thumb *thumbnail
	if persistence.IsInlineImage(nf.ContentType) {
		thumb = s.thumbnail(tmp, &nf)
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return persistence.FileRow{}, fmt.Errorf("files: upload: %w", err)
	}
	if err := s.blobs.Put(ctx, ContentKey(nf.ID), tmp, n, nf.ContentType); err != nil {
		return persistence.FileRow{}, fmt.Errorf("files: upload: %w", err)
	}
	if thumb != nil {
		if err := s.blobs.Put(ctx, ThumbnailKey(nf.ID), thumb.reader(), thumb.size(), thumb.contentType); err != nil {
			s.log.Warn("thumbnail not stored", "file", nf.ID, "err", err)
		} else {
			nf.HasThumbnail = true
		}
	}
	f, err := s.store.CreateFile(ctx, nf)
	if err != nil {
		// The row is the only way to the blobs: without it they are garbage now.
		dctx := context.WithoutCancel(ctx)
		_ = s.blobs.Delete(dctx, ContentKey(nf.ID))
		_ = s.blobs.Delete(dctx, ThumbnailKey(nf.ID))
		return persistence.FileRow{}, err
	}
	return f, nil
}

// Download is how a file's bytes reach a client: a URL to redirect to (a Presigner's),
// or the blob to serve.
type Download struct {
	RedirectURL string
	Content     io.ReadSeekCloser
	ContentType string
	// Disposition is "inline" for raster images, else "attachment" with the file's name.
	Disposition string
}

// Open returns how to deliver file f (thumb: its thumbnail) to a client allowed to read it.
// A missing thumbnail is persistence.ErrNotFound.
func (s *Service) Open(ctx context.Context, f persistence.FileRow, thumb bool) (Download, error) {
	key, ct := ContentKey(f.ID), f.ContentType
	if thumb {
		if !f.HasThumbnail {
			return Download{}, fmt.Errorf("file %d has no thumbnail: %w", f.ID, persistence.ErrNotFound)
		}
		key, ct = ThumbnailKey(f.ID), thumbnailType(f.ContentType)
	}
	d := Download{ContentType: ct, Disposition: Disposition(f.File, thumb)}
	if p, ok := s.blobs.(Presigner); ok {
		u, err := p.PresignGet(ctx, key, s.cfg.PresignTTL, d.ContentType, d.Disposition)
		if err != nil {
			return Download{}, err
		}
		d.RedirectURL = u
		return d, nil
	}
	r, err := s.blobs.Open(ctx, key)
	if errors.Is(err, ErrNotExist) {
		return Download{}, fmt.Errorf("%w: %w", persistence.ErrNotFound, err)
	}
	if err != nil {
		return Download{}, err
	}
	d.Content = r
	return d, nil
}

// Disposition is the Content-Disposition of a download: inline only for raster images
// (and thumbnails, which are always PNG or JPEG); everything else is an attachment, so
// that a browser never renders an upload as a page of the server's origin.
func Disposition(f persistence.File, thumb bool) string {
	kind := "attachment"
	if thumb || f.IsImage() {
		kind = "inline"
	}
	return kind + "; filename*=UTF-8''" + pathEscape(f.Name)
}

// pathEscape percent-encodes s for RFC 5987's ext-value (attr-char stays as is).
func pathEscape(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$&+-.^_`|~", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// headBuffer keeps the first max bytes written to it (for sniffing).
type headBuffer struct {
	b   []byte
	max int
}

func (h *headBuffer) Write(p []byte) (int, error) {
	if room := h.max - len(h.b); room > 0 {
		h.b = append(h.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}
