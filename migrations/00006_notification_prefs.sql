-- Notification preferences (SPEC "Notifications"): per user and channel, and a user's
-- do-not-disturb deadline. A missing channel_prefs row is the default (mentions, not muted,
-- not hidden), so that no row is written until someone changes something.

-- +goose Up
CREATE TABLE channel_prefs (
    user_id    BIGINT NOT NULL REFERENCES users (id),
    channel_id BIGINT NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    notify     TEXT NOT NULL DEFAULT 'mentions' CHECK (notify IN ('all', 'mentions', 'none')),
    muted      BOOLEAN NOT NULL DEFAULT false,
    hidden     BOOLEAN NOT NULL DEFAULT false,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, channel_id)
);
-- @channel reads the prefs of a channel's members: by channel.
CREATE INDEX channel_prefs_channel ON channel_prefs (channel_id);

-- NULL or past: notifications flow.
ALTER TABLE users ADD COLUMN dnd_until TIMESTAMPTZ;

-- +goose Down
ALTER TABLE users DROP COLUMN dnd_until;
DROP TABLE channel_prefs;
