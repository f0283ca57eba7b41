-- Search filters (SPEC "Search", ADR 0039). has:link is "the content holds an http(s) URL":
-- a partial index over the ids of such messages, so that has:link walks only them, newest
-- first, instead of testing a regular expression on every readable message. The search
-- query states the same predicate in the same words (persistence hasLinkCondition); the
-- planner uses a partial index only for a query whose condition implies its predicate.
-- Built CONCURRENTLY: on a large messages table a plain build would stop every post.

-- +goose NO TRANSACTION
-- +goose Up
CREATE INDEX CONCURRENTLY IF NOT EXISTS messages_has_link ON messages (id)
    WHERE content ~* 'https?://[^[:space:]]';

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS messages_has_link;
