-- Two regular expressions ran on every message append (ADR 0052), found by a profile of the
-- PostgreSQL backend committing 1,000 channels' messages at once:
--
-- * channels_name_check (name ~ '^[a-z0-9_-]{1,80}$'): PostgreSQL evaluates every CHECK of
--   a row on every UPDATE, whichever columns change, so each append's UPDATE of last_seq
--   ran the channel name through the regex engine. The same rule as a length test and an
--   ltrim of the allowed characters costs a few byte comparisons; a DM's name is NULL and
--   passes both, as it did the regex.
-- * messages_has_link is a partial index, so its predicate (content ~* 'https?://…') was
--   evaluated, case-insensitively, for every inserted message. A strpos for '://' ahead of
--   it settles most messages (no URL) without the regex; the search query states the same
--   two conditions (persistence hasLinkCondition) so that the planner still proves the
--   index usable. Built CONCURRENTLY under a new name, then renamed: a plain build would
--   stop every post on a large table.

-- +goose NO TRANSACTION
-- +goose Up
ALTER TABLE channels DROP CONSTRAINT channels_name_check,
    ADD CONSTRAINT channels_name_check CHECK (length(name) BETWEEN 1 AND 80
        AND ltrim(name, 'abcdefghijklmnopqrstuvwxyz0123456789_-') = '');
CREATE INDEX CONCURRENTLY IF NOT EXISTS messages_has_link_2 ON messages (id)
    WHERE strpos(content, '://') > 0 AND content ~* 'https?://[^[:space:]]';
DROP INDEX CONCURRENTLY IF EXISTS messages_has_link;
ALTER INDEX messages_has_link_2 RENAME TO messages_has_link;

-- +goose Down
CREATE INDEX CONCURRENTLY IF NOT EXISTS messages_has_link_1 ON messages (id)
    WHERE content ~* 'https?://[^[:space:]]';
DROP INDEX CONCURRENTLY IF EXISTS messages_has_link;
ALTER INDEX messages_has_link_1 RENAME TO messages_has_link;
ALTER TABLE channels DROP CONSTRAINT channels_name_check,
    ADD CONSTRAINT channels_name_check CHECK (name ~ '^[a-z0-9_-]{1,80}$');
