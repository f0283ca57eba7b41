-- Slash commands (SPEC "Integrations", ADR 0038): a workspace's /name bound to a URL that is
-- POSTed, signed with secret (HMAC, the same scheme as outgoing webhooks), when a member sends
-- a message starting with /name. secret is kept as given: it is needed to sign. A "channel"
-- response is posted as bot_user_id, the command's own bot user; NULL only while the
-- command is being created (its bot comes after the name is taken), and such a row is never
-- run.
--
-- slash_responses are the response URLs handed to the receiver with each call: the SHA-256 of
-- an unguessable token, the call it answers, how many more uses it has and until when.

-- +goose Up
CREATE TABLE slash_commands (
    id           BIGINT PRIMARY KEY,
    workspace_id BIGINT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name         TEXT NOT NULL CHECK (name ~ '^/[a-z0-9_-]{1,32}$'),
    url          TEXT NOT NULL CHECK (char_length(url) BETWEEN 1 AND 2048),
    secret       TEXT NOT NULL,
    bot_user_id  BIGINT REFERENCES users (id),
    created_by   BIGINT NOT NULL REFERENCES users (id),
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (workspace_id, name)
);

CREATE TABLE slash_responses (
    token_hash  BYTEA PRIMARY KEY CHECK (octet_length(token_hash) = 32),
    command_id  BIGINT NOT NULL REFERENCES slash_commands (id) ON DELETE CASCADE,
    user_id     BIGINT NOT NULL,
    channel_id  BIGINT NOT NULL,
    parent_id   BIGINT NOT NULL DEFAULT 0,
    uses_left   INT NOT NULL CHECK (uses_left >= 0),
    expires_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX slash_responses_expiry ON slash_responses (expires_at);
CREATE INDEX slash_responses_command ON slash_responses (command_id);

-- +goose Down
DROP TABLE slash_responses;
DROP TABLE slash_commands;
