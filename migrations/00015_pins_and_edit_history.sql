-- Pins and edit history (SPEC "Rich text, pins, history, reactions", ADR 0042).
--
-- pins: at most one pin per message (pinning twice is a no-op); channel_id is the message's
-- channel, kept here so that a channel's pins are one index range. Bounded per channel by
-- the store (MaxPinsPerChannel), not by a constraint: the bound can move without a migration.
--
-- message_versions: the earlier versions of an edited message, one row per edit; version
-- counts the message's edits from 1 and written_at is when that version was written (the
-- original's created_at, or the edit that produced it). The store keeps the newest
-- MaxEditHistory versions of a message and removes them all when it becomes a tombstone.

-- +goose Up
CREATE TABLE pins (
    message_id BIGINT PRIMARY KEY REFERENCES messages (id) ON DELETE CASCADE,
    channel_id BIGINT NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    pinned_by  BIGINT NOT NULL REFERENCES users (id),
    pinned_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX pins_channel ON pins (channel_id, pinned_at DESC, message_id);

CREATE TABLE message_versions (
    message_id BIGINT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    version    INTEGER NOT NULL CHECK (version > 0),
    content    TEXT NOT NULL CHECK (length(content) <= 4000),
    written_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (message_id, version)
);

-- +goose Down
DROP TABLE message_versions;
DROP TABLE pins;
