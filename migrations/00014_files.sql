-- Files (SPEC "Files", ADR 0041): uploads, their attachment to messages, avatars.
-- The bytes live in a blob store (a directory or S3) under the keys files/<id> and
-- thumbnails/<id>; a row here is the only way to reach them.
--
-- refs counts the messages and avatars using a file; attached says it was ever used, so
-- that the janitor collects only uploads never attached (after 24 h). A file whose last
-- user goes (refs back to 0, or an unattached upload expiring) gets deleted_at: from then on
-- nobody can read it, and the janitor removes its blobs and then the row. Both counters
-- live on the file's own row so that every writer (append, message deletion, avatar change,
-- janitor) serialises on that row's lock and re-checks it under READ COMMITTED.

-- +goose Up
CREATE TABLE files (
    id            BIGINT PRIMARY KEY,
    workspace_id  BIGINT NOT NULL REFERENCES workspaces (id),
    uploader_id   BIGINT NOT NULL REFERENCES users (id),
    name          TEXT NOT NULL CHECK (char_length(name) BETWEEN 1 AND 255),
    size          BIGINT NOT NULL CHECK (size >= 0),
    content_type  TEXT NOT NULL,
    sha256        BYTEA NOT NULL CHECK (octet_length(sha256) = 32),
    width         INT,
    height        INT,
    has_thumbnail BOOLEAN NOT NULL DEFAULT false,
    created_at    TIMESTAMPTZ NOT NULL,
    refs          INT NOT NULL DEFAULT 0 CHECK (refs >= 0),
    attached      BOOLEAN NOT NULL DEFAULT false,
    deleted_at    TIMESTAMPTZ
);
CREATE INDEX files_unattached ON files (created_at) WHERE NOT attached AND deleted_at IS NULL;
CREATE INDEX files_deleted ON files (deleted_at) WHERE deleted_at IS NOT NULL;

CREATE TABLE message_files (
    message_id BIGINT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    file_id    BIGINT NOT NULL REFERENCES files (id),
    position   SMALLINT NOT NULL,
    PRIMARY KEY (message_id, file_id)
);
CREATE INDEX message_files_file ON message_files (file_id);

ALTER TABLE users ADD COLUMN avatar_file_id BIGINT REFERENCES files (id);

-- +goose Down
ALTER TABLE users DROP COLUMN avatar_file_id;
DROP TABLE message_files;
DROP TABLE files;
