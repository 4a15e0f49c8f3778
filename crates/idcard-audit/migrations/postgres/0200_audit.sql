-- The audit log (idcard-audit). Entries are inserted unsealed in the transaction of the
-- change they record; the sealer later sets chain_position, prev_hash and hash, once.
CREATE TABLE audit_log (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    entry_id UUID NOT NULL UNIQUE,
    at_ms BIGINT NOT NULL,
    actor TEXT NOT NULL,
    role TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    detail TEXT NOT NULL,
    chain_position BIGINT UNIQUE,
    prev_hash BYTEA,
    hash BYTEA
);
CREATE INDEX audit_log_unsealed ON audit_log (seq) WHERE chain_position IS NULL;

-- The last sealed position and hash (position 0 and 32 zero bytes before the first seal).
-- A sealer locks this row (SELECT ... FOR UPDATE) for the length of a seal, so replicas
-- seal one at a time.
CREATE TABLE audit_chain_head (
    id SMALLINT PRIMARY KEY CHECK (id = 1),
    position BIGINT NOT NULL,
    hash BYTEA NOT NULL
);
INSERT INTO audit_chain_head (id, position, hash) VALUES (1, 0, decode(repeat('00', 32), 'hex'));

-- Append-only. These stop mistakes and casual edits; someone who can drop a trigger can
-- still edit rows, and that is what `verify` finds.
CREATE FUNCTION audit_log_insert_unsealed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.chain_position IS NOT NULL OR NEW.prev_hash IS NOT NULL OR NEW.hash IS NOT NULL THEN
        RAISE EXCEPTION 'audit_log entries are inserted unsealed';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER audit_log_insert_unsealed BEFORE INSERT ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_insert_unsealed();

CREATE FUNCTION audit_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% on % refused: the audit log is append-only', TG_OP, TG_TABLE_NAME;
END
$$;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_refuse();
-- TRUNCATE fires no row trigger.
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse();

CREATE FUNCTION audit_log_seal_once() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.hash IS NOT NULL OR OLD.chain_position IS NOT NULL
        OR (NEW.seq, NEW.entry_id, NEW.at_ms, NEW.actor, NEW.role, NEW.action, NEW.target, NEW.detail)
            IS DISTINCT FROM (OLD.seq, OLD.entry_id, OLD.at_ms, OLD.actor, OLD.role, OLD.action, OLD.target, OLD.detail)
        OR NEW.chain_position IS NULL OR NEW.prev_hash IS NULL OR NEW.hash IS NULL THEN
        RAISE EXCEPTION 'audit_log is append-only: an entry is only updated by sealing it, once';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER audit_log_seal_once BEFORE UPDATE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_seal_once();

CREATE TRIGGER audit_chain_head_no_delete BEFORE DELETE ON audit_chain_head
    FOR EACH ROW EXECUTE FUNCTION audit_refuse();
CREATE TRIGGER audit_chain_head_no_truncate BEFORE TRUNCATE ON audit_chain_head
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse();

CREATE FUNCTION audit_chain_head_forward() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.id IS DISTINCT FROM OLD.id OR NEW.position <= OLD.position THEN
        RAISE EXCEPTION 'audit_chain_head only moves forward';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER audit_chain_head_forward BEFORE UPDATE ON audit_chain_head
    FOR EACH ROW EXECUTE FUNCTION audit_chain_head_forward();
