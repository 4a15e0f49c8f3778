-- The household register this bureau checks applications against: one record per
-- citizen id. Personal data (citizen id, card items, phone) is stored in clear for now;
-- only store.rs reads and writes it, so that encryption at rest stays a local change.
CREATE TABLE residents (
    citizen_id TEXT NOT NULL PRIMARY KEY,
    name TEXT NOT NULL,
    sex TEXT NOT NULL CHECK (sex IN ('male', 'female')),
    ethnicity TEXT NOT NULL,
    birth_date TEXT NOT NULL,
    domicile_address TEXT NOT NULL,
    domicile_region_code TEXT NOT NULL,
    fingerprint_on_record BOOLEAN NOT NULL,
    phone TEXT NOT NULL,
    record_locked BOOLEAN NOT NULL,
    bad_credit BOOLEAN NOT NULL,
    forged_documents_on_record BOOLEAN NOT NULL,
    updated_at_ms INTEGER NOT NULL
);
-- Duplicate-record detection: the same person registered under two citizen ids.
CREATE INDEX residents_identity ON residents (name, birth_date);

-- Every card a resident holds or held; this bureau is the system of record for them.
CREATE TABLE cards (
    card_id BLOB NOT NULL PRIMARY KEY,
    citizen_id TEXT NOT NULL,
    validity_start TEXT NOT NULL,
    -- NULL: long-term.
    validity_end TEXT,
    issuing_authority TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('active', 'reported_lost', 'invalidated')),
    -- The application this bureau issued the card for; NULL for imported cards.
    application_id BLOB,
    issued_at_ms INTEGER NOT NULL
);
CREATE INDEX cards_citizen ON cards (citizen_id);

-- Applications received from acceptance services, one per application id.
CREATE TABLE review_cases (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    application_id BLOB NOT NULL UNIQUE,
    receipt_number TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('renewal', 'replacement')),
    state TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'rejected')),
    acceptance_point_code TEXT NOT NULL,
    -- Six digits, so a jurisdiction prefix is a range (see store::cases::list_pending).
    domicile_region_code TEXT NOT NULL,
    citizen_id TEXT NOT NULL,
    -- The ReceiveApplicationRequest as received (prost-encoded), so nothing is lost.
    request BLOB NOT NULL,
    -- Peer names: the acceptance service that sent it, the production centre for the card.
    origin TEXT NOT NULL,
    production_centre TEXT NOT NULL,
    accepted_at_ms INTEGER NOT NULL,
    received_at_ms INTEGER NOT NULL,
    review_due_date TEXT NOT NULL,
    -- Pre-check findings counted at receipt, for the pending list.
    finding_count INTEGER NOT NULL,
    -- Decision: the card issued (and the encoded Issuance), or the encoded Rejection.
    card_id BLOB,
    issuance BLOB,
    rejection BLOB,
    reviewer TEXT,
    review_note TEXT,
    decided_at_ms INTEGER,
    -- Set when the production order is enqueued (after acceptance heard the approval).
    production_ordered_at_ms INTEGER
);
CREATE INDEX review_cases_pending_region ON review_cases (domicile_region_code, seq) WHERE state = 'pending';
CREATE INDEX review_cases_citizen ON review_cases (citizen_id);
