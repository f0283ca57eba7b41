package persistence

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
)

// File is an upload as the API renders it (SPEC "Files"). URL and ThumbnailURL are the
// API's download routes; the bytes are behind them, never in the row.
type File struct {
	ID           int64  `json:"id,string"`
	Name         string `json:"name"`
	Size         int64  `json:"size"`
	ContentType  string `json:"contentType"`
	SHA256       string `json:"sha256"` // hex
	Width        int    `json:"width,omitempty"`
	Height       int    `json:"height,omitempty"`
	URL          string `json:"url"`
	ThumbnailURL string `json:"thumbnailUrl,omitempty"`
	// HasThumbnail is how the row says a thumbnail exists; ThumbnailURL renders it.
	HasThumbnail bool `json:"-"`
}

// Fill sets the download URLs from ID and HasThumbnail.
func (f *File) Fill() {
	f.URL = FileURL(f.ID)
	f.ThumbnailURL = ""
	if f.HasThumbnail {
		f.ThumbnailURL = FileThumbnailURL(f.ID)
	}
}

// FileThumbnailURL is the API path that serves file id's thumbnail.
func FileThumbnailURL(id int64) string {
	return "/api/files/" + strconv.FormatInt(id, 10) + "/thumbnail"
}

// FileURL is the API path that serves file id's content.
func FileURL(id int64) string { return "/api/files/" + strconv.FormatInt(id, 10) + "/content" }

// FileRow is a file's row: File plus what access and the janitor need.
type FileRow struct {
	File
	WorkspaceID int64
	UploaderID  int64
	CreatedAt   time.Time
}

// IsImage reports whether the file's sniffed type is an image a browser may show inline
// (raster formats only: SVG can carry script and is never served as an image).
func (f File) IsImage() bool { return IsInlineImage(f.ContentType) }

// IsInlineImage reports whether contentType is a raster image type served inline.
func IsInlineImage(contentType string) bool {
	switch contentType {
	case "image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp":
		return true
	}
	return false
}

// MaxFilesPerMessage bounds NewMessage.FileIDs (SPEC: ≤ 10).
const MaxFilesPerMessage = 10

// ValidateFileIDs checks a message's fileIds before any lookup: at most
// MaxFilesPerMessage, positive, no repeats.
func ValidateFileIDs(ids []int64) error {
	if len(ids) > MaxFilesPerMessage {
		return &ValidationError{Field: "fileIds", Reason: fmt.Sprintf("%d files, at most %d allowed", len(ids), MaxFilesPerMessage)}
	}
	for i, id := range ids {
		if id <= 0 {
			return &ValidationError{Field: "fileIds", Reason: "ids must be positive"}
		}
		for _, o := range ids[:i] {
			if o == id {
				return &ValidationError{Field: "fileIds", Reason: "file " + strconv.FormatInt(id, 10) + " is listed twice"}
			}
		}
	}
	return nil
}

const fileColumns = `f.id, f.name, f.size, f.content_type, f.sha256, COALESCE(f.width, 0), COALESCE(f.height, 0),
	f.has_thumbnail, f.workspace_id, f.uploader_id, f.created_at`

func scanFileRow(row pgx.Row, f *FileRow, extra ...any) error {
	var sum []byte
	if err := row.Scan(append([]any{&f.ID, &f.Name, &f.Size, &f.ContentType, &sum, &f.Width, &f.Height,
		&f.HasThumbnail, &f.WorkspaceID, &f.UploaderID, &f.CreatedAt}, extra...)...); err != nil {
		return err
	}
	f.SHA256 = hex.EncodeToString(sum)
	f.Fill()
	return nil
}

// NewFile is an upload whose blobs are already stored.
type NewFile struct {
	ID, WorkspaceID, UploaderID int64
	Name, ContentType           string
	Size                        int64
	SHA256                      []byte
	Width, Height               int // 0: not an image (or not decoded)
	HasThumbnail                bool
}

