-- The correlation queue (issue #17), SQLite dialect. Keep in step with
-- ../postgres/0012_correlation_queue.sql, which explains the columns.
--
-- Every casing stored by submission or import gets one job, inserted in
-- the transaction that stores the casing. Casings stored before this
-- migration get no job. SQLite has one writer, so a claim is a plain
-- `UPDATE ... RETURNING` inside a write transaction.

CREATE TABLE correlation_jobs (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    casing_pk       INTEGER NOT NULL UNIQUE,
    agency          TEXT    NOT NULL,
    key_id          TEXT,
    state           TEXT    NOT NULL DEFAULT 'queued'
                    CHECK (state IN ('queued', 'running', 'done', 'failed')),
    claimed_by      TEXT,
    attempts        INTEGER NOT NULL DEFAULT 0,
    claim_token     TEXT,
    lease_until_ms  INTEGER,
    completions     INTEGER NOT NULL DEFAULT 0,
    leads_made      INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    queued_at       TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    finished_at     TEXT,
    CHECK (state <> 'running' OR (claim_token IS NOT NULL AND lease_until_ms IS NOT NULL))
) STRICT;

CREATE INDEX correlation_jobs_unfinished ON correlation_jobs (id)
    WHERE state IN ('queued', 'running');

CREATE UNIQUE INDEX leads_agency_unordered_pair ON leads
    (agency, min(query_casing_pk, candidate_casing_pk),
     max(query_casing_pk, candidate_casing_pk));

ALTER TABLE leads ADD COLUMN origin TEXT NOT NULL DEFAULT 'hand'
    CHECK (origin IN ('hand', 'automatic'));
