-- Records that belong to one agency are looked up within that agency
-- (PostgreSQL dialect). Keep in step with ../sqlite/0007_agency_scoped.sql.

-- A lead is its taker's: two agencies may each take up the same pair, and
-- one agency's lead is never answered to another.
ALTER TABLE leads DROP CONSTRAINT leads_query_casing_pk_candidate_casing_pk_key;
ALTER TABLE leads ADD CONSTRAINT leads_agency_pair_key
    UNIQUE (agency, query_casing_pk, candidate_casing_pk);

-- An import job is its importer agency's: status, resumption and the
-- "already running" answer are per agency. Jobs from before this column
-- were all started by the local operator or agency.
ALTER TABLE import_jobs ADD COLUMN agency TEXT NOT NULL DEFAULT 'local';
CREATE INDEX import_jobs_agency_manifest ON import_jobs (agency, manifest_sha256, state);
