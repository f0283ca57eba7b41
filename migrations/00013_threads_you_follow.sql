-- Threads you follow (SPEC "Threads you follow", ADR 0040).
--
-- thread_follows: who follows which thread. Rows are written by the append that makes
-- someone a follower (a reply: its author and the root's author; a mention in a reply or
-- in a root: the mentioned user), and by PUT/DELETE /api/messages/{mid}/follow. Posting a
-- root writes nothing: its author's row comes with the first reply (ON CONFLICT DO NOTHING,
-- so an explicit unfollow stays), which keeps the one-statement append path untouched.
-- following=false is an explicit unfollow, kept so that implicit follows do not undo it.
--
-- thread_reads: per-thread read markers, the highest reply seq read. Reply seqs are the
-- channel's seqs, so a thread marker is a channel seq too: unread replies are the live
-- replies above it (messages_live_replies), counted, never stored, so no counter can drift.
-- Written by the read-receipt persister (GREATEST, like read_receipts) and by the append
-- (a reply advances its author's marker).

-- +goose Up
CREATE TABLE thread_follows (
    user_id    BIGINT NOT NULL REFERENCES users (id),
    root_id    BIGINT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    channel_id BIGINT NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    following  BOOLEAN NOT NULL DEFAULT true,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, root_id)
);
-- The followers of a thread, for thread.updated.
CREATE INDEX thread_follows_root ON thread_follows (root_id) WHERE following;

CREATE TABLE thread_reads (
    user_id       BIGINT NOT NULL REFERENCES users (id),
    root_id       BIGINT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    channel_id    BIGINT NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    last_read_seq BIGINT NOT NULL DEFAULT 0 CHECK (last_read_seq >= 0),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, root_id)
);

-- Unread replies of a thread: the live replies above a marker, one index range per thread.
-- user_id is included so that "by others" needs no heap visit.
CREATE INDEX messages_live_replies ON messages (parent_id, seq) INCLUDE (user_id)
    WHERE parent_id IS NOT NULL AND deleted_at IS NULL;

-- +goose Down
DROP INDEX messages_live_replies;
DROP TABLE thread_reads;
DROP TABLE thread_follows;
