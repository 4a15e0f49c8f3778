-- Answers to mutating RPCs by client request id, so that a retry returns the first answer.
CREATE TABLE client_requests (
    request_id TEXT NOT NULL PRIMARY KEY,
    method TEXT NOT NULL,
    fingerprint BLOB NOT NULL,
    response BLOB NOT NULL,
    created_at_ms INTEGER NOT NULL
);
