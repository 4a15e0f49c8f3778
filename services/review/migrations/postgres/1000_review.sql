-- The review service's tables. Personal data (citizen id number, name, ethnicity, birth
-- date, address, phone, the application with its photo, fingerprints, decisions' free
-- text) is sealed with AES-256-GCM (idcard-crypto) under associated data
-- `<table>.<column>:<row id>`, so a value copied into another row does not open; look-ups
-- by citizen id use keyed blind indexes. Only the store module reads and writes them.
-- `sealed_under` names the data and biometric keys that were active when the row was
-- sealed; the resealer re-seals rows whose keys are no longer the active ones.

-- The household register this bureau checks applications against: one record per
-- citizen id.
CREATE TABLE residents (
    resident_id UUID NOT NULL PRIMARY KEY,
    -- Blind index of the citizen id.
    citizen_id_index BYTEA NOT NULL UNIQUE,
    -- Blind index of name, sex, birth date and address: the same person registered
    -- under two citizen ids (duplicate-record detection).
    identity_index BYTEA NOT NULL,
    citizen_id_sealed BYTEA NOT NULL,
    name_sealed BYTEA NOT NULL,
    sex TEXT NOT NULL CHECK (sex IN ('male', 'female')),
    ethnicity_sealed BYTEA NOT NULL,
    birth_date_sealed BYTEA NOT NULL,
    domicile_address_sealed BYTEA NOT NULL,
    domicile_region_code TEXT NOT NULL,
    fingerprint_on_record BOOLEAN NOT NULL,
    phone_sealed BYTEA NOT NULL,
    record_locked BOOLEAN NOT NULL,
    bad_credit BOOLEAN NOT NULL,
    forged_documents_on_record BOOLEAN NOT NULL,
    sealed_under TEXT NOT NULL,
    updated_at_ms BIGINT NOT NULL
);
CREATE INDEX residents_identity ON residents (identity_index);
CREATE INDEX residents_sealed_under ON residents (sealed_under);

-- Every card a resident holds or held; this bureau is the system of record for them.
CREATE TABLE cards (
    card_id UUID NOT NULL PRIMARY KEY,
    -- Blind index of the holder's citizen id.
    citizen_id_index BYTEA NOT NULL,
    validity_start TEXT NOT NULL,
    -- NULL: long-term.
    validity_end TEXT,
    issuing_authority TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('active', 'reported_lost', 'invalidated')),
    -- The application this bureau issued the card for; NULL for imported cards.
    application_id UUID,
    issued_at_ms BIGINT NOT NULL
);
CREATE INDEX cards_citizen ON cards (citizen_id_index);

-- Applications received from acceptance services, one per application id.
CREATE TABLE review_cases (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    application_id UUID NOT NULL UNIQUE,
    receipt_number TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('renewal', 'replacement')),
    state TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'rejected')),
    acceptance_point_code TEXT NOT NULL,
    -- Six digits, so a jurisdiction prefix is a range (see store::cases::list_pending).
    domicile_region_code TEXT NOT NULL,
    citizen_id_index BYTEA NOT NULL,
    citizen_id_sealed BYTEA NOT NULL,
    -- The ReceiveApplicationRequest as received (prost-encoded) less its fingerprints,
    -- sealed with the data key, so nothing is lost.
    request_sealed BYTEA NOT NULL,
    -- The applicant's fingerprint templates (an encoded Applicant holding only them),
    -- sealed with the biometric key. Kept, never shown.
    fingerprints_sealed BYTEA NOT NULL,
    -- Peer names: the acceptance service that sent it, the production centre for the card.
    origin TEXT NOT NULL,
    production_centre TEXT NOT NULL,
    accepted_at_ms BIGINT NOT NULL,
    received_at_ms BIGINT NOT NULL,
    review_due_date TEXT NOT NULL,
    -- Pre-check findings counted at receipt, for the pending list.
    finding_count INTEGER NOT NULL,
    -- Decision: the card issued (and the encoded Issuance, which holds no personal
    -- data), or the encoded Rejection (sealed: free text and a contact).
    card_id UUID,
    issuance BYTEA,
    rejection_sealed BYTEA,
    -- The token subject of the reviewer who decided.
    reviewer TEXT,
    review_note_sealed BYTEA,
    decided_at_ms BIGINT,
    -- Set when the production order is enqueued (after acceptance heard the approval).
    production_ordered_at_ms BIGINT,
    sealed_under TEXT NOT NULL
);
CREATE INDEX review_cases_pending_region ON review_cases (domicile_region_code, seq) WHERE state = 'pending';
CREATE INDEX review_cases_citizen ON review_cases (citizen_id_index);
CREATE INDEX review_cases_sealed_under ON review_cases (sealed_under);
