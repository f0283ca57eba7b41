package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/parley-chat/parley/errcode"
	"github.com/parley-chat/parley/files"
	"github.com/parley-chat/parley/persistence"
)

// File routes (SPEC "Files", ADR 0041). An upload spends the caller's REST write limit like
// any other write; downloads are reads. Access is persistence.Store.VisibleFile's: the
// uploader, users sharing a workspace with someone whose avatar it is, and readers of a
// channel where a message carries it; anyone else gets 404, as if it did not exist.

// uploadOverhead is what a multipart body may carry besides the file (boundaries, part
// headers, another small field or two).
const uploadOverhead = 64 << 10

// uploadBodyLimit is the route's body limit: the file size limit plus the multipart
// framing, so that the service, not the wrapper, says 413 for a file just over its limit.
func (a *API) uploadBodyLimit() int64 {
	if a.files == nil {
		return 0
	}
	return a.files.Config().MaxSize + uploadOverhead
}

// uploadFile stores the multipart field "file" (or a raw body named by ?name=) for a
// member of the workspace.
func (a *API) uploadFile(ctx context.Context, r *http.Request, me persistence.User) (int, any, error) {
	if a.files == nil {
		return 0, nil, fmt.Errorf("%w: file storage is not configured", errcode.ErrUnavailable)
	}
	wid, err := pathID(r, "wid")
	if err != nil {
		return 0, nil, err
	}
	wa, err := a.store.WorkspaceAccess(ctx, me.ID, wid)
	if err != nil {
		return 0, nil, err
	}
	if err := wa.CanSee(); err != nil {
		return 0, nil, err
	}
	name := r.URL.Query().Get("name")
	body := io.Reader(r.Body)
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt == "multipart/form-data" {
		part, err := filePart(r)
		if err != nil {
			return 0, nil, err
		}
		defer part.Close()
		if name == "" {
			name = part.FileName()
		}
		body = part
	} else if name == "" {
		return 0, nil, &persistence.ValidationError{Field: "name", Reason: "a raw upload needs ?name= (or send multipart/form-data with a file field)"}
	}
	f, err := a.files.Upload(ctx, me.ID, wid, name, body)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, f.File, nil
}

// filePart finds the multipart field "file", skipping others, reading only what it needs.
func filePart(r *http.Request) (interface {
	io.ReadCloser
	FileName() string
}, error) {
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, &persistence.ValidationError{Reason: "malformed multipart body: " + err.Error()}
	}
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return nil, &persistence.ValidationError{Field: "file", Reason: "the multipart body has no file field"}
		}
		if err != nil {
			if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
				return nil, fmt.Errorf("%w: %w", errcode.ErrTooLarge, err)
			}
			return nil, &persistence.ValidationError{Reason: "malformed multipart body: " + err.Error()}
		}
		if p.FormName() == "file" {
			return p, nil
		}
		_ = p.Close()
	}
}

// visibleFile loads the {id} file if the caller may read it.
func (a *API) visibleFile(ctx context.Context, r *http.Request, me persistence.User) (persistence.FileRow, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return persistence.FileRow{}, err
	}
	return a.store.VisibleFile(ctx, me.ID, id)
}

func (a *API) getFile(ctx context.Context, r *http.Request, me persistence.User) (int, any, error) {
	f, err := a.visibleFile(ctx, r, me)
	return http.StatusOK, f.File, err
}

func (a *API) getFileContent(ctx context.Context, r *http.Request, me persistence.User) (int, any, error) {
	return a.serveFile(ctx, r, me, false)
}

func (a *API) getFileThumbnail(ctx context.Context, r *http.Request, me persistence.User) (int, any, error) {
	return a.serveFile(ctx, r, me, true)
}

// serveFile answers a download: a 302 to a presigned URL with an S3 store, else the bytes
// (ranges and If-None-Match by http.ServeContent). The access check runs on every request
// and the answer may be cached only privately and revalidated, so a removed member is
// refused at once.
func (a *API) serveFile(ctx context.Context, r *http.Request, me persistence.User, thumb bool) (int, any, error) {
	if a.files == nil {
		return 0, nil, fmt.Errorf("%w: file storage is not configured", errcode.ErrUnavailable)
	}
	f, err := a.visibleFile(ctx, r, me)
	if err != nil {
		return 0, nil, err
	}
	d, err := a.files.Open(ctx, f, thumb)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, fileResponse{d: d, etag: `"` + f.SHA256 + map[bool]string{true: "-t"}[thumb] + `"`, name: f.Name}, nil
}

var zeroTime time.Time // no Last-Modified: the ETag (the SHA-256) validates

// fileResponse is a download, written by the route wrapper through serve (not JSON).
type fileResponse struct {
	d    files.Download
	etag string
	name string
}

// fileCSP forbids everything to a served file: even opened directly, it can run nothing,
// load nothing and is sandboxed (no same-origin access); images still display.
const fileCSP = "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; sandbox"

func (f fileResponse) serve(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "private, no-cache")
	if f.d.RedirectURL != "" {
		h.Set("Cache-Control", "no-store")
		http.Redirect(w, r, f.d.RedirectURL, http.StatusFound)
		return
	}
	defer f.d.Content.Close()
	h.Set("Content-Type", f.d.ContentType)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Disposition", f.d.Disposition)
	h.Set("Content-Security-Policy", fileCSP)
	h.Set("ETag", f.etag)
	http.ServeContent(w, r, strings.ReplaceAll(f.name, "/", "_"), zeroTime, f.d.Content)
}
