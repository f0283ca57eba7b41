-- Direct messages, mention counts per channel, and profile fields (issue 23, ADR 0032).
--
-- A DM is a channel of type 'dm' with no name whose members are fixed: the sorted,
-- distinct member ids are stored on the channel (dm_members) and unique per workspace, so
-- that two people opening the same conversation at the same instant get one channel: the
-- second INSERT waits on the first's index entry and then finds it (ON CONFLICT DO
-- NOTHING), whatever node or connection each came through.
--
-- mentions.seq is the seq of the mentioning message, copied at insert, so that the channel
-- list counts a user's unread mentions per channel (seq above their read marker) on one
-- partial index, without joining every mention they ever had to messages.

-- +goose Up
-- +goose StatementBegin
CREATE FUNCTION parley_sorted_distinct(a BIGINT[]) RETURNS BOOLEAN
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT a = ARRAY(SELECT DISTINCT x FROM unnest(a) AS x ORDER BY x) $$;
-- +goose StatementEnd

ALTER TABLE channels
    DROP CONSTRAINT channels_type_check,
    ADD CONSTRAINT channels_type_check CHECK (type IN ('public', 'private', 'dm')),
    ALTER COLUMN name DROP NOT NULL,
    ADD COLUMN dm_members BIGINT[],
    ADD CONSTRAINT channels_dm_shape CHECK (
        (type = 'dm') = (dm_members IS NOT NULL)
        AND (type = 'dm') = (name IS NULL)
        AND (dm_members IS NULL OR (cardinality(dm_members) BETWEEN 2 AND 8 AND parley_sorted_distinct(dm_members))));
CREATE UNIQUE INDEX channels_dm_members ON channels (workspace_id, dm_members) WHERE type = 'dm';

ALTER TABLE mentions ADD COLUMN seq BIGINT;
UPDATE mentions mn SET seq = m.seq FROM messages m WHERE m.id = mn.message_id;
ALTER TABLE mentions ALTER COLUMN seq SET NOT NULL;
-- The predicate is written "(read_at IS NULL) IS TRUE", which means the same, so that only
-- a query stating it in these words can use the index and no other index can serve that
-- query: stated as "read_at IS NULL", PostgreSQL without statistics (every index of a
-- young table looks empty) kept mentions_user_unread, an equal-cost candidate, and walked
-- all of a user's unread mentions for each channel (0.8 s per list at 10,000; ADR 0032).
CREATE INDEX mentions_user_channel_unread ON mentions (user_id, channel_id, seq) WHERE (read_at IS NULL) IS TRUE;

-- Profile fields. display_name_set: the user chose their display name (PATCH
-- /api/users/me), so the name claim of later tokens no longer overwrites it.
ALTER TABLE users
    ADD COLUMN display_name_set BOOLEAN NOT NULL DEFAULT false,
    ADD COLUMN status_text  TEXT NOT NULL DEFAULT '' CHECK (length(status_text) <= 100),
    ADD COLUMN status_emoji TEXT NOT NULL DEFAULT '' CHECK (length(status_emoji) <= 64),
    ADD COLUMN timezone     TEXT NOT NULL DEFAULT '' CHECK (length(timezone) <= 64);

-- +goose Down
ALTER TABLE users DROP COLUMN timezone, DROP COLUMN status_emoji, DROP COLUMN status_text,
    DROP COLUMN display_name_set;
DROP INDEX mentions_user_channel_unread;
ALTER TABLE mentions DROP COLUMN seq;
DELETE FROM channels WHERE type = 'dm';
DROP INDEX channels_dm_members;
ALTER TABLE channels
    DROP CONSTRAINT channels_dm_shape,
    DROP COLUMN dm_members,
    ALTER COLUMN name SET NOT NULL,
    DROP CONSTRAINT channels_type_check,
    ADD CONSTRAINT channels_type_check CHECK (type IN ('public', 'private'));
DROP FUNCTION parley_sorted_distinct(BIGINT[]);
