-- Bulk import jobs and what happened to each manifest row (PostgreSQL dialect).
-- Keep in step with ../sqlite/0003_imports.sql. Depends only on 0001.
--
-- Times are milliseconds since the Unix epoch, set by the engine: a job's
-- rate and time left are computed from them the same way on both backends.

CREATE TABLE import_jobs (
    -- A UUID, also the job's id in the API.
    id                 TEXT    PRIMARY KEY,
    -- What was loaded, for people (an archive or folder name).
    source             TEXT    NOT NULL,
    source_kind        TEXT    NOT NULL CHECK (source_kind IN ('manifest', 'folder', 'zip', 'tar', 'tar_gz')),
    -- The same manifest again resumes an unfinished job instead of starting a new one.
    manifest_sha256    TEXT    NOT NULL CHECK (length(manifest_sha256) = 64),
    state              TEXT    NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed')),
    total_rows         BIGINT  NOT NULL CHECK (total_rows >= 0),
    -- `host:pid` of the process running the job: a job whose process is gone can be resumed.
    owner              TEXT    NOT NULL,
    submitted_by       TEXT    NOT NULL,
    -- Why a failed job stopped (not a row's error: those are in import_rows).
    error              TEXT,
    created_ms         BIGINT  NOT NULL,
    -- The current run: when it started and how many rows were settled before it.
    run_started_ms     BIGINT,
    rows_at_run_start  BIGINT  NOT NULL DEFAULT 0,
    heartbeat_ms       BIGINT,
    finished_ms        BIGINT
);

CREATE INDEX import_jobs_manifest ON import_jobs (manifest_sha256, state);

-- One row per settled manifest row, written in the same transaction as the
-- casing it loaded: a row is either recorded here with its outcome or not
-- touched at all, which is what makes a killed job resumable exactly.
CREATE TABLE import_rows (
    job_id      TEXT    NOT NULL REFERENCES import_jobs (id) ON DELETE CASCADE,
    -- The manifest line (header = line 1).
    row_number  BIGINT  NOT NULL CHECK (row_number > 0),
    casing_id   TEXT    NOT NULL,
    file        TEXT    NOT NULL,
    outcome     TEXT    NOT NULL CHECK (outcome IN ('done', 'duplicate', 'failed')),
    -- The casing loaded (done) or already on file (duplicate).
    casing_pk   BIGINT  REFERENCES casings (id),
    reason      TEXT,
    PRIMARY KEY (job_id, row_number)
);
