-- The audit log (idcard-audit). Entries are inserted unsealed in the transaction of the
-- change they record; the sealer later sets chain_position, prev_hash and hash, once.
CREATE TABLE audit_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    entry_id BLOB NOT NULL UNIQUE,
    at_ms INTEGER NOT NULL,
    actor TEXT NOT NULL,
    role TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    detail TEXT NOT NULL,
    chain_position INTEGER UNIQUE,
    prev_hash BLOB,
    hash BLOB
);
CREATE INDEX audit_log_unsealed ON audit_log (seq) WHERE chain_position IS NULL;

-- The last sealed position and hash (position 0 and 32 zero bytes before the first seal).
-- Sealers hold it for the length of a seal; on SQLite the write lock of BEGIN IMMEDIATE does.
CREATE TABLE audit_chain_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    position INTEGER NOT NULL,
    hash BLOB NOT NULL
);
INSERT INTO audit_chain_head (id, position, hash) VALUES (1, 0, zeroblob(32));

-- Append-only. These stop mistakes and casual edits; someone who can drop a trigger can
-- still edit rows, and that is what `verify` finds.
CREATE TRIGGER audit_log_insert_unsealed BEFORE INSERT ON audit_log
WHEN NEW.chain_position IS NOT NULL OR NEW.prev_hash IS NOT NULL OR NEW.hash IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'audit_log entries are inserted unsealed');
END;

CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only: delete refused');
END;

CREATE TRIGGER audit_log_seal_once BEFORE UPDATE ON audit_log
WHEN OLD.hash IS NOT NULL OR OLD.chain_position IS NOT NULL
    OR NEW.seq IS NOT OLD.seq OR NEW.entry_id IS NOT OLD.entry_id OR NEW.at_ms IS NOT OLD.at_ms
    OR NEW.actor IS NOT OLD.actor OR NEW.role IS NOT OLD.role OR NEW.action IS NOT OLD.action
    OR NEW.target IS NOT OLD.target OR NEW.detail IS NOT OLD.detail
    OR NEW.chain_position IS NULL OR NEW.prev_hash IS NULL OR NEW.hash IS NULL
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only: an entry is only updated by sealing it, once');
END;

CREATE TRIGGER audit_chain_head_no_delete BEFORE DELETE ON audit_chain_head
BEGIN
    SELECT RAISE(ABORT, 'audit_chain_head cannot be deleted');
END;

CREATE TRIGGER audit_chain_head_forward BEFORE UPDATE ON audit_chain_head
WHEN NEW.id IS NOT OLD.id OR NEW.position <= OLD.position
BEGIN
    SELECT RAISE(ABORT, 'audit_chain_head only moves forward');
END;
