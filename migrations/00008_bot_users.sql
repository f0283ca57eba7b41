-- Bot users (SPEC "Integrations", ADR 0036): a bot is a user row a workspace owner or admin
-- made, or one an integration (incoming or outgoing webhook, slash command) made to post as.
-- It signs in only with API tokens: UpsertUser never maps a token's subject onto it.

-- +goose Up
ALTER TABLE users ADD COLUMN is_bot BOOLEAN NOT NULL DEFAULT false;

-- +goose Down
ALTER TABLE users DROP COLUMN is_bot;
