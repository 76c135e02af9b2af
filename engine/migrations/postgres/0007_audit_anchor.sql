-- Audit records that say whose records were read, anonymous refusals
-- counted instead of stored one by one, and the retention procedure's
-- archived segments (PostgreSQL dialect). Keep in step with
-- ../sqlite/0007_audit_anchor.sql.

-- The agency owning the resource a call touched, when it is not the
-- caller's: that agency's auditors see the call too. Part of the record's
-- hash when set (see engine/src/audit/entry.rs).
ALTER TABLE audit_log ADD COLUMN owner_agency TEXT;
CREATE INDEX audit_log_owner_agency ON audit_log (owner_agency, seq)
    WHERE owner_agency IS NOT NULL;

-- Refused calls without a valid key, counted per minute and status, with
-- the first path seen (truncated) as a sample: an anonymous flood costs
-- one row a minute, not one row (and a URL's worth of text) a call.
CREATE TABLE audit_refusal_counts (
    -- 'YYYY-MM-DDTHH:MMZ', UTC.
    minute       TEXT    NOT NULL,
    status       BIGINT  NOT NULL,
    count        BIGINT  NOT NULL,
    sample_path  TEXT    NOT NULL,
    PRIMARY KEY (minute, status)
);

-- A run of records moved out of audit_log by `casetrace audit archive`:
-- exported to a file first, then deleted. `mac` (HMAC under the audit key,
-- which is not in the database) seals the run's bounds, its last hash and
-- the file's SHA-256, so a forged row cannot excuse deleted records.
CREATE TABLE audit_segment (
    first_seq    BIGINT PRIMARY KEY,
    last_seq     BIGINT NOT NULL UNIQUE,
    last_hash    TEXT   NOT NULL,
    file_name    TEXT   NOT NULL,
    file_sha256  TEXT   NOT NULL,
    records      BIGINT NOT NULL,
    archived_at  TEXT   NOT NULL,
    mac          TEXT   NOT NULL,
    CHECK (last_seq >= first_seq)
);

CREATE FUNCTION audit_segment_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit_segment is append-only';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER audit_segment_no_change BEFORE UPDATE OR DELETE ON audit_segment
    FOR EACH ROW EXECUTE FUNCTION audit_segment_append_only();

CREATE TRIGGER audit_segment_no_truncate BEFORE TRUNCATE ON audit_segment
    FOR EACH STATEMENT EXECUTE FUNCTION audit_segment_append_only();

-- Deleting from audit_log stays refused, except for records inside an
-- archived segment: the retention procedure is the only way out. UPDATE
-- and TRUNCATE are refused as before.
CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' AND EXISTS (
        SELECT 1 FROM audit_segment WHERE OLD.seq BETWEEN first_seq AND last_seq
    ) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit_log is append-only';
END;
$$ LANGUAGE plpgsql;
