-- Loss reports, card status publishing and online reporting (issue 7). Sealed values
-- follow 1000_review.sql: AES-256-GCM under associated data `<table>.<column>:<row id>`,
-- `sealed_under` for the resealer, citizen ids found by keyed blind indexes.

-- The version of a card's status as published to the status service: the change time in
-- epoch milliseconds, or one more than the last version when two changes fall in the
-- same millisecond, so that it increases with every change of the card.
ALTER TABLE cards ADD COLUMN status_version INTEGER NOT NULL DEFAULT 0;

-- Loss reports this bureau received (taken at an acceptance point anywhere, or online).
-- A report of a card already reported names the report that stands
-- (`same_as_report_number`) and follows its state.
CREATE TABLE loss_reports (
    report_id BLOB NOT NULL PRIMARY KEY,
    report_number TEXT NOT NULL UNIQUE,
    citizen_id_index BLOB NOT NULL,
    citizen_id_sealed BLOB NOT NULL,
    -- The card reported; NULL when the report was refused before a card was found.
    card_id BLOB,
    kind TEXT NOT NULL CHECK (kind IN ('lost', 'stolen', 'misplaced')),
    state TEXT NOT NULL CHECK (state IN ('submitted', 'active', 'revoked', 'closed', 'refused')),
    channel TEXT NOT NULL CHECK (channel IN ('counter', 'online')),
    -- The acceptance service that took a counter report (the peer its outcomes go to).
    origin TEXT,
    -- What happened, in the citizen's words.
    circumstance_sealed BLOB NOT NULL,
    same_as_report_number TEXT,
    reported_at_ms INTEGER NOT NULL,
    received_at_ms INTEGER NOT NULL,
    updated_at_ms INTEGER NOT NULL,
    sealed_under TEXT NOT NULL
);
CREATE INDEX loss_reports_card ON loss_reports (card_id, state);
CREATE INDEX loss_reports_citizen ON loss_reports (citizen_id_index);
CREATE INDEX loss_reports_sealed_under ON loss_reports (sealed_under);

-- The history of each report: every state change, and found-card notices.
CREATE TABLE loss_report_events (
    event_id BLOB NOT NULL PRIMARY KEY,
    report_id BLOB NOT NULL REFERENCES loss_reports (report_id),
    event TEXT NOT NULL CHECK (event IN ('submitted', 'recorded', 'refused', 'revoked', 'replacement_issued', 'card_found')),
    -- The report's state after the event.
    state TEXT NOT NULL CHECK (state IN ('submitted', 'active', 'revoked', 'closed', 'refused')),
    actor TEXT NOT NULL,
    at_ms INTEGER NOT NULL,
    -- Free text (reason codes, where a found card is collected), sealed all the same.
    note_sealed BLOB NOT NULL,
    sealed_under TEXT NOT NULL
);
CREATE INDEX loss_report_events_report ON loss_report_events (report_id, at_ms);
CREATE INDEX loss_report_events_sealed_under ON loss_report_events (sealed_under);

-- One-time codes of online loss reports. The code is kept only as a keyed hash (HMAC
-- under the index key) of the challenge id and the code.
CREATE TABLE online_report_challenges (
    challenge_id BLOB NOT NULL PRIMARY KEY,
    citizen_id_index BLOB NOT NULL,
    citizen_id_sealed BLOB NOT NULL,
    card_id BLOB NOT NULL,
    code_hash BLOB NOT NULL,
    created_at_ms INTEGER NOT NULL,
    expires_at_ms INTEGER NOT NULL,
    -- Set when the right code recorded a report: the challenge is used.
    report_number TEXT,
    sealed_under TEXT NOT NULL
);
CREATE INDEX online_report_challenges_sealed_under ON online_report_challenges (sealed_under);

-- Wrong one-time codes per card, across challenges; five lock online reporting for the
-- card until `locked_until_ms`.
CREATE TABLE online_report_locks (
    card_id BLOB NOT NULL PRIMARY KEY,
    failed_attempts INTEGER NOT NULL,
    locked_until_ms INTEGER
);