// CreateFile records an upload, unattached (the janitor collects it after its grace time
// unless a message or avatar uses it first).
func (s *Store) CreateFile(ctx context.Context, nf NewFile) (FileRow, error) {
	var w, h *int
	if nf.Width > 0 {
		w, h = &nf.Width, &nf.Height
	}
	var f FileRow
	err := scanFileRow(s.pool.QueryRow(ctx, `INSERT INTO files AS f
		(id, workspace_id, uploader_id, name, size, content_type, sha256, width, height, has_thumbnail, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING `+fileColumns,
		nf.ID, nf.WorkspaceID, nf.UploaderID, nf.Name, nf.Size, nf.ContentType, nf.SHA256, w, h, nf.HasThumbnail, s.nowUTC()), &f)
	if err != nil {
		return FileRow{}, fmt.Errorf("create file: %w", err)
	}
	return f, nil
}

// maxFileChannels bounds how many channels a file's access check looks at.
const maxFileChannels = 50

// VisibleFile returns file id when viewerID may read it: its uploader; anyone sharing a
// workspace with a user whose avatar it is; anyone who can read a channel where a message
// carries it now. Anyone else (and a file being deleted) is ErrNotFound, never a 403:
// the caller must not learn that it exists.
func (s *Store) VisibleFile(ctx context.Context, viewerID, id int64) (FileRow, error) {
	var f FileRow
	var direct bool
	var channels []int64
	err := scanFileRow(s.pool.QueryRow(ctx, `SELECT `+fileColumns+`,
		    f.uploader_id = $2 OR EXISTS (
		        SELECT 1 FROM users u
		        JOIN workspace_members theirs ON theirs.user_id = u.id
		        JOIN workspace_members mine ON mine.workspace_id = theirs.workspace_id AND mine.user_id = $2
		        WHERE u.avatar_file_id = f.id),
		    ARRAY(SELECT DISTINCT m.channel_id FROM message_files mf JOIN messages m ON m.id = mf.message_id
		          WHERE mf.file_id = f.id AND m.deleted_at IS NULL LIMIT $3)
		FROM files f WHERE f.id = $1 AND f.deleted_at IS NULL`, id, viewerID, maxFileChannels), &f, &direct, &channels)
	if errors.Is(err, pgx.ErrNoRows) {
		return FileRow{}, ErrNotFound
	}
	if err != nil {
		return FileRow{}, fmt.Errorf("file %d: %w", id, err)
	}
	if direct {
		return f, nil
	}
	for _, cid := range channels {
		acc, err := s.ChannelAccess(ctx, viewerID, cid)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return FileRow{}, err
		}
		if acc.CanRead() == nil {
			return f, nil
		}
	}
	return FileRow{}, ErrNotFound
}

// ExpireUnattachedFiles marks the uploads created before cutoff that no message or avatar
// ever used as deleted, at most limit of them, and returns how many. An append that
// attaches one holds its row (FOR SHARE) until it commits, and this UPDATE then re-checks
// the row: a file is never both attached and collected.
func (s *Store) ExpireUnattachedFiles(ctx context.Context, cutoff time.Time, limit int) (int, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE files SET deleted_at = $2
		WHERE id IN (SELECT id FROM files WHERE NOT attached AND deleted_at IS NULL AND created_at < $1
		             ORDER BY created_at LIMIT $3)
		  AND NOT attached AND deleted_at IS NULL`, cutoff, s.nowUTC(), limit)
	if err != nil {
		return 0, fmt.Errorf("expire unattached files: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// DeletedFile is a file row marked deleted whose blobs are still to be removed.
type DeletedFile struct {
	ID           int64
	HasThumbnail bool
}

// DeletedFiles lists up to limit files marked deleted, oldest first.
func (s *Store) DeletedFiles(ctx context.Context, limit int) ([]DeletedFile, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, has_thumbnail FROM files WHERE deleted_at IS NOT NULL
		ORDER BY deleted_at LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("deleted files: %w", err)
	}
	return collect(rows, func(row pgx.Row, d *DeletedFile) error { return row.Scan(&d.ID, &d.HasThumbnail) })
}

// PurgeFiles removes the rows of deleted files whose blobs are gone.
func (s *Store) PurgeFiles(ctx context.Context, ids []int64) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM files WHERE id = ANY($1) AND deleted_at IS NOT NULL`, ids); err != nil {
		return fmt.Errorf("purge files: %w", err)
	}
	return nil
}

