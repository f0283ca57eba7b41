package files

import (
	"bytes"
	"image"
	_ "image/gif" // register GIF for image.Decode
	"image/jpeg"
	"image/png"
	"io"
	"os"

	_ "golang.org/x/image/bmp" // register BMP for image.Decode
	"golang.org/x/image/draw"
	_ "golang.org/x/image/webp" // register WebP for image.Decode

	"github.com/parley-chat/parley/persistence"
)

// thumbnail is an encoded thumbnail, small enough to hold in memory (ThumbnailSize²).
type thumbnail struct {
	data        []byte
	contentType string
}

func (t *thumbnail) reader() io.Reader { return bytes.NewReader(t.data) }
func (t *thumbnail) size() int64       { return int64(len(t.data)) }

// thumbnailType is the type of the thumbnail of an image of type ct: JPEG for photos, PNG
// for the rest (transparency).
func thumbnailType(ct string) string {
	if ct == "image/jpeg" {
		return "image/jpeg"
	}
	return "image/png"
}

// thumbnail reads the image in f: its dimensions go into nf, and when the header's pixel
// count is within MaxPixels it decodes the image and scales it to fit ThumbnailSize.
// Anything wrong (not decodable, too large) means no thumbnail; the upload itself stands.
func (s *Service) thumbnail(f *os.File, nf *persistence.NewFile) *thumbnail {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil
	}
	// DecodeConfig reads only the header: the decompression-bomb check costs no memory.
	cfg, _, err := image.DecodeConfig(f)
	if err != nil || cfg.Width <= 0 || cfg.Height <= 0 {
		s.log.Debug("image header not readable, no thumbnail", "err", err)
		return nil
	}
	nf.Width, nf.Height = cfg.Width, cfg.Height
	if int64(cfg.Width)*int64(cfg.Height) > s.cfg.MaxPixels {
		s.log.Info("image too large to decode, no thumbnail", "width", cfg.Width, "height", cfg.Height, "maxPixels", s.cfg.MaxPixels)
		return nil
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil
	}
	img, _, err := image.Decode(f)
	if err != nil {
		s.log.Debug("image not decodable, no thumbnail", "err", err)
		return nil
	}
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if side := s.cfg.ThumbnailSize; w > side || h > side {
		if w >= h {
			w, h = side, max(1, h*side/w)
		} else {
			w, h = max(1, w*side/h), side
		}
	}
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.CatmullRom.Scale(dst, dst.Bounds(), img, b, draw.Src, nil)
	var buf bytes.Buffer
	t := &thumbnail{contentType: thumbnailType(nf.ContentType)}
	if t.contentType == "image/jpeg" {
		err = jpeg.Encode(&buf, dst, &jpeg.Options{Quality: 80})
	} else {
		err = png.Encode(&buf, dst)
	}
	if err != nil {
		return nil
	}
	t.data = buf.Bytes()
	return t
}
