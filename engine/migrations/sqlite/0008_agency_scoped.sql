-- Records that belong to one agency are looked up within that agency
-- (SQLite dialect). Keep in step with ../postgres/0007_agency_scoped.sql.

-- A lead is its taker's: two agencies may each take up the same pair, and
-- one agency's lead is never answered to another. SQLite cannot change a
-- constraint in place, so the table is rebuilt with the same columns (the
-- AUTOINCREMENT counter moves with the rename, so ids are never reused).
CREATE TABLE leads_agency_scoped (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    agency               TEXT    NOT NULL DEFAULT 'local',
    -- The casing searched with and the candidate the engine offered.
    query_casing_pk      INTEGER NOT NULL REFERENCES casings (id),
    candidate_casing_pk  INTEGER NOT NULL REFERENCES casings (id),
    status               TEXT    NOT NULL CHECK (status IN ('lead', 'hit', 'excluded')),
    comment              TEXT,
    marked_by            TEXT    NOT NULL,
    marked_at            TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    decided_by           TEXT,
    decided_at           TEXT,
    CHECK (query_casing_pk <> candidate_casing_pk),
    CHECK ((status = 'lead') = (decided_by IS NULL)),
    CHECK ((decided_by IS NULL) = (decided_at IS NULL)),
    UNIQUE (agency, query_casing_pk, candidate_casing_pk)
) STRICT;

INSERT INTO leads_agency_scoped (id, agency, query_casing_pk, candidate_casing_pk, status,
    comment, marked_by, marked_at, decided_by, decided_at)
SELECT id, agency, query_casing_pk, candidate_casing_pk, status,
    comment, marked_by, marked_at, decided_by, decided_at FROM leads;

DROP TABLE leads;
ALTER TABLE leads_agency_scoped RENAME TO leads;
CREATE INDEX leads_candidate ON leads (candidate_casing_pk);

-- An import job is its importer agency's: status, resumption and the
-- "already running" answer are per agency. Jobs from before this column
-- were all started by the local operator or agency.
ALTER TABLE import_jobs ADD COLUMN agency TEXT NOT NULL DEFAULT 'local';
CREATE INDEX import_jobs_agency_manifest ON import_jobs (agency, manifest_sha256, state);
