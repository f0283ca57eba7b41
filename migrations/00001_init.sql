-- The whole resource model of SPEC.md. Ids are 64-bit time-ordered ids made by the
-- application (cluster.IDGenerator), so no table uses a sequence. Constraints repeat the
-- API's validation rules so that a bug above the database cannot store what the API forbids.

-- +goose Up
CREATE TABLE users (
    id           BIGINT PRIMARY KEY,
    subject      TEXT NOT NULL UNIQUE CHECK (length(subject) BETWEEN 1 AND 255),
    username     TEXT NOT NULL UNIQUE CHECK (username ~ '^[a-z0-9_.-]{1,64}$'),
    display_name TEXT NOT NULL DEFAULT '' CHECK (length(display_name) <= 200),
    email        TEXT CHECK (length(email) <= 320),
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE workspaces (
    id         BIGINT PRIMARY KEY,
    name       TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 80),
    created_by BIGINT NOT NULL REFERENCES users (id),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE workspace_members (
    workspace_id BIGINT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    user_id      BIGINT NOT NULL REFERENCES users (id),
    role         TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'guest')),
    joined_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, user_id)
);
-- Exactly one owner: at most one by this index, at least one by the application
-- (ownership moves in one transaction, the owner cannot leave or be demoted).
CREATE UNIQUE INDEX workspace_members_one_owner ON workspace_members (workspace_id) WHERE role = 'owner';
CREATE INDEX workspace_members_user ON workspace_members (user_id);

CREATE TABLE invitations (
    id           BIGINT PRIMARY KEY,
    workspace_id BIGINT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    token        TEXT NOT NULL UNIQUE CHECK (length(token) BETWEEN 16 AND 128),
    email        TEXT CHECK (length(email) <= 320),
    username     TEXT CHECK (username ~ '^[a-z0-9_.-]{1,64}$'),
    role         TEXT NOT NULL CHECK (role IN ('admin', 'member', 'guest')),
    status       TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'accepted', 'revoked')),
    invited_by   BIGINT NOT NULL REFERENCES users (id),
    accepted_by  BIGINT REFERENCES users (id),
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at   TIMESTAMPTZ NOT NULL,
    accepted_at  TIMESTAMPTZ,
    CHECK ((email IS NULL) <> (username IS NULL)),
    CHECK ((status = 'accepted') = (accepted_by IS NOT NULL))
);
CREATE INDEX invitations_workspace ON invitations (workspace_id) WHERE status = 'pending';

CREATE TABLE channels (
    id           BIGINT PRIMARY KEY,
    workspace_id BIGINT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name         TEXT NOT NULL CHECK (name ~ '^[a-z0-9_-]{1,80}$'),
    type         TEXT NOT NULL CHECK (type IN ('public', 'private')),
    topic        TEXT NOT NULL DEFAULT '' CHECK (length(topic) <= 250),
    created_by   BIGINT NOT NULL REFERENCES users (id),
    archived     BOOLEAN NOT NULL DEFAULT false,
    -- The channel's order: the last seq handed out. Advanced by the group commit
    -- (last_seq = last_seq + n) in the same transaction that inserts the messages.
    last_seq     BIGINT NOT NULL DEFAULT 0 CHECK (last_seq >= 0),
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (workspace_id, name)
);

CREATE TABLE channel_members (
    channel_id BIGINT NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    user_id    BIGINT NOT NULL REFERENCES users (id),
    joined_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (channel_id, user_id)
);
CREATE INDEX channel_members_user ON channel_members (user_id);

CREATE TABLE messages (
    id            BIGINT PRIMARY KEY,
    channel_id    BIGINT NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    seq           BIGINT NOT NULL CHECK (seq > 0),
    user_id       BIGINT NOT NULL REFERENCES users (id),
    parent_id     BIGINT REFERENCES messages (id),
    content       TEXT NOT NULL CHECK (length(content) <= 4000),
    client_msg_id TEXT CHECK (length(client_msg_id) BETWEEN 1 AND 64),
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    edited_at     TIMESTAMPTZ,
    deleted_at    TIMESTAMPTZ,
    -- 'simple' keeps every word (no stemming, no stop words): chat text is multilingual
    -- and full of names and code, where an English stemmer guesses wrong.
    tsv           TSVECTOR GENERATED ALWAYS AS (to_tsvector('simple', content)) STORED,
    UNIQUE (channel_id, seq),
    CHECK (parent_id IS NULL OR parent_id <> id),
    CHECK (deleted_at IS NULL OR content = '')
);
-- A retry with the same clientMsgId finds the first message instead of writing a second.
CREATE UNIQUE INDEX messages_client_msg_id ON messages (channel_id, user_id, client_msg_id) WHERE client_msg_id IS NOT NULL;
CREATE INDEX messages_parent ON messages (parent_id, seq) WHERE parent_id IS NOT NULL;
CREATE INDEX messages_user ON messages (user_id);
CREATE INDEX messages_tsv ON messages USING GIN (tsv);

-- Thread statistics, kept by the transaction that inserts a reply, so that listing threads
-- is one indexed read instead of one count per root (the reference needed 1,101 queries).
CREATE TABLE threads (
    root_id        BIGINT PRIMARY KEY REFERENCES messages (id) ON DELETE CASCADE,
    channel_id     BIGINT NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    reply_count    INTEGER NOT NULL DEFAULT 0 CHECK (reply_count >= 0),
    last_reply_at  TIMESTAMPTZ NOT NULL,
    last_reply_seq BIGINT NOT NULL,
    -- Up to five distinct repliers, first come first listed.
    participants   BIGINT[] NOT NULL DEFAULT '{}' CHECK (cardinality(participants) <= 5)
);
CREATE INDEX threads_channel_recent ON threads (channel_id, last_reply_seq DESC);

CREATE TABLE reactions (
    message_id BIGINT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    emoji      TEXT NOT NULL CHECK (length(emoji) BETWEEN 1 AND 64),
    user_id    BIGINT NOT NULL REFERENCES users (id),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (message_id, emoji, user_id)
);

CREATE TABLE mentions (
    id         BIGINT PRIMARY KEY,
    message_id BIGINT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    channel_id BIGINT NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    user_id    BIGINT NOT NULL REFERENCES users (id),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    read_at    TIMESTAMPTZ,
    UNIQUE (message_id, user_id)
);
CREATE INDEX mentions_user ON mentions (user_id, id DESC);
CREATE INDEX mentions_user_unread ON mentions (user_id, id DESC) WHERE read_at IS NULL;

-- Read markers: the highest seq a user has read in a channel. Every writer uses
-- GREATEST so a marker never moves backwards, whatever order writes arrive in.
CREATE TABLE read_receipts (
    user_id       BIGINT NOT NULL REFERENCES users (id),
    channel_id    BIGINT NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    last_read_seq BIGINT NOT NULL DEFAULT 0 CHECK (last_read_seq >= 0),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, channel_id)
);
CREATE INDEX read_receipts_channel ON read_receipts (channel_id);

-- +goose Down
DROP TABLE read_receipts;
DROP TABLE mentions;
DROP TABLE reactions;
DROP TABLE threads;
DROP TABLE messages;
DROP TABLE channel_members;
DROP TABLE channels;
DROP TABLE invitations;
DROP TABLE workspace_members;
DROP TABLE workspaces;
DROP TABLE users;
