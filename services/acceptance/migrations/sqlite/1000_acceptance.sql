-- Applications taken at this service's acceptance points.
CREATE TABLE applications (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    application_id BLOB NOT NULL UNIQUE,
    receipt_number TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    acceptance_point_code TEXT NOT NULL,
    -- Personal data is sealed (AES-256-GCM, the key id inside each value, bound to its
    -- column and application id); only store.rs reads or writes these columns.
    -- The keyed blind index (HMAC) of the citizen id: look-ups and the one-open rule.
    citizen_id_index BLOB NOT NULL,
    -- The citizen id, sealed with the data key.
    citizen_id_sealed BLOB NOT NULL,
    domicile_region_code TEXT NOT NULL,
    -- The review service (peer name) the application was routed to.
    review_peer TEXT NOT NULL,
    -- The SubmitApplicationRequest as accepted, without the fingerprints, encoded and
    -- sealed with the data key.
    submission BLOB NOT NULL,
    -- The applicant's fingerprints (an encoded Applicant holding only them), sealed with
    -- the biometric key.
    fingerprints BLOB NOT NULL,
    -- The data, biometric and index key ids the row was last sealed and indexed under;
    -- the resealer picks rows whose keys are not the active ones.
    sealed_with TEXT NOT NULL,
    fee_amount_fen INTEGER NOT NULL,
    fee_waiver TEXT NOT NULL,
    accepted_at_ms INTEGER NOT NULL,
    due_date TEXT NOT NULL,
    -- The domicile's decision and the hand-over, encoded. Issuance (validity, issuing
    -- authority, card id) and collection (time, clerk, flags) hold no personal data; a
    -- rejection holds the reviewer's free-text details and a contact person and phone,
    -- so it is sealed with the data key.
    issuance BLOB,
    rejection BLOB,
    collection BLOB,
    updated_at_ms INTEGER NOT NULL
);
CREATE INDEX applications_point ON applications (acceptance_point_code, seq);
CREATE INDEX applications_point_state ON applications (acceptance_point_code, state, seq);
-- One open application per citizen and kind.
CREATE UNIQUE INDEX applications_open_per_citizen ON applications (citizen_id_index, kind)
    WHERE state NOT IN ('collected', 'rejected');
-- Rows still sealed under rotated-out keys, for the resealer.
CREATE INDEX applications_sealed_with ON applications (sealed_with);

-- Every step of every application, as the acceptance point shows it.
CREATE TABLE status_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    application_id BLOB NOT NULL REFERENCES applications (application_id),
    state TEXT NOT NULL,
    at_ms INTEGER NOT NULL,
    actor TEXT NOT NULL,
    note TEXT NOT NULL
);
CREATE INDEX status_events_application ON status_events (application_id, seq);