// queueFileLookup queues, in the append's first pipeline, the lookup of the files the
// batch attaches. FOR SHARE holds each row until the commit so that neither the janitor
// nor a message deletion can mark it deleted in between; a row already marked is not found.
func queueFileLookup(b *pgx.Batch, ids []int64, st *appendState) {
	b.Queue(`SELECT `+fileColumns+` FROM files f WHERE f.id = ANY($1) AND f.deleted_at IS NULL
		ORDER BY f.id FOR SHARE`, ids).
		Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var f FileRow
				if err := scanFileRow(rows, &f); err != nil {
					return err
				}
				st.files[f.ID] = f
			}
			return rows.Err()
		})
}

// filesOf resolves a new message's fileIds: each must be an upload of its author in the
// channel's workspace, else the message is refused (400) and the rest of the batch goes on.
func filesOf(nm NewMessage, st *appendState) ([]File, error) {
	if err := ValidateFileIDs(nm.FileIDs); err != nil {
		return nil, err
	}
	out := make([]File, len(nm.FileIDs))
	for i, id := range nm.FileIDs {
		f, ok := st.files[id]
		if !ok || f.UploaderID != nm.UserID || f.WorkspaceID != st.workspaceID {
			return nil, &ValidationError{Field: "fileIds", Reason: "file " + strconv.FormatInt(id, 10) +
				" is not an upload of yours in this workspace"}
		}
		out[i] = f.File
	}
	return out, nil
}

// queueAttach writes the plan's attachments: the message_files rows and each file's refs.
func queueAttach(b *pgx.Batch, p *appendPlan) {
	var msgs, files []int64
	var pos []int16
	for _, i := range p.newMsgs {
		m := &p.results[i].Message
		for j, f := range m.Files {
			msgs, files, pos = append(msgs, m.ID), append(files, f.ID), append(pos, int16(j))
		}
	}
	if len(files) == 0 {
		return
	}
	b.Queue(`INSERT INTO message_files (message_id, file_id, position)
		SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::smallint[])`, msgs, files, pos)
	b.Queue(`UPDATE files f SET refs = f.refs + x.n, attached = true
		FROM (SELECT id, count(*) AS n FROM unnest($1::bigint[]) AS u(id) GROUP BY id) x
		WHERE f.id = x.id`, files)
}

// queueDetach queues, in a message deletion, the removal of its attachments: a file no
// message or avatar uses any more is marked deleted (the janitor removes its blobs).
func queueDetach(b *pgx.Batch, messageID int64, now time.Time) {
	b.Queue(`WITH gone AS (DELETE FROM message_files WHERE message_id = $1 RETURNING file_id)
		UPDATE files f SET refs = f.refs - 1, deleted_at = CASE WHEN f.refs = 1 THEN $2 ELSE f.deleted_at END
		FROM gone WHERE f.id = gone.file_id`, messageID, now)
}

// messageFilesColumn is the select-list expression of a message's files, in order, as JSON
// (scanned into Message.Files).
const messageFilesColumn = `COALESCE((SELECT json_agg(json_build_object('id', f.id::text, 'name', f.name, 'size', f.size,
		    'contentType', f.content_type, 'sha256', encode(f.sha256, 'hex'), 'width', COALESCE(f.width, 0),
		    'height', COALESCE(f.height, 0), 'url', '/api/files/' || f.id || '/content',
		    'thumbnailUrl', CASE WHEN f.has_thumbnail THEN '/api/files/' || f.id || '/thumbnail' END) ORDER BY mf.position)
		  FROM message_files mf JOIN files f ON f.id = mf.file_id WHERE mf.message_id = m.id), '[]')`
