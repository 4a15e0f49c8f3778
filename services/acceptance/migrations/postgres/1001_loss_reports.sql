-- Loss reports taken at this service's acceptance points. The domicile review service
-- keeps the card's status; this table follows what it made of each report.
CREATE TABLE loss_reports (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- A receipt number (idcard_domain::ReceiptNo); sealed values are bound to it.
    report_number TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    acceptance_point_code TEXT NOT NULL,
    -- The keyed blind index (HMAC) of the citizen id: one open report per citizen.
    citizen_id_index BYTEA NOT NULL,
    -- The citizen id, the name and the circumstance, each sealed with the data key.
    citizen_id_sealed BYTEA NOT NULL,
    name_sealed BYTEA NOT NULL,
    circumstance_sealed BYTEA NOT NULL,
    -- How the clerk confirmed the reporter's identity: `fingerprint` or
    -- `document:<kind>` (no personal data).
    identity_confirmation TEXT NOT NULL,
    domicile_region_code TEXT NOT NULL,
    -- The review service (peer name) the report was routed to.
    review_peer TEXT NOT NULL,
    -- Set when the domicile bureau answered that the card was already reported: the
    -- report that stands.
    same_as_report_number TEXT,
    -- A revocation was sent and its outcome has not arrived yet.
    revocation_pending BOOLEAN NOT NULL DEFAULT FALSE,
    -- The data and index key ids the row was last sealed and indexed under.
    sealed_with TEXT NOT NULL,
    reported_at_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL
);
-- One open report per citizen: a second report returns the first.
CREATE UNIQUE INDEX loss_reports_open_per_citizen ON loss_reports (citizen_id_index)
    WHERE state IN ('submitted', 'active');
CREATE INDEX loss_reports_sealed_with ON loss_reports (sealed_with);

-- Every step of every loss report.
CREATE TABLE loss_report_events (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    report_number TEXT NOT NULL REFERENCES loss_reports (report_number),
    state TEXT NOT NULL,
    at_ms BIGINT NOT NULL,
    actor TEXT NOT NULL,
    note TEXT NOT NULL
);
CREATE INDEX loss_report_events_report ON loss_report_events (report_number, seq);
