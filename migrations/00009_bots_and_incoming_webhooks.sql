-- Bot accounts and incoming webhooks (SPEC "Integrations", ADR 0036).
--
-- A bot account is a users row with is_bot (migration 00008) that a workspace's owner or
-- admin made: bots records which workspace it belongs to and who made it, so that the
-- managers of that workspace mint and revoke its API tokens. An incoming webhook posts as a
-- bot user of its own, which is not a bot account (no row in bots: nobody mints tokens for it).
--
-- incoming_webhooks holds the SHA-256 of the URL's secret, never the secret; revoking deletes
-- the row, so a revoked hook and one that never existed look the same (404).

-- +goose Up
CREATE TABLE bots (
    user_id        BIGINT PRIMARY KEY REFERENCES users (id),
    workspace_id   BIGINT NOT NULL REFERENCES workspaces (id),
    created_by     BIGINT NOT NULL REFERENCES users (id),
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    deactivated_at TIMESTAMPTZ
);
CREATE INDEX bots_workspace ON bots (workspace_id, user_id);

CREATE TABLE incoming_webhooks (
    id          BIGINT PRIMARY KEY,
    channel_id  BIGINT NOT NULL REFERENCES channels (id),
    bot_user_id BIGINT NOT NULL REFERENCES users (id),
    name        TEXT NOT NULL CHECK (char_length(name) BETWEEN 1 AND 64),
    secret_hash BYTEA NOT NULL CHECK (octet_length(secret_hash) = 32),
    created_by  BIGINT NOT NULL REFERENCES users (id),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX incoming_webhooks_channel ON incoming_webhooks (channel_id, id);

-- A bot never manages a workspace: whatever path writes its membership, it is never an
-- owner or an admin. The API refuses first with a clear 403; this is the backstop.
-- +goose StatementBegin
CREATE FUNCTION workspace_members_no_bot_managers() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.role IN ('owner', 'admin') AND EXISTS (SELECT 1 FROM users WHERE id = NEW.user_id AND is_bot) THEN
        RAISE EXCEPTION 'a bot cannot be a workspace %', NEW.role
            USING ERRCODE = 'check_violation', CONSTRAINT = 'workspace_members_no_bot_managers';
    END IF;
    RETURN NEW;
END $$;
-- +goose StatementEnd
CREATE TRIGGER workspace_members_no_bot_managers BEFORE INSERT OR UPDATE OF role ON workspace_members
    FOR EACH ROW EXECUTE FUNCTION workspace_members_no_bot_managers();

-- +goose Down
DROP TRIGGER workspace_members_no_bot_managers ON workspace_members;
DROP FUNCTION workspace_members_no_bot_managers();
DROP TABLE incoming_webhooks;
DROP TABLE bots;
