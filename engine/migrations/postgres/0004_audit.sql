-- The audit trail (PostgreSQL dialect). Keep in step with ../sqlite/0004_audit.sql.
--
-- One row per attributable action. Rows are chained: `hash` is the SHA-256
-- of the row's canonical fields and the previous row's hash (see
-- engine/src/audit/entry.rs), so editing or deleting any row breaks the
-- chain at that row and `casetrace audit verify` names it. The trigger
-- below refuses UPDATE, DELETE and TRUNCATE to every ordinary writer; the
-- chain is what catches someone who disables it first.

CREATE TABLE audit_log (
    -- Given by the appender (previous + 1), never generated: a gap is a
    -- deleted record.
    seq              BIGINT PRIMARY KEY,
    -- RFC 3339 UTC with milliseconds, set by the engine and part of the
    -- hash, so stored as the exact text that was hashed.
    at               TEXT   NOT NULL,
    agency           TEXT   NOT NULL,
    actor            TEXT   NOT NULL,
    key_id           TEXT,
    action           TEXT   NOT NULL,
    resource         TEXT   NOT NULL,
    request_id       TEXT,
    outcome          TEXT   NOT NULL CHECK (outcome IN ('ok', 'denied', 'failed')),
    -- SHA-256 of the evidence file the action wrote or read, if any.
    evidence_sha256  TEXT,
    -- Further facts as a JSON object (counts, reasons), part of the hash;
    -- TEXT, not JSONB, so it reads back byte for byte as it was hashed.
    detail           TEXT   NOT NULL DEFAULT '{}',
    prev_hash        TEXT   NOT NULL,
    hash             TEXT   NOT NULL
);

CREATE INDEX audit_log_agency_at ON audit_log (agency, at);
CREATE INDEX audit_log_resource ON audit_log (resource, seq);

CREATE FUNCTION audit_log_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();

CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
