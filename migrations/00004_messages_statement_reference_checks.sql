-- messages.channel_id and messages.user_id lose their foreign keys; one statement-level
-- trigger per insert statement checks what they checked, and two delete triggers keep what
-- deleting a channel or a user did (ADR 0016).
--
-- Why: a foreign key is checked row by row. For every inserted message PostgreSQL queues an
-- after-trigger event and runs `SELECT 1 FROM channels WHERE id = $1 FOR KEY SHARE` (and the
-- same on users), locking the referenced row again for each message. With the group commit
-- writing hundreds of messages of one channel by a few dozen users per statement, the two
-- checks were a third of PostgreSQL's CPU per message (bench/pgappend: 40-45 us/row with
-- them, 27-28 without, 29-32 with the statement trigger below).
--
-- What is kept:
--   * an insert naming a missing channel or user fails (foreign_key_violation, 23503), now
--     once per statement over its distinct ids;
--   * deleting a channel deletes its messages (was ON DELETE CASCADE);
--   * deleting a user who has messages fails (was NO ACTION).
-- What is not: the check does not lock the channel or user row. The append path holds the
-- channel's row lock for the whole transaction (UPDATE channels ... last_seq), so the channel
-- cannot go away under it; parley never deletes users, and an operator's DELETE of a user
-- racing that user's first message is the one case the old key covered and this does not.
-- messages.parent_id keeps its foreign key: it is NULL for most messages, which costs the
-- row check next to nothing.

-- +goose Up
ALTER TABLE messages DROP CONSTRAINT messages_channel_id_fkey,
                     DROP CONSTRAINT messages_user_id_fkey;

-- +goose StatementBegin
CREATE FUNCTION messages_check_references() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    missing BIGINT;
BEGIN
    SELECT n.channel_id INTO missing FROM (SELECT DISTINCT channel_id FROM new_messages) n
    WHERE NOT EXISTS (SELECT 1 FROM channels c WHERE c.id = n.channel_id) LIMIT 1;
    IF FOUND THEN
        RAISE foreign_key_violation USING MESSAGE = format('messages: channel %s does not exist', missing),
            CONSTRAINT = 'messages_channel_id_check';
    END IF;
    SELECT n.user_id INTO missing FROM (SELECT DISTINCT user_id FROM new_messages) n
    WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = n.user_id) LIMIT 1;
    IF FOUND THEN
        RAISE foreign_key_violation USING MESSAGE = format('messages: user %s does not exist', missing),
            CONSTRAINT = 'messages_user_id_check';
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER messages_check_references AFTER INSERT ON messages
    REFERENCING NEW TABLE AS new_messages
    FOR EACH STATEMENT EXECUTE FUNCTION messages_check_references();

-- +goose StatementBegin
CREATE FUNCTION channels_delete_messages() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM messages m USING old_channels o WHERE m.channel_id = o.id;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER channels_delete_messages AFTER DELETE ON channels
    REFERENCING OLD TABLE AS old_channels
    FOR EACH STATEMENT EXECUTE FUNCTION channels_delete_messages();

-- +goose StatementBegin
CREATE FUNCTION users_refuse_delete_with_messages() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    author BIGINT;
BEGIN
    SELECT o.id INTO author FROM old_users o
    WHERE EXISTS (SELECT 1 FROM messages m WHERE m.user_id = o.id) LIMIT 1;
    IF FOUND THEN
        RAISE foreign_key_violation USING MESSAGE = format('users: user %s has messages', author),
            CONSTRAINT = 'messages_user_id_check';
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER users_refuse_delete_with_messages AFTER DELETE ON users
    REFERENCING OLD TABLE AS old_users
    FOR EACH STATEMENT EXECUTE FUNCTION users_refuse_delete_with_messages();

-- +goose Down
DROP TRIGGER users_refuse_delete_with_messages ON users;
DROP FUNCTION users_refuse_delete_with_messages();
DROP TRIGGER channels_delete_messages ON channels;
DROP FUNCTION channels_delete_messages();
DROP TRIGGER messages_check_references ON messages;
DROP FUNCTION messages_check_references();
ALTER TABLE messages ADD CONSTRAINT messages_channel_id_fkey
        FOREIGN KEY (channel_id) REFERENCES channels (id) ON DELETE CASCADE,
    ADD CONSTRAINT messages_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id);
