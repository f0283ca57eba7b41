-- Personal API tokens (SPEC "Integrations", ADR 0035): long-lived bearer secrets a user
-- mints for scripts and bots. Only the SHA-256 of the secret is stored; prefix is its first
-- characters, shown in lists so that a user can tell tokens apart. Revoking deletes the row.

-- +goose Up
CREATE TABLE api_tokens (
    id           BIGINT PRIMARY KEY,
    user_id      BIGINT NOT NULL REFERENCES users (id),
    name         TEXT NOT NULL CHECK (char_length(name) BETWEEN 1 AND 64),
    token_hash   BYTEA NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32),
    prefix       TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at   TIMESTAMPTZ NOT NULL,
    last_used_at TIMESTAMPTZ
);
CREATE INDEX api_tokens_user ON api_tokens (user_id, id);

-- +goose Down
DROP TABLE api_tokens;
