-- Production jobs: one per approved application, from the order to dispatch.
CREATE TABLE jobs (
    job_id BLOB NOT NULL PRIMARY KEY,
    -- Paging position, in order of arrival. Assigned as MAX(seq) + 1 on insert, which
    -- is safe because SQLite has one writer at a time.
    seq INTEGER NOT NULL UNIQUE,
    application_id BLOB NOT NULL UNIQUE,
    receipt_number TEXT NOT NULL,
    acceptance_point_code TEXT NOT NULL,
    -- The acceptance service (a peer name) that progress is reported to.
    origin TEXT NOT NULL,
    -- Personal data, sealed (idcard-crypto, data key) and bound to the row: read and
    -- written only by store.rs. No blind index: nothing looks a job up by citizen id.
    citizen_id_sealed BLOB NOT NULL,
    -- The production order as received (prost-encoded, card items and photo included),
    -- sealed like citizen_id_sealed.
    order_data BLOB NOT NULL,
    -- The data key both values are sealed under: the re-sealer finds the rows an older
    -- key sealed without opening every value.
    data_key_id TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('in_production', 'passed', 'dispatched')),
    remake_count INTEGER NOT NULL DEFAULT 0,
    tracking_number TEXT,
    received_at_ms INTEGER NOT NULL,
    -- YYYY-MM-DD, China Standard Time.
    production_due_date TEXT NOT NULL,
    dispatched_at_ms INTEGER
);
CREATE INDEX jobs_state ON jobs (state, seq);
CREATE INDEX jobs_acceptance_point ON jobs (acceptance_point_code, seq);
-- The re-sealer's look-up of rows sealed under an older key.
CREATE INDEX jobs_data_key ON jobs (data_key_id);

-- Each check of a produced card's printed and chip data; attempt n follows n - 1 remakes.
CREATE TABLE quality_checks (
    job_id BLOB NOT NULL REFERENCES jobs (job_id),
    attempt INTEGER NOT NULL,
    passed BOOLEAN NOT NULL,
    -- JSON array of strings.
    defects TEXT NOT NULL,
    operator TEXT NOT NULL,
    at_ms INTEGER NOT NULL,
    PRIMARY KEY (job_id, attempt)
);
