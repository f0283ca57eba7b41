-- Outgoing webhooks (SPEC "Integrations", ADR 0037): a channel's messages are POSTed, signed,
-- to a URL. cursor_seq is the relay's position: every message of the channel up to it has
-- been produced to Kafka for this hook (it starts at the channel's last seq when the hook
-- is made, so a new hook sees only new messages). The relay moves it under FOR UPDATE SKIP
-- LOCKED, so on several nodes one hook is relayed by one node at a time. The secret is
-- stored as given: it is needed to sign. Revoking sets revoked_at (the delivery log stays).
--
-- outgoing_deliveries is the per-hook delivery log, bounded: the consumer keeps the newest
-- rows of each hook (outgoing.Config.LogKeep) and deletes older ones.

-- +goose Up
CREATE TABLE outgoing_webhooks (
    id            BIGINT PRIMARY KEY,
    channel_id    BIGINT NOT NULL REFERENCES channels (id),
    creator_id    BIGINT NOT NULL REFERENCES users (id),
    bot_user_id   BIGINT NOT NULL REFERENCES users (id),
    url           TEXT NOT NULL CHECK (char_length(url) BETWEEN 1 AND 2048),
    secret        TEXT NOT NULL,
    events        TEXT[] NOT NULL,
    trigger_words TEXT[] NOT NULL DEFAULT '{}',
    cursor_seq    BIGINT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    revoked_at    TIMESTAMPTZ
);
CREATE INDEX outgoing_webhooks_channel ON outgoing_webhooks (channel_id, id);
CREATE INDEX outgoing_webhooks_live ON outgoing_webhooks (id) WHERE revoked_at IS NULL;

CREATE TABLE outgoing_deliveries (
    hook_id      BIGINT NOT NULL REFERENCES outgoing_webhooks (id),
    delivery_id  TEXT NOT NULL,
    seq          BIGINT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts     INT NOT NULL DEFAULT 0,
    last_error   TEXT,
    latency_ms   BIGINT,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    delivered_at TIMESTAMPTZ,
    PRIMARY KEY (hook_id, delivery_id)
);
CREATE INDEX outgoing_deliveries_recent ON outgoing_deliveries (hook_id, created_at DESC, delivery_id);

-- +goose Down
DROP TABLE outgoing_deliveries;
DROP TABLE outgoing_webhooks;
