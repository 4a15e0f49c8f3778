-- Applications taken at this service's acceptance points.
CREATE TABLE applications (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    application_id BLOB NOT NULL UNIQUE,
    receipt_number TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    acceptance_point_code TEXT NOT NULL,
    citizen_id TEXT NOT NULL,
    domicile_region_code TEXT NOT NULL,
    -- The review service (peer name) the application was routed to.
    review_peer TEXT NOT NULL,
    -- The SubmitApplicationRequest as accepted, encoded: the applicant's data.
    submission BLOB NOT NULL,
    fee_amount_fen INTEGER NOT NULL,
    fee_waiver TEXT NOT NULL,
    accepted_at_ms INTEGER NOT NULL,
    due_date TEXT NOT NULL,
    issuance BLOB,
    rejection BLOB,
    collection BLOB,
    updated_at_ms INTEGER NOT NULL
);
CREATE INDEX applications_point ON applications (acceptance_point_code, seq);
CREATE INDEX applications_point_state ON applications (acceptance_point_code, state, seq);
-- One open application per citizen and kind.
CREATE UNIQUE INDEX applications_open_per_citizen ON applications (citizen_id, kind)
    WHERE state NOT IN ('collected', 'rejected');

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
