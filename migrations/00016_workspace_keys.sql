-- Workspace keys on the tables whose writes are cold (issue 26, ADR 0049): the first step
-- towards distributing parley's PostgreSQL by workspace (docs/DISTRIBUTED-POSTGRES.md). A
-- distributed table (Citus) or a workspace-routed database needs every row to say which
-- workspace it belongs to; these tables did not, and learnt it only by joining channels or
-- messages.
--
-- What changes: channel_members, channel_prefs, incoming_webhooks, outgoing_webhooks,
-- outgoing_deliveries, slash_responses, pins, reactions and message_versions get
-- workspace_id NOT NULL, backfilled from their parent. An INSERT that does not name it (all of
-- today's store code) gets it from the parent through a BEFORE INSERT trigger, so no query
-- changes; a missing parent is still foreign_key_violation (store_prefs.go relies on it).
-- Where the parent row is keyed by workspace too, the foreign key becomes composite
-- ((workspace_id, channel_id) → channels (workspace_id, id), and the same for hooks and slash
-- commands), so a row can never name a workspace other than its channel's; that needs
-- UNIQUE (workspace_id, id) on channels, outgoing_webhooks and slash_commands. last_seq is in
-- no index, so the append's UPDATE of channels stays a HOT update and pays nothing for it.
--
-- What does not: messages, threads, mentions, read_receipts, thread_follows, thread_reads and
-- message_files are written by the append (store_append*.go); a column there means changing
-- the hot statements (or a trigger per row on them) and is listed in ADR 0049 as the rest.
-- reactions and message_versions hang off messages, which has no workspace_id yet: their
-- triggers look it up through the message's channel, and only the test checks that they agree.

-- +goose Up
CREATE UNIQUE INDEX channels_workspace_id ON channels (workspace_id, id);
CREATE UNIQUE INDEX slash_commands_workspace_id ON slash_commands (workspace_id, id);

-- +goose StatementBegin
CREATE FUNCTION parley_workspace_of_channel() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.workspace_id IS NULL THEN
        SELECT workspace_id INTO NEW.workspace_id FROM channels WHERE id = NEW.channel_id;
        IF NOT FOUND THEN
            RAISE foreign_key_violation USING MESSAGE = format('%s: channel %s does not exist', TG_TABLE_NAME, NEW.channel_id),
                CONSTRAINT = TG_TABLE_NAME || '_channel_workspace_fkey';
        END IF;
    END IF;
    RETURN NEW;
END $$;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE FUNCTION parley_workspace_of_message() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.workspace_id IS NULL THEN
        SELECT c.workspace_id INTO NEW.workspace_id FROM messages m JOIN channels c ON c.id = m.channel_id WHERE m.id = NEW.message_id;
        IF NOT FOUND THEN
            RAISE foreign_key_violation USING MESSAGE = format('%s: message %s does not exist', TG_TABLE_NAME, NEW.message_id),
                CONSTRAINT = TG_TABLE_NAME || '_message_id_fkey';
        END IF;
    END IF;
    RETURN NEW;
END $$;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE FUNCTION parley_workspace_of_hook() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.workspace_id IS NULL THEN
        SELECT workspace_id INTO NEW.workspace_id FROM outgoing_webhooks WHERE id = NEW.hook_id;
        IF NOT FOUND THEN
            RAISE foreign_key_violation USING MESSAGE = format('%s: hook %s does not exist', TG_TABLE_NAME, NEW.hook_id),
                CONSTRAINT = TG_TABLE_NAME || '_hook_workspace_fkey';
        END IF;
    END IF;
    RETURN NEW;
END $$;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE FUNCTION parley_workspace_of_command() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.workspace_id IS NULL THEN
        SELECT workspace_id INTO NEW.workspace_id FROM slash_commands WHERE id = NEW.command_id;
        IF NOT FOUND THEN
            RAISE foreign_key_violation USING MESSAGE = format('%s: command %s does not exist', TG_TABLE_NAME, NEW.command_id),
                CONSTRAINT = TG_TABLE_NAME || '_command_workspace_fkey';
        END IF;
    END IF;
    RETURN NEW;
END $$;
-- +goose StatementEnd

-- Tables under a channel: the composite key replaces the channel's own.
ALTER TABLE channel_members ADD COLUMN workspace_id BIGINT;
UPDATE channel_members t SET workspace_id = c.workspace_id FROM channels c WHERE c.id = t.channel_id;
ALTER TABLE channel_members ALTER COLUMN workspace_id SET NOT NULL,
    DROP CONSTRAINT channel_members_channel_id_fkey,
    ADD CONSTRAINT channel_members_channel_workspace_fkey FOREIGN KEY (workspace_id, channel_id)
        REFERENCES channels (workspace_id, id) ON DELETE CASCADE;
CREATE TRIGGER channel_members_workspace BEFORE INSERT ON channel_members
    FOR EACH ROW EXECUTE FUNCTION parley_workspace_of_channel();

ALTER TABLE channel_prefs ADD COLUMN workspace_id BIGINT;
UPDATE channel_prefs t SET workspace_id = c.workspace_id FROM channels c WHERE c.id = t.channel_id;
ALTER TABLE channel_prefs ALTER COLUMN workspace_id SET NOT NULL,
    DROP CONSTRAINT channel_prefs_channel_id_fkey,
    ADD CONSTRAINT channel_prefs_channel_workspace_fkey FOREIGN KEY (workspace_id, channel_id)
        REFERENCES channels (workspace_id, id) ON DELETE CASCADE;
CREATE TRIGGER channel_prefs_workspace BEFORE INSERT ON channel_prefs
    FOR EACH ROW EXECUTE FUNCTION parley_workspace_of_channel();

ALTER TABLE incoming_webhooks ADD COLUMN workspace_id BIGINT;
UPDATE incoming_webhooks t SET workspace_id = c.workspace_id FROM channels c WHERE c.id = t.channel_id;
ALTER TABLE incoming_webhooks ALTER COLUMN workspace_id SET NOT NULL,
    DROP CONSTRAINT incoming_webhooks_channel_id_fkey,
    ADD CONSTRAINT incoming_webhooks_channel_workspace_fkey FOREIGN KEY (workspace_id, channel_id)
        REFERENCES channels (workspace_id, id);
CREATE TRIGGER incoming_webhooks_workspace BEFORE INSERT ON incoming_webhooks
    FOR EACH ROW EXECUTE FUNCTION parley_workspace_of_channel();

ALTER TABLE outgoing_webhooks ADD COLUMN workspace_id BIGINT;
UPDATE outgoing_webhooks t SET workspace_id = c.workspace_id FROM channels c WHERE c.id = t.channel_id;
ALTER TABLE outgoing_webhooks ALTER COLUMN workspace_id SET NOT NULL,
    DROP CONSTRAINT outgoing_webhooks_channel_id_fkey,
    ADD CONSTRAINT outgoing_webhooks_channel_workspace_fkey FOREIGN KEY (workspace_id, channel_id)
        REFERENCES channels (workspace_id, id);
CREATE TRIGGER outgoing_webhooks_workspace BEFORE INSERT ON outgoing_webhooks
    FOR EACH ROW EXECUTE FUNCTION parley_workspace_of_channel();
CREATE UNIQUE INDEX outgoing_webhooks_workspace_id ON outgoing_webhooks (workspace_id, id);

ALTER TABLE pins ADD COLUMN workspace_id BIGINT;
UPDATE pins t SET workspace_id = c.workspace_id FROM channels c WHERE c.id = t.channel_id;
ALTER TABLE pins ALTER COLUMN workspace_id SET NOT NULL,
    DROP CONSTRAINT pins_channel_id_fkey,
    ADD CONSTRAINT pins_channel_workspace_fkey FOREIGN KEY (workspace_id, channel_id)
        REFERENCES channels (workspace_id, id) ON DELETE CASCADE;
CREATE TRIGGER pins_workspace BEFORE INSERT ON pins
    FOR EACH ROW EXECUTE FUNCTION parley_workspace_of_channel();

-- Under a hook and under a slash command: the same, one level down.
ALTER TABLE outgoing_deliveries ADD COLUMN workspace_id BIGINT;
UPDATE outgoing_deliveries t SET workspace_id = h.workspace_id FROM outgoing_webhooks h WHERE h.id = t.hook_id;
ALTER TABLE outgoing_deliveries ALTER COLUMN workspace_id SET NOT NULL,
    DROP CONSTRAINT outgoing_deliveries_hook_id_fkey,
    ADD CONSTRAINT outgoing_deliveries_hook_workspace_fkey FOREIGN KEY (workspace_id, hook_id)
        REFERENCES outgoing_webhooks (workspace_id, id);
CREATE TRIGGER outgoing_deliveries_workspace BEFORE INSERT ON outgoing_deliveries
    FOR EACH ROW EXECUTE FUNCTION parley_workspace_of_hook();

ALTER TABLE slash_responses ADD COLUMN workspace_id BIGINT;
UPDATE slash_responses t SET workspace_id = s.workspace_id FROM slash_commands s WHERE s.id = t.command_id;
ALTER TABLE slash_responses ALTER COLUMN workspace_id SET NOT NULL,
    DROP CONSTRAINT slash_responses_command_id_fkey,
    ADD CONSTRAINT slash_responses_command_workspace_fkey FOREIGN KEY (workspace_id, command_id)
        REFERENCES slash_commands (workspace_id, id) ON DELETE CASCADE;
CREATE TRIGGER slash_responses_workspace BEFORE INSERT ON slash_responses
    FOR EACH ROW EXECUTE FUNCTION parley_workspace_of_command();

-- Under a message: messages has no workspace_id yet, so there is nothing to key on; the
-- column is filled and kept by the trigger (nothing updates it).
ALTER TABLE reactions ADD COLUMN workspace_id BIGINT;
UPDATE reactions t SET workspace_id = c.workspace_id FROM messages m JOIN channels c ON c.id = m.channel_id WHERE m.id = t.message_id;
ALTER TABLE reactions ALTER COLUMN workspace_id SET NOT NULL;
CREATE TRIGGER reactions_workspace BEFORE INSERT ON reactions
    FOR EACH ROW EXECUTE FUNCTION parley_workspace_of_message();

ALTER TABLE message_versions ADD COLUMN workspace_id BIGINT;
UPDATE message_versions t SET workspace_id = c.workspace_id FROM messages m JOIN channels c ON c.id = m.channel_id WHERE m.id = t.message_id;
ALTER TABLE message_versions ALTER COLUMN workspace_id SET NOT NULL;
CREATE TRIGGER message_versions_workspace BEFORE INSERT ON message_versions
    FOR EACH ROW EXECUTE FUNCTION parley_workspace_of_message();

-- +goose Down
DROP TRIGGER message_versions_workspace ON message_versions;
ALTER TABLE message_versions DROP COLUMN workspace_id;
DROP TRIGGER reactions_workspace ON reactions;
ALTER TABLE reactions DROP COLUMN workspace_id;

DROP TRIGGER slash_responses_workspace ON slash_responses;
ALTER TABLE slash_responses DROP CONSTRAINT slash_responses_command_workspace_fkey,
    ADD CONSTRAINT slash_responses_command_id_fkey FOREIGN KEY (command_id) REFERENCES slash_commands (id) ON DELETE CASCADE,
    DROP COLUMN workspace_id;
DROP TRIGGER outgoing_deliveries_workspace ON outgoing_deliveries;
ALTER TABLE outgoing_deliveries DROP CONSTRAINT outgoing_deliveries_hook_workspace_fkey,
    ADD CONSTRAINT outgoing_deliveries_hook_id_fkey FOREIGN KEY (hook_id) REFERENCES outgoing_webhooks (id),
    DROP COLUMN workspace_id;

DROP TRIGGER pins_workspace ON pins;
ALTER TABLE pins DROP CONSTRAINT pins_channel_workspace_fkey,
    ADD CONSTRAINT pins_channel_id_fkey FOREIGN KEY (channel_id) REFERENCES channels (id) ON DELETE CASCADE,
    DROP COLUMN workspace_id;
DROP TRIGGER outgoing_webhooks_workspace ON outgoing_webhooks;
DROP INDEX outgoing_webhooks_workspace_id;
ALTER TABLE outgoing_webhooks DROP CONSTRAINT outgoing_webhooks_channel_workspace_fkey,
    ADD CONSTRAINT outgoing_webhooks_channel_id_fkey FOREIGN KEY (channel_id) REFERENCES channels (id),
    DROP COLUMN workspace_id;
DROP TRIGGER incoming_webhooks_workspace ON incoming_webhooks;
ALTER TABLE incoming_webhooks DROP CONSTRAINT incoming_webhooks_channel_workspace_fkey,
    ADD CONSTRAINT incoming_webhooks_channel_id_fkey FOREIGN KEY (channel_id) REFERENCES channels (id),
    DROP COLUMN workspace_id;
DROP TRIGGER channel_prefs_workspace ON channel_prefs;
ALTER TABLE channel_prefs DROP CONSTRAINT channel_prefs_channel_workspace_fkey,
    ADD CONSTRAINT channel_prefs_channel_id_fkey FOREIGN KEY (channel_id) REFERENCES channels (id) ON DELETE CASCADE,
    DROP COLUMN workspace_id;
DROP TRIGGER channel_members_workspace ON channel_members;
ALTER TABLE channel_members DROP CONSTRAINT channel_members_channel_workspace_fkey,
    ADD CONSTRAINT channel_members_channel_id_fkey FOREIGN KEY (channel_id) REFERENCES channels (id) ON DELETE CASCADE,
    DROP COLUMN workspace_id;

DROP FUNCTION parley_workspace_of_command();
DROP FUNCTION parley_workspace_of_hook();
DROP FUNCTION parley_workspace_of_message();
DROP FUNCTION parley_workspace_of_channel();
DROP INDEX slash_commands_workspace_id;
DROP INDEX channels_workspace_id;
