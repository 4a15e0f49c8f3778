-- Messages to other services, written in the transaction of the change that causes them.
CREATE TABLE outbox (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_id UUID NOT NULL UNIQUE,
    destination TEXT NOT NULL,
    kind TEXT NOT NULL,
    -- Messages with the same destination and ordering key are delivered in seq order.
    ordering_key TEXT NOT NULL,
    -- The encoded request, sealed with the key of `sealed_for` (it carries personal data).
    payload BYTEA NOT NULL,
    sealed_for TEXT NOT NULL CHECK (sealed_for IN ('data', 'biometric')),
    trace_context TEXT,
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'dead')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at_ms BIGINT NOT NULL,
    claimed_until_ms BIGINT,
    last_error TEXT,
    created_at_ms BIGINT NOT NULL,
    delivered_at_ms BIGINT
);
CREATE INDEX outbox_pending ON outbox (next_attempt_at_ms) WHERE state = 'pending';
CREATE INDEX outbox_pending_key ON outbox (destination, ordering_key, seq) WHERE state = 'pending';
CREATE INDEX outbox_dead ON outbox (seq) WHERE state = 'dead';

-- Messages received from other services, by their sender's message id.
CREATE TABLE inbox (
    message_id UUID NOT NULL PRIMARY KEY,
    kind TEXT NOT NULL,
    received_at_ms BIGINT NOT NULL
);
